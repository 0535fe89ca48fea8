import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type SkuState } from '../../engine/index.ts';
import { STATE_FORMAT } from '../../engine/engine-state.ts';
import { FileStore, Snapshotter } from '../../persistence/index.ts';
import { comparable, openFileEngine, silent, tempDir, WORLD } from './engine-fixture.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** 2026-01-01 at hh:mm UTC in epoch ms. */
const at = (hh: number, mm: number): number => Date.UTC(2026, 0, 1, hh, mm);

const openEngine = (dir: string, clock: ManualClock) => openFileEngine(dir, clock, cleanups);

/** A snapshotter that snapshots only when asked (`take`), 10 books a chunk. */
function snapshotterOf(opened: Awaited<ReturnType<typeof openEngine>>, clock: ManualClock) {
  const snapshotter = new Snapshotter(
    opened.engine,
    opened.store,
    { everyRecords: 1e9, everyMs: 1e9, chunkBooks: 10 },
    clock,
    silent,
    0,
  );
  cleanups.push(() => snapshotter.stop());
  return snapshotter;
}

describe('snapshot state formats', () => {
  it('splits a SKU holding more reservations than a chunk takes over several chunks (format 3), and recovers the same state while reserves go on', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock(at(9, 0));
    const first = await openEngine(dir, clock);
    const hot = { sku: 'SKU-7', location: 'DC1' };
    await first.engine.execute({ op: 'setOnHand', ...hot, onHand: 100_000, asOf: at(9, 0) });
    const reserve = (i: number) =>
      first.engine.execute({
        op: 'reserve',
        reservationId: `r${i}`,
        channel: 'web',
        sku: hot.sku,
        qty: 1,
      });
    // More than two chunks' worth (CHUNK_RESERVATIONS, 5,000) on the one SKU.
    await Promise.all(Array.from({ length: 12_000 }, (_, i) => reserve(i)));
    const snapshotter = snapshotterOf(first, clock);
    // Reserves and releases keep coming while the chunks are written.
    const taking = snapshotter.take();
    const during = [];
    for (let i = 0; i < 200; i++) {
      during.push(reserve(20_000 + i));
      during.push(first.engine.execute({ op: 'release', reservationId: `r${i}` }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await taking).not.toBeNull();
    await Promise.all(during);
    await first.engine.durable();
    const before = first.engine.storage.exportState();
    await first.engine.stop();
    await first.store.close();

    const second = await openEngine(dir, new ManualClock(at(9, 0)));
    expect(second.report.snapshotStartSeq).not.toBeNull();
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(before));
    expect(second.engine.position(hot.sku, hot.location)).toEqual(
      first.engine.position(hot.sku, hot.location),
    );
  });

  it('keeps the changes since the last feed in a snapshot (format 2): a late count after recovery is still corrected', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock(at(9, 0));
    const first = await openEngine(dir, clock);
    const sku = { sku: 'SKU-1', location: 'DC1' };
    await first.engine.execute({ op: 'setOnHand', ...sku, onHand: 10, asOf: at(9, 0) });
    clock.set(at(10, 5));
    await first.engine.execute({
      op: 'allocate',
      allocationId: 'a1',
      orderId: 'o1',
      channel: 'web',
      ...sku,
      qty: 2,
    });
    await first.engine.execute({ op: 'ship', shipmentId: 's1', orderId: 'o1', ...sku, qty: 2 });
    const snapshotter = snapshotterOf(first, clock);
    const info = await snapshotter.take();
    expect(info).not.toBeNull();
    await first.engine.durable();
    const before = first.engine.storage.exportState();
    await first.engine.stop();
    await first.store.close();

    // Recovery starts from the snapshot: the shipment's record is not replayed, so the ledger
    // can only come from the snapshot itself.
    const second = await openEngine(dir, new ManualClock(at(10, 10)));
    expect(second.report.snapshotStartSeq).not.toBeNull();
    expect(second.report.recordsReplayed).toBe(0);
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(before));
    await second.engine.execute({ op: 'setOnHand', ...sku, onHand: 10, asOf: at(10, 0) });
    expect(second.engine.position('SKU-1', 'DC1')?.onHand).toBe(8);
  });

  it('still recovers from a snapshot written in format 1, before positions kept their changes', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent);
    await store.open();
    const writer = await store.beginSnapshot({
      format: 1,
      takenAt: at(9, 0),
      startSeq: 5,
      metaLsn: 0,
      rules: WORLD.rules,
      locations: WORLD.locations,
    });
    const v1: SkuState = {
      sku: 'SKU-1',
      group: '',
      lsn: 4,
      positions: [{ location: 'DC1', onHand: 10, feedAsOf: at(9, 0), orders: [['o1', 2]] }],
      reservations: [],
      recentOps: [],
    };
    await writer.writeChunk([v1]);
    await writer.commit(4);
    await store.close();

    const { engine, report } = await openEngine(dir, new ManualClock(at(10, 0)));
    expect(report.snapshotStartSeq).toBe(5);
    expect(engine.position('SKU-1', 'DC1')).toMatchObject({ onHand: 10, allocated: 2 });
    const state = engine.storage.exportState();
    expect(state.format).toBe(STATE_FORMAT);
    expect(state.skus.find((s) => s.sku === 'SKU-1')?.positions[0]?.sinceFeed).toBeNull();
  });
});
