import { describe, expect, it } from 'vitest';
import { order, orderHarness } from './order-fixture.ts';

describe('the newest orders (GET /v1/orders, the console)', () => {
  it('lists the newest first, each once, at most 200', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 1_000 });
    const ids: string[] = [];
    for (let i = 0; i < 205; i++) {
      const r = await h.placed(order([['A', 1]]));
      ids.push(r.order.orderId);
    }
    // A repeat changes the order in place: it is not listed twice, nor moved up.
    const again = await h.place(order([['A', 1]], { orderId: ids[203] }));
    expect(again.ok).toBe(true);
    const recent = h.orders.recent(500).map((o) => o.orderId);
    expect(recent).toHaveLength(200);
    expect(recent.slice(0, 3)).toEqual([ids[204], ids[203], ids[202]]);
    expect(recent.at(-1)).toBe(ids[5]);
    expect(h.orders.recent(2).map((o) => o.orderId)).toEqual([ids[204], ids[203]]);
    await h.idle();
  });
});
