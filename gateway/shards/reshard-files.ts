import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, PersistenceConfig } from '../../config/index.ts';
import type { SkuState } from '../../engine/index.ts';
import { FILE_STORE_ENTRIES, loadStore, openStore } from '../../persistence/index.ts';
import { createEngine } from '../engine-start.ts';
import { shardDirName, shardOf, shardPersistence, writeFileShardCount } from './layout.ts';
import { bookText, productOnly, type ReshardPlan } from './reshard-plan.ts';
import { ReshardError } from './reshard-source.ts';

/**
 * The file store's side of the offline re-shard: the new layout is written as one committed
 * snapshot per shard (no journal records) under `<dir>/.reshard-tmp`, read back and compared
 * with the old state, and only then swapped in; the old layout is kept aside, never deleted.
 */

/** Where the new layout is written before it is verified and swapped in. */
export const RESHARD_TMP = '.reshard-tmp';

/** Shard `k` of `to`, laid out under the temporary directory. */
export function newShardPersistence(
  p: PersistenceConfig,
  k: number,
  to: number,
): PersistenceConfig {
  return shardPersistence({ ...p, dir: join(p.dir, RESHARD_TMP) }, k, to);
}

/** Writes new shard `k` as one committed snapshot of its books, covering the old sequences. */
export async function writeShard(
  p: PersistenceConfig,
  plan: ReshardPlan,
  k: number,
  log: Logger,
): Promise<void> {
  const store = openStore(p, log);
  await store.open();
  try {
    const writer = await store.beginSnapshot(plan.header);
    try {
      const books = plan.shards[k] ?? [];
      const size = p.snapshotChunkBooks;
      for (let i = 0; i < books.length; i += size) {
        await writer.writeChunk(books.slice(i, i + size));
      }
      await writer.commit(plan.coversSeq);
    } catch (error) {
      await writer.abort();
      throw error;
    }
  } finally {
    await store.close();
  }
}

function expected(plan: ReshardPlan, book: SkuState, k: number, to: number): SkuState | null {
  const want = plan.books.get(book.sku);
  if (want === undefined) return null;
  return shardOf(book.sku, to) === k ? want : productOnly(want);
}

/**
 * Recovers new shard `k` into a fresh engine, as a server start would, and checks that it holds
 * exactly its share: every SKU's book equal to the old owner's (positions, reservations and their
 * expiry, allocations, feed state, recent operations) for its own SKUs, the product alone for the
 * others, the same rules and locations, and its journal continuing after the old sequences.
 */
export async function verifyShard(
  config: Config,
  p: PersistenceConfig,
  plan: ReshardPlan,
  k: number,
  to: number,
  log: Logger,
): Promise<void> {
  const engine = createEngine(config, log);
  const store = openStore(p, log);
  await store.open();
  const fail = (what: string): never => {
    throw new ReshardError(
      `verification of new shard ${k} (${p.dir}) failed: ${what}; the old layout was left in place`,
    );
  };
  try {
    const loaded = await loadStore(engine, store);
    if (loaded.durableSeq !== plan.coversSeq)
      fail(`its journal would continue after ${loaded.durableSeq}`);
    const state = engine.storage.exportState();
    const master = JSON.stringify([plan.header.rules, plan.header.locations]);
    if (JSON.stringify([state.rules, state.locations]) !== master)
      fail('rules or locations differ');
    for (const book of state.skus) {
      const want = expected(plan, book, k, to);
      if (want === null || bookText(book) !== bookText(want)) fail(`SKU ${book.sku} differs`);
    }
    if (state.skus.length !== plan.books.size)
      fail(`${state.skus.length} of ${plan.books.size} SKUs`);
  } finally {
    await engine.stop();
    await store.close();
  }
}

/** What makes up a layout of `count` shards in the data directory (besides shards.json). */
function layoutEntries(count: number): string[] {
  return count === 1
    ? [...FILE_STORE_ENTRIES]
    : Array.from({ length: count }, (_, k) => shardDirName(k));
}

/**
 * Moves the old layout into `<dir>/.reshard-old-<time>/` and the new one from the temporary
 * directory into place, then records the new count (a single shard needs none: its root journal
 * and snapshots are today's layout). Returns where the old layout was kept. A rename that fails
 * midway is reported with where each part is, for the operator to finish or undo by hand.
 */
export function swapLayout(dir: string, from: number, to: number, now: Date): string {
  const kept = join(dir, `.reshard-old-${now.toISOString().replace(/[:.]/g, '-')}`);
  const tmp = join(dir, RESHARD_TMP);
  mkdirSync(kept);
  try {
    for (const name of [...layoutEntries(from), 'shards.json']) {
      if (existsSync(join(dir, name))) renameSync(join(dir, name), join(kept, name));
    }
    for (const name of layoutEntries(to)) renameSync(join(tmp, name), join(dir, name));
    if (to > 1) writeFileShardCount(dir, to);
  } catch (error) {
    throw new ReshardError(
      `swapping the layouts failed (${String(error)}): the old layout is (partly) in ${kept}, ` +
        `the new, verified one (partly) in ${tmp}; move the old one back before starting a server`,
    );
  }
  rmSync(tmp, { recursive: true, force: true });
  return kept;
}
