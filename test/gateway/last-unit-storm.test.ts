import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, loadStock, start, type Message, type Running } from './harness.ts';

let r: Running;
beforeAll(async () => {
  r = await start();
  await loadStock(r, 'dc1', { 'sku-1': 60 }, 1);
  await loadStock(r, 'store1', { 'sku-1': 40 }, 1);
});
afterAll(async () => {
  await r.stop();
});

describe('the last-unit storm', () => {
  it('grants exactly the stock to 2,000 concurrent reserves from 50 connections', async () => {
    const connections = 50;
    const perConnection = 40;
    const clients = await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        Client.connect(r.port, { key: KEYS.web, binary: i % 2 === 0 }),
      ),
    );
    const watcher = await Client.connect(r.port, { key: KEYS.web });
    await watcher.request({ op: 'subscribe', topics: ['availability:web:sku-1'] });

    // Every frame is on the wire before any reply comes back.
    const replies: Promise<Message>[] = [];
    clients.forEach((c, ci) => {
      for (let i = 0; i < perConnection; i++) {
        replies.push(
          c.request({
            op: 'reserve',
            reservationId: `storm-${ci}-${i}`,
            channel: 'web',
            sku: 'sku-1',
            qty: 1,
          }),
        );
      }
    });
    const answers = await Promise.all(replies);
    const counts = new Map<string, number>();
    for (const a of answers) {
      const key = a.op === 'reserve' ? 'granted' : (a.code as string);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(answers).toHaveLength(2_000);
    expect(counts.get('granted')).toBe(100);
    expect((counts.get('INSUFFICIENT_STOCK') ?? 0) + (counts.get('BUSY') ?? 0)).toBe(1_900);

    for (const location of ['dc1', 'store1']) {
      const p = r.engine.position('sku-1', location);
      expect(p).not.toBeNull();
      expect(p!.reserved).toBe(p!.onHand);
      expect(p!.onHand - p!.reserved - p!.allocated).toBeGreaterThanOrEqual(0);
    }
    await watcher.delta('availability:web:sku-1', (a) => a === 0);
    await Promise.all([...clients, watcher].map((c) => c.close()));
  });
});
