import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import { Snapshotter } from '../../persistence/index.ts';
import { comparable, openFileEngine, silent, tempDir } from './engine-fixture.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const openEngine = (dir: string, clock: ManualClock) => openFileEngine(dir, clock, cleanups);

/** Lets a due snapshot start and finish (its chunks yield turns, its writes go to disk). */
async function settle(snapshotter: Snapshotter, taken: number): Promise<void> {
  for (let i = 0; i < 200 && snapshotter.stats.taken < taken; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The records trigger waits for `growthPercent` of what the last snapshot held: a snapshot costs
 * in proportion to the state, so taking one every `everyRecords` records would cost more per
 * record the bigger the state grows.
 */
describe('when a snapshot is due', () => {
  async function run(growthPercent: number) {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const opened = await openEngine(dir, clock);
    const { engine } = opened;
    const snapshotter = new Snapshotter(
      engine,
      opened.store,
      { everyRecords: 50, growthPercent, everyMs: 1e12, chunkBooks: 10 },
      clock,
      silent,
      0,
    );
    cleanups.push(() => snapshotter.stop());
    snapshotter.start();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        engine.execute({
          op: 'setOnHand',
          sku: `SKU-${i}`,
          location: 'DC1',
          onHand: 1_000,
          asOf: 1,
        }),
      ),
    );
    let next = 0;
    const reserve = async (n: number): Promise<void> => {
      await Promise.all(
        Array.from({ length: n }, () => {
          const i = next++;
          return engine.execute({
            op: 'reserve',
            reservationId: `r${i}`,
            channel: 'web',
            sku: `SKU-${i % 50}`,
            qty: 1,
          });
        }),
      );
      await engine.durable();
      // The snapshotter looks once a second.
      clock.advance(1_000);
    };
    return { engine, snapshotter, reserve, dir, clock };
  }

  it('waits, past snapshotEveryRecords, for as many records as the last snapshot held', async () => {
    const { engine, snapshotter, reserve, dir } = await run(100);
    await reserve(400);
    await settle(snapshotter, 1);
    expect(snapshotter.stats.taken).toBe(1);
    // 50 positions and 400 reservations.
    expect(snapshotter.stats.lastSize).toBe(450);
    expect(snapshotter.threshold).toBe(450);

    // 200 records: four times snapshotEveryRecords, under half the state.
    await reserve(200);
    await settle(snapshotter, 2);
    expect(snapshotter.stats.taken).toBe(1);

    await reserve(260);
    await settle(snapshotter, 2);
    expect(snapshotter.stats.taken).toBe(2);
    expect(snapshotter.stats.lastSize).toBe(50 + 860);

    // What the snapshots and journal hold recovers the same state.
    await engine.durable();
    const before = engine.storage.exportState();
    await snapshotter.stop();
    const again = await openEngine(dir, new ManualClock(Date.UTC(2026, 0, 1)));
    expect(again.report.snapshotStartSeq).not.toBeNull();
    expect(comparable(again.engine.storage.exportState())).toEqual(comparable(before));
  });

  it('with growthPercent 0, takes one every snapshotEveryRecords records whatever the state', async () => {
    const { snapshotter, reserve } = await run(0);
    await reserve(400);
    await settle(snapshotter, 1);
    expect(snapshotter.threshold).toBe(50);
    await reserve(200);
    await settle(snapshotter, 2);
    expect(snapshotter.stats.taken).toBe(2);
  });

  it('at start, measures the last snapshot by the recovered state', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const first = await openEngine(dir, clock);
    await first.engine.execute({
      op: 'setOnHand',
      sku: 'SKU-1',
      location: 'DC1',
      onHand: 1_000,
      asOf: 1,
    });
    for (let i = 0; i < 120; i++) {
      await first.engine.execute({
        op: 'reserve',
        reservationId: `r${i}`,
        channel: 'web',
        sku: 'SKU-1',
        qty: 1,
      });
    }
    await first.engine.durable();
    await first.engine.stop();
    await first.store.close();
    const second = await openEngine(dir, clock);
    const snapshotter = new Snapshotter(
      second.engine,
      second.store,
      { everyRecords: 50, everyMs: 1e12, chunkBooks: 10 },
      clock,
      silent,
      0,
    );
    cleanups.push(() => snapshotter.stop());
    expect(snapshotter.stats.lastSize).toBe(121);
    expect(snapshotter.threshold).toBe(121);
  });
});
