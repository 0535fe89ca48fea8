import { afterAll, describe, expect, it } from 'vitest';
import { freePort, scrapeValue, waitFor } from '../persistence/server-process.ts';
import { KEYS } from '../../demo/retailer.ts';
import { run, type Child } from './child.ts';
import { ROOT } from './ops-files.ts';

describe('npm run demo', () => {
  let demo: Child | null = null;

  afterAll(async () => {
    await demo?.stop('SIGKILL');
  });

  it('serves availability and orders under its simulator, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    demo = run(
      process.execPath,
      ['--import', 'tsx', 'demo/main.ts', '--port', String(port), '--skus', '300'],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } },
    );
    const d = demo;
    await d.waitForOutput(/demo: demo running/, 60_000);

    const res = await fetch(`${base}/v1/availability?channel=web&sku=DEMO-00001`, {
      headers: { authorization: `Bearer ${KEYS.web}` },
    });
    expect(res.status).toBe(200);
    const availability = (await res.json()) as { available: number };
    expect(availability.available).toBeGreaterThan(0);

    const metric = async (name: string): Promise<number> => (await scrapeValue(base, name)) ?? 0;
    await waitFor(
      async () => (await metric('stockflow_orders_placed_total')) > 0,
      30_000,
      'an order',
    );
    await waitFor(
      async () => (await metric('stockflow_fulfilment_answers_total')) > 0,
      30_000,
      'a location answer',
    );

    d.process.kill('SIGINT');
    expect(await d.exited()).toBe(0);
    expect(d.output()).toMatch(/demo: stopped \(server exit 0\): [1-9]\d* orders/);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
