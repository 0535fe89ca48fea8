import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type JournalRecord, type SkuState } from '../../engine/index.ts';
import { FileStore, recover, Snapshotter } from '../../persistence/index.ts';
import { newEngine, silent, tempDir, WORLD } from './engine-fixture.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openStore(dir: string): Promise<FileStore> {
  const store = new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent);
  cleanups.push(() => store.close());
  await store.open();
  return store;
}

async function openEngine(dir: string) {
  const store = await openStore(dir);
  const engine = newEngine(new ManualClock());
  cleanups.push(() => engine.stop());
  await recover(engine, store, silent);
  return { store, engine };
}

// A snapshot and journal as the version before product attributes and location channels wrote
// them: books with a group only, locations with id, type and name, master-data records likewise.
const OLD_BOOK: SkuState = {
  sku: 'OLD-1',
  group: 'shoes',
  lsn: 3,
  positions: [{ location: 'S1', onHand: 7, feedAsOf: 1, orders: [] }],
  reservations: [],
  recentOps: [],
};
const OLD_RECORDS: JournalRecord[] = [
  { seq: 4, at: 10, entry: { type: 'products', products: [{ sku: 'OLD-2', group: 'bags' }] } },
  { seq: 5, at: 11, entry: { type: 'locations', locations: [{ id: 'S9', type: 'store' }] } },
  {
    seq: 6,
    at: 12,
    entry: {
      type: 'command',
      cmd: { op: 'setOnHand', sku: 'OLD-2', location: 'S9', onHand: 4, asOf: 2 },
    },
  },
];

describe('a data directory written before master-data attributes', () => {
  it('loads its snapshot and journal, then keeps the new fields across a restart', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const old = await openStore(dir);
    const writer = await old.beginSnapshot({
      format: 1,
      takenAt: 1,
      startSeq: 4,
      metaLsn: 2,
      rules: WORLD.rules,
      locations: [
        { id: 'S1', type: 'store', name: 'S1' },
        { id: 'DC1', type: 'dc', name: 'DC1' },
      ],
    });
    await writer.writeChunk([OLD_BOOK]);
    await writer.commit(3);
    await old.append(OLD_RECORDS);
    await old.close();

    const first = await openEngine(dir);
    expect(first.engine.product('OLD-1')).toEqual({ sku: 'OLD-1', group: 'shoes' });
    expect(first.engine.product('OLD-2')).toEqual({ sku: 'OLD-2', group: 'bags' });
    expect(first.engine.location('S9')).toEqual({ id: 'S9', type: 'store', name: 'S9' });
    expect(first.engine.availability('mkt', 'OLD-1', 'S1')).toMatchObject({ available: 7 });
    expect(first.engine.availability('web', 'OLD-2')).toMatchObject({ available: 4 });

    // New master data, journaled; then a snapshot in the new shape, and more journal after it.
    first.engine.upsertProducts([
      { sku: 'OLD-1', group: 'shoes', attributes: { color: 'red' }, prices: { EUR: 1999 } },
    ]);
    first.engine.upsertLocations([{ id: 'S1', type: 'store', channels: ['web'], capacity: 30 }]);
    await first.engine.durable();
    const snapshotter = new Snapshotter(
      first.engine,
      first.store,
      { everyRecords: 1e9, everyMs: 1e9, chunkBooks: 10 },
      new ManualClock(),
      silent,
      0,
    );
    await snapshotter.take();
    await snapshotter.stop();
    first.engine.upsertLocations([{ id: 'S9', type: 'store', pickup: false }]);
    await first.engine.durable();
    await first.engine.stop();
    await first.store.close();

    const second = await openEngine(dir);
    expect(second.engine.product('OLD-1')).toEqual({
      sku: 'OLD-1',
      group: 'shoes',
      attributes: { color: 'red' },
      prices: { EUR: 1999 },
    });
    expect(second.engine.location('S1')).toMatchObject({ channels: ['web'], capacity: 30 });
    expect(second.engine.location('S9')).toMatchObject({ pickup: false });
    expect(second.engine.availability('mkt', 'OLD-1', 'S1')).toMatchObject({ available: 0 });
    expect(second.engine.availability('web', 'OLD-2', 'S9')).toMatchObject({ available: 0 });
    expect(second.engine.availability('web', 'OLD-2')).toMatchObject({ available: 4 });
  });
});
