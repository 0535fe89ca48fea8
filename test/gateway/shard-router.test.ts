import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  StockEngine,
  type AvailabilityDelta,
  type CommandResult,
} from '../../engine/index.ts';
import { shardOf } from '../../gateway/shards/layout.ts';
import { ShardRouter } from '../../gateway/shards/shard-router.ts';
import { LOCATIONS, RULES } from '../engine/fixtures.ts';

// Two shards in one thread: a StockEngine each, their ShardRouters joined by a MessageChannel,
// as two workers' are (gateway/shards/worker-main.ts). What either router answers must be what
// one engine holding every SKU would answer.

const SKUS = Array.from({ length: 12 }, (_, i) => `s${i}`);
const ON = [0, 1].map((k) => SKUS.filter((s) => shardOf(s, 2) === k));

function routers(n: number): { routers: ShardRouter[]; engines: StockEngine[] } {
  const clock = new ManualClock();
  const engines = Array.from(
    { length: n },
    () =>
      new StockEngine({
        rules: RULES,
        locations: LOCATIONS,
        products: SKUS.map((sku) => ({ sku })),
        clock,
        conflationMs: 5,
      }),
  );
  const ports: (MessagePort | null)[][] = engines.map(() => engines.map(() => null));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const { port1, port2 } = new MessageChannel();
      (ports[i] as (MessagePort | null)[])[j] = port1;
      (ports[j] as (MessagePort | null)[])[i] = port2;
    }
  }
  return {
    routers: engines.map((e, k) => new ShardRouter(e, k, n, ports[k] as (MessagePort | null)[])),
    engines,
  };
}

let open: ShardRouter[] = [];
afterEach(async () => {
  for (const r of open) {
    await r.stop();
    r.closeLinks();
  }
  open = [];
});

function start(): { a: ShardRouter; b: ShardRouter; engines: StockEngine[] } {
  const made = routers(2);
  open = made.routers;
  return {
    a: made.routers[0] as ShardRouter,
    b: made.routers[1] as ShardRouter,
    engines: made.engines,
  };
}

function ok(r: CommandResult): void {
  expect(r.ok, JSON.stringify(r)).toBe(true);
}

describe('ShardRouter', () => {
  it('runs each command on the shard that owns its SKU, whichever router took it', async () => {
    const { a, b, engines } = start();
    expect(ON[0]!.length).toBeGreaterThan(0);
    expect(ON[1]!.length).toBeGreaterThan(0);
    for (const sku of SKUS) {
      ok(await a.execute({ op: 'setOnHand', sku, location: 'S1', onHand: 10, asOf: 1 }));
    }
    for (const [i, sku] of SKUS.entries()) {
      const via = i % 2 === 0 ? a : b;
      const r = await via.execute({
        op: 'reserve',
        reservationId: `r${i}`,
        channel: 'web',
        sku,
        qty: 3,
        location: 'S1',
      });
      ok(r);
    }
    for (const sku of SKUS) {
      const owner = engines[shardOf(sku, 2)] as StockEngine;
      const other = engines[1 - shardOf(sku, 2)] as StockEngine;
      expect(owner.position(sku, 'S1')).toMatchObject({ onHand: 10, reserved: 3 });
      expect(other.position(sku, 'S1')).toBeNull();
      // Reads answer the same through either router.
      expect(await a.availability('web', sku, 'S1')).toMatchObject({ available: 7 });
      expect(await b.availability('web', sku, 'S1')).toMatchObject({ available: 7 });
    }
    expect(a.forwarded + b.forwarded).toBeGreaterThan(0);
  });

  it('releases and confirms a reservation through either router, and says NOT_FOUND once', async () => {
    const { a, b } = start();
    const sku = ON[1]![0] as string;
    ok(await a.execute({ op: 'setOnHand', sku, location: 'S1', onHand: 5, asOf: 1 }));
    ok(await a.execute({ op: 'reserve', reservationId: 'x', channel: 'web', sku, qty: 2 }));
    ok(await b.execute({ op: 'reserve', reservationId: 'y', channel: 'web', sku, qty: 1 }));
    // 'x' was made through a (the directory knows it); 'y' through b, so a must ask every shard.
    ok(await b.execute({ op: 'release', reservationId: 'x' }));
    ok(await a.execute({ op: 'confirm', reservationId: 'y', orderId: 'o1' }));
    const missing = await a.execute({ op: 'release', reservationId: 'never' });
    expect(missing).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(await a.availability('web', sku, 'S1')).toMatchObject({ available: 4 });
  });

  it('releases a reservation whose reserve is still on its way, behind it', async () => {
    const { a } = start();
    const sku = ON[0]![0] as string;
    ok(await a.execute({ op: 'setOnHand', sku, location: 'S1', onHand: 5, asOf: 1 }));
    // Both sent before either is answered: the release must queue behind the reserve on the
    // shard that owns the SKU, as with one engine, not go looking for it elsewhere.
    const reserve = a.execute({ op: 'reserve', reservationId: 'q', channel: 'web', sku, qty: 2 });
    const release = a.execute({ op: 'release', reservationId: 'q' });
    ok(await reserve);
    ok(await release);
    expect(await a.availability('web', sku, 'S1')).toMatchObject({ available: 5 });
  });

  it('finds a reservation among three shards, asked through a router that never saw it', async () => {
    const made = routers(3);
    open = made.routers;
    const [a, b, c] = made.routers as [ShardRouter, ShardRouter, ShardRouter];
    const sku = SKUS.find((s) => shardOf(s, 3) === 2) as string;
    ok(await a.execute({ op: 'setOnHand', sku, location: 'S1', onHand: 5, asOf: 1 }));
    // Made through a: a's directory knows shard 2; b's does not, so b asks every shard.
    ok(await a.execute({ op: 'reserve', reservationId: 'm', channel: 'web', sku, qty: 2 }));
    ok(await a.execute({ op: 'reserve', reservationId: 'n', channel: 'web', sku, qty: 1 }));
    ok(await b.execute({ op: 'release', reservationId: 'm' }));
    ok(await a.execute({ op: 'confirm', reservationId: 'n', orderId: 'o2' }));
    expect(await b.execute({ op: 'release', reservationId: 'none' })).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await c.availability('web', sku, 'S1')).toMatchObject({ available: 4 });
  });

  it('applies master data and rules on both shards', async () => {
    const { a, b, engines } = start();
    a.upsertLocations([{ id: 'S9', type: 'store' }]);
    b.upsertProducts([{ sku: 'new-sku' }]);
    await a.durable();
    await b.durable();
    for (const e of engines) {
      expect(e.location('S9')).not.toBeNull();
      expect(e.product('new-sku')).not.toBeNull();
    }
    b.setRules({ channels: [...RULES.channels, { id: 'extra', priority: 9 }] });
    await b.settle();
    await a.settle();
    for (const e of engines) {
      expect(e.rules().rules.channels.map((c) => c.id)).toContain('extra');
    }
  });

  it('splits a location snapshot by shard and zeroes each shard’s own omissions', async () => {
    const { a, b } = start();
    const first = await a.replaceLocationStock(
      'S2',
      10,
      SKUS.map((sku) => ({ sku, onHand: 4 })),
    );
    expect(first).toMatchObject({ applied: SKUS.length, zeroed: 0, rejected: 0 });
    const kept = [ON[0]![0] as string, ON[1]![0] as string];
    const second = await b.replaceLocationStock(
      'S2',
      20,
      kept.map((sku) => ({ sku, onHand: 6 })),
    );
    // Applied counts the zeroing writes too, as one engine's summary does.
    expect(second).toMatchObject({ applied: SKUS.length, zeroed: SKUS.length - 2, rejected: 0 });
    expect((await a.skusAt('S2')).sort()).toEqual([...SKUS].sort());
    expect(await a.availability('web', kept[1] as string, 'S2')).toMatchObject({ available: 6 });
    expect(await b.availability('web', ON[0]![1] as string, 'S2')).toMatchObject({ available: 0 });
  });

  it('pushes a remote topic’s deltas to the router watching it, in order', async () => {
    const { a, b, engines } = start();
    const sku = ON[1]![0] as string;
    ok(await a.execute({ op: 'setOnHand', sku, location: 'S1', onHand: 1, asOf: 1 }));
    const seen: AvailabilityDelta[] = [];
    a.onDeltas((deltas) => seen.push(...deltas));
    const snap = await a.watch('web', sku, 'S1');
    expect(snap).toMatchObject({ ok: true, available: 1 });
    for (let i = 2; i <= 6; i++) {
      ok(await b.execute({ op: 'setOnHand', sku, location: 'S1', onHand: i, asOf: i }));
      engines[1]!.flushDeltas();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await expect.poll(() => seen.at(-1)?.available).toBe(6);
    const seqs = seen.map((d) => d.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    // Unwatched: the owner stops pushing.
    a.unwatch('web', sku, 'S1');
    const count = seen.length;
    ok(await b.execute({ op: 'setOnHand', sku, location: 'S1', onHand: 9, asOf: 9 }));
    engines[1]!.flushDeltas();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toHaveLength(count);
  });
});
