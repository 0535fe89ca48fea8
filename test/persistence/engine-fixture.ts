import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ManualClock, StockEngine, type Clock, type EngineState } from '../../engine/index.ts';
import { FileStore, recover } from '../../persistence/index.ts';

export const silent = pino({ level: 'silent' });

export const WORLD = {
  rules: {
    channels: [
      { id: 'web', priority: 1 },
      { id: 'mkt', priority: 2 },
    ],
  },
  locations: [
    { id: 'S1', type: 'store' },
    { id: 'DC1', type: 'dc' },
  ],
  products: Array.from({ length: 50 }, (_, i) => ({ sku: `SKU-${i}` })),
};

export function newEngine(clock: Clock = new ManualClock()): StockEngine {
  return new StockEngine({ ...WORLD, clock, partitions: 4 });
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'stockflow-'));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The state as a restart sees it: no time of taking, reservations in id order. */
export function comparable(state: EngineState): unknown {
  return {
    metaLsn: state.metaLsn,
    rules: state.rules,
    locations: state.locations,
    skus: state.skus.map((s) => ({
      ...s,
      reservations: [...s.reservations].sort((a, b) => (a.id < b.id ? -1 : 1)),
    })),
  };
}

/**
 * An engine recovered from a file store in `dir` (fsync always, 64 MiB segments); both are
 * closed by what `cleanups` runs after the test.
 */
export async function openFileEngine(
  dir: string,
  clock: ManualClock,
  cleanups: (() => void | Promise<void>)[],
) {
  const store = new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent);
  cleanups.push(() => store.close());
  await store.open();
  const engine = newEngine(clock);
  cleanups.push(() => engine.stop());
  const report = await recover(engine, store, silent);
  return { store, engine, report };
}
