import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import { fileShardCount } from './layout.ts';
import {
  newShardPersistence,
  RESHARD_TMP,
  swapLayout,
  verifyShard,
  writeShard,
} from './reshard-files.ts';
import { planReshard, totals, type ShardTotals } from './reshard-plan.ts';
import { ReshardError, readShard } from './reshard-source.ts';

export { ReshardError } from './reshard-source.ts';
export type { ShardTotals } from './reshard-plan.ts';

/**
 * The offline re-shard (`npm run reshard -- --to N`, docs/scaling.md "Re-sharding (offline)"):
 * moves a file store's state from the shard count it records to `to` shards. The server must be
 * stopped. Every old shard is read (never written), the new layout written beside it as one
 * snapshot per shard, read back and compared, and only then swapped in; the old one is kept.
 */

export interface ReshardOptions {
  readonly to: number;
  /** Read and plan, report what would move, change nothing. */
  readonly dryRun: boolean;
}

export interface ReshardReport {
  readonly dir: string;
  readonly from: number;
  readonly to: number;
  /** Set when nothing was (or would be) done, saying why. */
  readonly nothing: string | null;
  /** Per new shard: what it holds of its own SKUs. */
  readonly shards: readonly ShardTotals[];
  /** Where the old layout was kept (null for a dry run or when nothing was done). */
  readonly kept: string | null;
}

function storeDir(config: Config): string {
  const p = config.persistence;
  if (p.store === 'memory') {
    throw new ReshardError(
      'persistence.store is memory: it keeps no state, there is nothing to re-shard',
    );
  }
  if (p.store === 'redis') {
    throw new ReshardError(
      're-sharding a Redis store is not supported yet (only the file store is): start the ' +
        'server with the server.workers the data was written with; nothing was changed',
    );
  }
  return p.dir;
}

export async function reshard(
  config: Config,
  options: ReshardOptions,
  log: Logger,
): Promise<ReshardReport> {
  const { to } = options;
  const dir = storeDir(config);
  const from = fileShardCount(dir);
  const report = { dir, from: from ?? to, to, shards: [], kept: null };
  if (from === null) return { ...report, nothing: `${dir} holds no state yet` };
  if (from === to) return { ...report, nothing: `${dir} already holds ${to} shard(s)` };
  const sources = [];
  for (let k = 0; k < from; k++) sources.push(await readShard(config, k, from, log));
  const plan = planReshard(sources, from, to, Date.now());
  const shards = plan.shards.map(totals);
  if (options.dryRun) return { ...report, nothing: null, shards };
  const tmp = join(dir, RESHARD_TMP);
  rmSync(tmp, { recursive: true, force: true }); // left by a run that stopped: never live state
  const p = config.persistence;
  for (let k = 0; k < to; k++) await writeShard(newShardPersistence(p, k, to), plan, k, log);
  for (let k = 0; k < to; k++) {
    await verifyShard(config, newShardPersistence(p, k, to), plan, k, to, log);
  }
  const kept = swapLayout(dir, from, to, new Date());
  return { ...report, nothing: null, shards, kept };
}
