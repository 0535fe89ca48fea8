import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  type Availability,
  type Command,
  type CommandResult,
  type StockPort,
} from '../../engine/index.ts';
import type { ShardRouter } from '../../gateway/shards/shard-router.ts';
import { ShardedStockPort } from '../../gateway/shards/sharded-stock-port.ts';

// The order service's stock port on a worker (issue #12): its own SKUs from its books, other
// shards' from what refresh fetched, and no allocation on another shard before this shard's
// journal holds the order that makes it.

const OK: CommandResult = { ok: true } as CommandResult;

/** This worker is shard 0 of 2; SKUs named `far-*` are shard 1's. */
function fakeRouter(asked: unknown[], sent: Command[]): ShardRouter {
  return {
    shard: 0,
    count: 2,
    ownerOf: (sku: string) => (sku.startsWith('far') ? 1 : 0),
    execute: (cmd: Command) => {
      sent.push(cmd);
      return Promise.resolve(OK);
    },
    ask: (_shard: number, _kind: string, payload: unknown) => {
      asked.push(payload);
      const skus = (payload as { skus: string[] }).skus;
      return Promise.resolve({
        offers: skus.map(() => ['dc1', 7, 'store1', 2]),
        held: skus.map(() => ['dc1', 3]),
        pickup: skus.map(() => ({ ok: true, available: 2 }) as unknown as Availability),
      });
    },
  } as unknown as ShardRouter;
}

function fakeLocal(durable: () => Promise<void>): StockPort {
  return {
    clock: new ManualClock(0),
    durable,
    forEachOffer: (_c: string, sku: string, visit: (l: string, n: number) => void) => {
      if (sku === 'near') visit('dc1', 4);
    },
    offerReader: (_c: string, skus: readonly string[]) => ({
      at: (_location: string, out: number[]) => {
        skus.forEach((sku, i) => (out[i] = sku === 'near' ? 4 : 0));
        return skus.includes('near');
      },
    }),
    orderHoldings: (_o: string, skus: Iterable<string>) =>
      new Map([...skus].map((sku) => [sku, new Map([['dc1', 1]])])),
    availability: () => ({ ok: true, available: 0 }) as unknown as Availability,
  } as unknown as StockPort;
}

function allocate(sku: string): Command {
  return {
    op: 'allocate',
    allocationId: `a-${sku}`,
    orderId: 'o-1',
    channel: 'web',
    sku,
    location: 'dc1',
    qty: 1,
  };
}

describe('ShardedStockPort', () => {
  it('sends an allocation on another shard only once this shard is durable', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sent: Command[] = [];
    const port = new ShardedStockPort(fakeLocal(() => gate));
    port.connect(fakeRouter([], sent));
    const far = port.execute(allocate('far-1'));
    const near = port.execute(allocate('near'));
    await new Promise((r) => setImmediate(r));
    // This shard's own SKU goes at once (one journal keeps its prefix); the other waits.
    expect(sent.map((c) => (c as { sku: string }).sku)).toEqual(['near']);
    release();
    await Promise.all([far, near]);
    expect(sent.map((c) => (c as { sku: string }).sku)).toEqual(['near', 'far-1']);
  });

  it('reads its own SKUs from its books and other shards’ from what refresh fetched', async () => {
    const asked: unknown[] = [];
    const port = new ShardedStockPort(fakeLocal(() => Promise.resolve()));
    port.connect(fakeRouter(asked, []));
    expect(port.refresh('web', ['near'], 'o-1', null)).toBeNull();
    const fetching = port.refresh('web', ['near', 'far-1', 'far-2'], 'o-1', 'store1');
    expect(fetching).not.toBeNull();
    await fetching;
    expect(asked).toEqual([
      { channel: 'web', skus: ['far-1', 'far-2'], orderId: 'o-1', pickupAt: 'store1' },
    ]);
    const offers: [string, number][] = [];
    port.forEachOffer('web', 'far-1', (l, n) => offers.push([l, n]));
    port.forEachOffer('web', 'near', (l, n) => offers.push([l, n]));
    expect(offers).toEqual([
      ['dc1', 7],
      ['store1', 2],
      ['dc1', 4],
    ]);
    const out: number[] = [];
    expect(port.offerReader('web', ['near', 'far-2']).at('dc1', out)).toBe(true);
    expect(out).toEqual([4, 7]);
    expect(port.availability('web', 'far-2', 'store1')).toMatchObject({ available: 2 });
    const held = port.orderHoldings('o-1', ['near', 'far-1']);
    expect([...held].map(([sku, at]) => [sku, [...at]])).toEqual([
      ['near', [['dc1', 1]]],
      ['far-1', [['dc1', 3]]],
    ]);
    // Holdings are fetched for one decision: read again without a refresh, only the books answer.
    expect([...port.orderHoldings('o-1', ['far-1'])]).toEqual([]);
  });

  it('keeps what it fetched for 30 s, so memory follows the SKUs ordered lately', async () => {
    let now = 0;
    const port = new ShardedStockPort(
      fakeLocal(() => Promise.resolve()),
      () => now,
    );
    port.connect(fakeRouter([], []));
    const offersOf = (sku: string): string[] => {
      const seen: string[] = [];
      port.forEachOffer('web', sku, (l) => seen.push(l));
      return seen;
    };
    await port.refresh('web', ['far-1'], null, null);
    now = 29_000;
    await port.refresh('web', ['far-2'], null, null);
    expect(offersOf('far-1')).toEqual(['dc1', 'store1']);
    now = 31_000;
    await port.refresh('web', ['far-3'], null, null);
    // far-1 was fetched 31 s ago: dropped at this fetch; far-2 (2 s ago) and far-3 stay.
    expect(offersOf('far-1')).toEqual([]);
    expect(offersOf('far-2')).toEqual(['dc1', 'store1']);
    expect(offersOf('far-3')).toEqual(['dc1', 'store1']);
  });
});
