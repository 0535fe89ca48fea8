import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import type { OrderResult } from '../../orders/index.ts';
import type { PeerHandler, ShardRouter } from '../../gateway/shards/shard-router.ts';
import {
  fulfilmentShardOf,
  orderShardOf,
  ShardedOrders,
} from '../../gateway/shards/sharded-orders.ts';
import { order, orderHarness, type OrderHarness } from '../orders/order-fixture.ts';

// ShardedOrders (issue #12) over two real order services, each with its own engine, joined by a
// router that hands every request to the other side's handlers as a worker's link would (the
// payloads copied, as msgpack copies them): which service owns what, and what is gathered.

class LinkedRouter {
  readonly count = 2;
  readonly handlers = new Map<string, PeerHandler>();
  peer: LinkedRouter | null = null;
  constructor(readonly shard: number) {}
  handle(kind: string, handler: PeerHandler): void {
    this.handlers.set(kind, handler);
  }
  ask<T>(_shard: number, kind: string, payload: unknown): Promise<T> {
    return new Promise<T>((resolve) => {
      setImmediate(() => {
        this.peer?.handlers.get(kind)?.(this.shard, structuredClone(payload), (value) => {
          setImmediate(() => {
            resolve(structuredClone(value) as T);
          });
        });
      });
    });
  }
  tell(_shard: number, kind: string, payload: unknown): void {
    setImmediate(() => this.peer?.handlers.get(kind)?.(this.shard, structuredClone(payload), null));
  }
  tellPeers(kind: string, payload: unknown): void {
    this.tell(1 - this.shard, kind, payload);
  }
}

interface Pair {
  readonly h: [OrderHarness, OrderHarness];
  readonly o: [ShardedOrders, ShardedOrders];
}

async function pair(): Promise<Pair> {
  const clock = new ManualClock(Date.UTC(2026, 11, 2, 12));
  const h: [OrderHarness, OrderHarness] = [orderHarness({ clock }), orderHarness({ clock })];
  const r = [new LinkedRouter(0), new LinkedRouter(1)];
  (r[0] as LinkedRouter).peer = r[1] as LinkedRouter;
  (r[1] as LinkedRouter).peer = r[0] as LinkedRouter;
  const o = h.map((x, k) => new ShardedOrders(x.orders, r[k] as unknown as ShardRouter)) as [
    ShardedOrders,
    ShardedOrders,
  ];
  for (const x of h) await x.stock('A', { paris: 50, lyon: 50 });
  return { h, o };
}

/** The next order id that hashes to shard `k` of 2. */
let next = 1;
function idOn(k: number): string {
  for (;;) {
    const id = `so-${next++}`;
    if (orderShardOf(id, 2) === k) return id;
  }
}

function body(orderId: string, qty = 1): Record<string, unknown> {
  return { ...order([['A', qty]]), orderId };
}

function placedOk(r: OrderResult): NonNullable<OrderResult['order']> {
  if (!r.ok) throw new Error(`${r.code} ${r.message}`);
  return r.order;
}

describe('ShardedOrders over two order services', () => {
  it('places an order on the service its id hashes to, whichever worker takes it', async () => {
    const { h, o } = await pair();
    const a = idOn(0);
    const b = idOn(1);
    placedOk(await o[1].place(body(a), null, null));
    placedOk(await o[0].place(body(b), null, null));
    expect(h[0].orders.get(a)?.orderId).toBe(a);
    expect(h[1].orders.get(a)).toBeNull();
    expect(h[1].orders.get(b)?.orderId).toBe(b);
    // Read, cancelled and answered from either side.
    expect((await o[1].get(a))?.orderId).toBe(a);
    expect((await o[0].get(b))?.orderId).toBe(b);
    const fid = (await o[0].get(b))?.fulfilments[0]?.fulfilmentId as string;
    expect(fulfilmentShardOf(fid, 2)).toBe(1);
    expect(await o[0].orderOfFulfilment(fid)).toBe(b);
    const shipped = await o[0].fulfilmentAnswer(fid, { type: 'shipped', tracking: 'T' }, null);
    expect(placedOk(shipped).status).toBe('shipped');
    const cancelled = await o[1].cancel(a, {}, null);
    expect(placedOk(cancelled).status).toBe('cancelled');
    // What no shard knows is NOT_FOUND, answered once.
    const unknown = await o[0].cancel(idOn(1), {}, null);
    expect(unknown).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  it('keeps one order per Idempotency-Key across both services, also when they race', async () => {
    const { h, o } = await pair();
    const first = idOn(0);
    const other = idOn(1);
    const [x, y] = await Promise.all([
      o[1].place(body(first), 'key-1', null),
      o[0].place(body(other), 'key-1', null),
    ]);
    const answers = [x, y];
    expect(answers.filter((r) => r.ok)).toHaveLength(1);
    expect(answers.filter((r) => !r.ok)).toMatchObject([{ code: 'CONFLICT', reason: 'ID_REUSED' }]);
    const winner = (answers.find((r) => r.ok) as { order: { orderId: string } }).order.orderId;
    // The same key again, for a third id on either shard: refused, naming the winner.
    for (const side of o) {
      const again = await side.place(body(idOn(0)), 'key-1', null);
      expect(again).toMatchObject({ ok: false, code: 'CONFLICT' });
      expect(again.ok ? '' : again.message).toContain(winner);
    }
    // The key with its own order again is the order, a duplicate.
    const repeat = await o[1].place(body(winner), 'key-1', null);
    expect(repeat).toMatchObject({ ok: true, duplicate: true });
    expect(h[0].orders.stats().placed + h[1].orders.stats().placed).toBe(1);
  });

  it('gathers the newest orders, the stats and the reconciliation of both services', async () => {
    const { h, o } = await pair();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = idOn(i % 2);
      ids.push(id);
      placedOk(await o[i % 3 === 0 ? 0 : 1].place(body(id, 1 + (i % 2)), null, null));
      h[0].clock.advance(1_000);
    }
    const recent = await o[0].recent(4);
    expect(recent.map((v) => v.orderId)).toEqual(ids.slice(2).reverse());
    const stats = await o[1].stats();
    expect(stats.placed).toBe(6);
    expect(stats.byStatus.get('fulfilment_requested')).toBe(6);
    const outboxes = h.map((x) => x.orders.stats().outbox as unknown as Record<string, number>);
    for (const [k, v] of Object.entries(stats.outbox as unknown as Record<string, number>)) {
      expect(v).toBe((outboxes[0]?.[k] ?? 0) + (outboxes[1]?.[k] ?? 0));
    }
    // Ship every order: the day's reconciliation sums both services per location.
    for (const id of ids) {
      const view = await o[1].get(id);
      for (const f of view?.fulfilments ?? []) {
        placedOk(await o[0].fulfilmentAnswer(f.fulfilmentId, { type: 'shipped' }, null));
      }
    }
    const day = new Date(h[0].clock.now()).toISOString().slice(0, 10);
    const both = await o[0].reconciliation(day, null);
    const [p0, p1] = [h[0].orders.reconciliation(day, null), h[1].orders.reconciliation(day, null)];
    expect(p0.rows.length > 0 && p1.rows.length > 0).toBe(true);
    const units = (rows: readonly { unitsShipped: number }[]): number =>
      rows.reduce((n, r) => n + r.unitsShipped, 0);
    expect(units(both.rows)).toBe(units(p0.rows) + units(p1.rows));
    expect(units(both.rows)).toBe(9);
    expect(new Set(both.rows.map((r) => `${r.location}/${r.currency}`)).size).toBe(
      both.rows.length,
    );
  });
});
