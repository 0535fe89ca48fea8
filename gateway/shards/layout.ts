import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { fnv1a32 } from '../../engine/index.ts';
import type { PersistenceConfig } from '../../config/index.ts';
import { fileStoreHoldsState } from '../../persistence/index.ts';

/**
 * Which shard owns what, and where each shard keeps its state (docs/scaling.md, "Shards").
 *
 * A SKU belongs to shard `shardOf(sku, count)`, an order to `shardOf(orderId, count)`: FNV-1a
 * (32 bits) over the id's UTF-16 code units, modulo the shard count. The hash is part of the data
 * format: changing it, like changing the count, moves ids between shards, which only the offline
 * re-shard may do.
 *
 * One shard keeps today's layout (persistence.dir itself, the configured Redis key prefix). With
 * N > 1, shard k lives in `<dir>/shard-k` and under `<keyPrefix>:{shard-k}` (a Redis Cluster hash
 * tag, so each shard's keys share one slot), and the count is written in `<dir>/shards.json` or
 * the key `<keyPrefix>:shards`, so a server started with another count refuses to start instead
 * of silently serving ids from the wrong shard.
 */

export function shardOf(id: string, count: number): number {
  return count === 1 ? 0 : fnv1a32(id) % count;
}

/** The directory of shard `k` inside persistence.dir (with more than one shard). */
export function shardDirName(k: number): string {
  return `shard-${k}`;
}

/** The persistence settings of shard `k` of `count`. */
export function shardPersistence(
  config: PersistenceConfig,
  k: number,
  count: number,
): PersistenceConfig {
  if (count === 1) return config;
  return {
    ...config,
    dir: join(config.dir, shardDirName(k)),
    redis: { ...config.redis, keyPrefix: `${config.redis.keyPrefix}:{shard-${k}}` },
  };
}

/** The start refused: the data holds another shard count than the configuration asks for. */
export class ShardLayoutError extends Error {
  override readonly name = 'ShardLayoutError';
}

const LAYOUT_FILE = 'shards.json';
const LAYOUT_FORMAT = 1;

interface LayoutFile {
  readonly format: number;
  readonly count: number;
  readonly hash: string;
}

function mismatch(where: string, found: number, wanted: number): ShardLayoutError {
  return new ShardLayoutError(
    `${where} holds ${found} shard(s) but server.workers is ${wanted}. ` +
      `Start with server.workers: ${found}, or stop the server and run ` +
      `\`npm run reshard -- --to ${wanted}\` to move the state into ${wanted} shard(s) (docs/scaling.md).`,
  );
}

/**
 * The shard count the file store directory holds: its shards.json, or 1 when the directory is
 * today's single-shard layout (or empty).
 */
export function fileShardCount(dir: string): number | null {
  const file = join(dir, LAYOUT_FILE);
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LayoutFile>;
    if (parsed.format !== LAYOUT_FORMAT || typeof parsed.count !== 'number') {
      throw new ShardLayoutError(
        `${file} is not a layout this version reads (format ${String(parsed.format)})`,
      );
    }
    return parsed.count;
  }
  return fileStoreHoldsState(dir) ? 1 : null;
}

/** Writes the shard count into a file store directory (atomically: a temp file renamed). */
export function writeFileShardCount(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  const body: LayoutFile = { format: LAYOUT_FORMAT, count, hash: 'fnv1a32' };
  const tmp = join(dir, `${LAYOUT_FILE}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(body)}\n`);
  renameSync(tmp, join(dir, LAYOUT_FILE));
}

/**
 * Checks (and on first start records) that the file store directory is laid out for `count`
 * shards. Throws ShardLayoutError when it holds another count.
 */
export function claimFileLayout(dir: string, count: number): void {
  const found = fileShardCount(dir);
  if (found === null) {
    if (count > 1) writeFileShardCount(dir, count);
    return;
  }
  if (found !== count) throw mismatch(dir, found, count);
}

/** The Redis key that records a shard count (beside the shards' own prefixes). */
export function redisLayoutKey(keyPrefix: string): string {
  return `${keyPrefix}:shards`;
}

/** What claimRedisLayout needs of a Redis connection. */
export interface LayoutRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, nx: 'NX'): Promise<'OK' | null>;
  exists(...keys: string[]): Promise<number>;
}

/** As claimFileLayout, for the Redis store: the count is kept at `<keyPrefix>:shards`. */
export async function claimRedisLayout(
  redis: LayoutRedis,
  keyPrefix: string,
  count: number,
): Promise<void> {
  let found = await redisShardCount(redis, keyPrefix);
  if (found === null) {
    const key = redisLayoutKey(keyPrefix);
    await redis.set(key, String(count), 'NX');
    found = Number((await redis.get(key)) ?? count);
  }
  if (found !== count) throw mismatch(`Redis prefix ${keyPrefix}`, found, count);
}

/** The shard count Redis holds under a prefix, or null when nothing is there yet. */
export async function redisShardCount(
  redis: LayoutRedis,
  keyPrefix: string,
): Promise<number | null> {
  const found = await redis.get(redisLayoutKey(keyPrefix));
  if (found !== null) return Number(found);
  // No count written: a single-shard journal at the bare prefix is one shard's state.
  return (await redis.exists(`${keyPrefix}:journal`, `${keyPrefix}:snaps`)) > 0 ? 1 : null;
}

/**
 * Refuses (ShardLayoutError) to start `count` shards on data laid out for another count, and
 * records the count on a first start. The memory store keeps nothing, so has nothing to check.
 */
export async function claimLayout(p: PersistenceConfig, count: number): Promise<void> {
  if (p.store === 'file') {
    claimFileLayout(p.dir, count);
  } else if (p.store === 'redis') {
    await withRedis(p, (redis) => claimRedisLayout(redis, p.redis.keyPrefix, count));
  }
}

/** The most workers a process runs (the schema's bound on server.workers). */
const MAX_WORKERS = 64;

/**
 * `server.workers` as a count. A number is taken as given. `auto` (the default) is the count the
 * data already holds, so an existing data directory or Redis prefix starts as it was written
 * (a single-shard layout as 1); on fresh data, and with the memory store, one worker per core
 * (`os.availableParallelism()`, at most 64).
 */
export async function resolveWorkers(
  p: PersistenceConfig,
  setting: number | 'auto',
  cores: number = availableParallelism(),
): Promise<number> {
  if (setting !== 'auto') return setting;
  let found: number | null = null;
  if (p.store === 'file') found = fileShardCount(p.dir);
  else if (p.store === 'redis') {
    found = await withRedis(p, (redis) => redisShardCount(redis, p.redis.keyPrefix));
  }
  return found ?? workersPerCore(cores);
}

/** What `auto` starts on fresh data: one worker per core, at most 64. */
export function workersPerCore(cores: number = availableParallelism()): number {
  return Math.min(Math.max(1, cores), MAX_WORKERS);
}

async function withRedis<T>(p: PersistenceConfig, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(p.redis.url, {
    lazyConnect: true,
    connectTimeout: p.redis.connectTimeoutMs,
    maxRetriesPerRequest: 2,
  });
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}
