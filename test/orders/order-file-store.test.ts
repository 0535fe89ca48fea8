import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import { FileStore, recover, Snapshotter } from '../../persistence/index.ts';
import { silent, tempDir } from '../persistence/engine-fixture.ts';
import { holdings, order, orderHarness, type OrderHarness } from './order-fixture.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** An order harness on the embedded file store in `dir`, recovered from what it holds. */
async function open(
  dir: string,
  clock: ManualClock,
): Promise<{ h: OrderHarness; store: FileStore }> {
  const store = new FileStore({ dir, fsync: 'always', segmentBytes: 1024 * 1024 }, silent);
  await store.open();
  const h = orderHarness({ clock, start: false });
  await recover(h.engine, store, silent);
  h.orders.start();
  return { h, store };
}

describe('orders on the file store', () => {
  it('come back after a restart from snapshot and journal, and go on where they were', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const first = await open(dir, clock);
    await first.h.stock('A', { paris: 6, lyon: 6 });
    const a = await first.h.placed(order([['A', 2]]), 'key-a');
    // A snapshot in the middle: orders are in its chunks, later events in the journal tail.
    const snapshotter = new Snapshotter(
      first.h.engine,
      first.store,
      { everyRecords: 1e9, everyMs: 1e9, chunkBooks: 1 },
      clock,
      silent,
      0,
    );
    expect(await snapshotter.take()).not.toBeNull();
    const fa = a.order.fulfilments[0]?.fulfilmentId ?? '';
    await first.h.orders.fulfilmentAnswer(fa, { type: 'rejected', reason: 'flood' }, 'paris');
    const b = await first.h.placed(order([['A', 1]]));
    await first.h.idle();
    const before = [first.h.orders.get(a.order.orderId), first.h.orders.get(b.order.orderId)];
    await first.h.orders.stop();
    await first.h.engine.stop();
    await first.store.close();

    const second = await open(dir, clock);
    expect([second.h.orders.get(a.order.orderId), second.h.orders.get(b.order.orderId)]).toEqual(
      before,
    );
    expect(holdings(second.h, a.order.orderId)).toEqual({ 'A@lyon': 2 });
    // The idempotency key survived, and the moved fulfilment can be answered.
    const again = await second.h.place(order([['A', 5]]), 'key-a');
    expect(again).toMatchObject({ ok: false, code: 'CONFLICT' });
    const moved = before[0]?.fulfilments[1]?.fulfilmentId ?? '';
    const shipped = await second.h.orders.fulfilmentAnswer(
      moved,
      { type: 'shipped', tracking: 'T' },
      'lyon',
    );
    expect(shipped.ok).toBe(true);
    expect(second.h.engine.position('A', 'lyon')).toMatchObject({ onHand: 4, allocated: 0 });
    expect(second.h.engine.position('A', 'paris')).toMatchObject({ onHand: 6, allocated: 1 });
    await second.h.orders.stop();
    await second.h.engine.stop();
    await second.store.close();
  });
});
