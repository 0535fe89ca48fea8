import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StockEngine } from '../../engine/index.ts';
import { createGateway } from '../../gateway/index.ts';
import { gatewayConfig, Client, KEYS, loadStock, RULES, start, type Message } from './harness.ts';

describe('graceful close', () => {
  it('answers everything in flight, publishes the last deltas, then ends sockets with 1001', async () => {
    // Deltas would only go out after a minute: the ones seen here come from the shutdown flush.
    const r = await start({ engine: { conflationMs: 60_000 } });
    await loadStock(r, 'dc1', { 'sku-1': 50 }, 1);
    const watcher = await Client.connect(r.port, { key: KEYS.web, binary: true });
    await watcher.request({ op: 'subscribe', topics: ['availability:web:sku-1'] });
    const buyer = await Client.connect(r.port, { key: KEYS.web });

    const replies: Promise<Message>[] = [];
    for (let i = 0; i < 200; i++) {
      replies.push(
        buyer.request({
          op: 'reserve',
          reservationId: `g-${i}`,
          channel: 'web',
          sku: 'sku-1',
          qty: 1,
        }),
      );
    }
    await replies[0];
    const closing = r.gateway.close();
    expect(r.gateway.close()).toBe(closing);
    const answers = await Promise.all(replies);
    await closing;

    const granted = answers.filter((a) => a.op === 'reserve').length;
    const other = answers.filter((a) => a.op === 'error').map((a) => a.code as string);
    expect(granted + other.length).toBe(200);
    expect(other.every((c) => c === 'INSUFFICIENT_STOCK' || c === 'UNAVAILABLE')).toBe(true);
    expect(granted).toBeGreaterThan(0);
    const finalValue = 50 - Math.min(granted, 50);
    await watcher.delta('availability:web:sku-1', (a) => a === finalValue);

    expect((await watcher.closed).code).toBe(1001);
    expect((await buyer.closed).code).toBe(1001);
    // Nothing listens any more.
    await expect(fetch(`${r.base}/healthz`)).rejects.toThrow();
    await Client.connect(r.port).then(
      () => {
        throw new Error('connected after close');
      },
      (error: unknown) => {
        expect(error).toBeInstanceOf(Error);
      },
    );
    await r.engine.stop();
  });

  it('reports not ready while the readiness hook says so', async () => {
    const engine = new StockEngine({ rules: RULES });
    let ready = false;
    const gateway = createGateway(engine, gatewayConfig(), pino({ level: 'silent' }), {
      readiness: () => ({ ready, detail: { journal: ready ? 'caught up' : 'replaying' } }),
    });
    const { port } = await gateway.listen();
    const notYet = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(notYet.status).toBe(503);
    expect(await notYet.json()).toEqual({
      ready: false,
      closing: false,
      detail: { journal: 'replaying' },
    });
    ready = true;
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await gateway.close();
    await engine.stop();
  });
});
