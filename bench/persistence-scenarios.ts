import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { StockEngine, type Command } from '../engine/index.ts';
import { FileStore, recover, RedisStore, Snapshotter, type Store } from '../persistence/index.ts';
import { startRedis, type RedisHandle } from '../test/persistence/redis-server.ts';
import { CountingSink } from './engine-counting-sink.ts';
import { drive } from './engine-driver.ts';

export type StoreKind = 'memory' | 'file' | 'redis';

export type PersistenceSpec =
  | {
      readonly scenario: 'throughput';
      readonly store: StoreKind;
      readonly shape: 'hot' | 'spread';
      readonly reserves: number;
    }
  | {
      readonly scenario: 'recovery';
      readonly store: 'file' | 'redis';
      readonly positions: number;
      readonly records: number;
    };

export interface ThroughputOutcome {
  readonly scenario: 'throughput';
  readonly store: StoreKind;
  readonly shape: 'hot' | 'spread';
  readonly perSecond: number;
  readonly granted: number;
  readonly recordsPerCommit: number;
}

export interface RecoveryOutcome {
  readonly scenario: 'recovery';
  readonly store: 'file' | 'redis';
  readonly positions: number;
  readonly records: number;
  readonly recoveryMs: number;
  readonly loadSnapshotMs: number;
  readonly replayMs: number;
  readonly snapshotMs: number;
  readonly snapshotBytes: number;
  /** Longest event-loop delay while the snapshot of all positions was taken. */
  readonly snapshotStallMs: number;
  readonly longestChunkMs: number;
  readonly replayed: number;
}

export type PersistenceOutcome = ThroughputOutcome | RecoveryOutcome;

const silent = pino({ level: 'silent' });
const RULES = { channels: [{ id: 'web', priority: 1 }] };
const DRIVE = { chunk: 4_096, maxInflight: 65_536 };

interface Opened {
  readonly store: Store | null;
  readonly close: () => Promise<void>;
}

async function openStore(kind: StoreKind, redis: RedisHandle | null, dir: string): Promise<Opened> {
  if (kind === 'memory') return { store: null, close: () => Promise.resolve() };
  const store: Store =
    kind === 'file'
      ? new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent)
      : new RedisStore(
          { url: redis?.url ?? '', keyPrefix: 'bench', strict: true, commandTimeoutMs: 10_000 },
          silent,
        );
  await store.open();
  return { store, close: () => store.close() };
}

function world(skus: number, locations: number): { engine: StockEngine } {
  const engine = new StockEngine({
    rules: RULES,
    locations: Array.from({ length: locations }, (_, i) => ({ id: `L${i}`, type: 'store' })),
    products: Array.from({ length: skus }, (_, i) => ({ sku: `S${i}` })),
    maxQueuedPerSku: 1_000_000,
    logger: silent,
  });
  return { engine };
}

async function feed(
  engine: StockEngine,
  skus: number,
  locations: number,
  onHand: number,
): Promise<void> {
  const commands: Command[] = [];
  for (let s = 0; s < skus; s++) {
    for (let l = 0; l < locations; l++)
      commands.push({ op: 'setOnHand', sku: `S${s}`, location: `L${l}`, onHand, asOf: 1 });
  }
  await drive(engine, commands, new CountingSink(), DRIVE);
}

function reserves(n: number, skus: number, locations: number, prefix: string): Command[] {
  return Array.from({ length: n }, (_, i) => {
    const p = skus === 1 ? 0 : Math.floor(Math.random() * skus * locations);
    return {
      op: 'reserve',
      reservationId: `${prefix}${i}`,
      channel: 'web',
      sku: `S${Math.floor(p / locations)}`,
      qty: 1,
      location: `L${p % locations}`,
    };
  });
}

async function throughput(
  spec: Extract<PersistenceSpec, { scenario: 'throughput' }>,
  redis: RedisHandle | null,
  dir: string,
): Promise<ThroughputOutcome> {
  const skus = spec.shape === 'hot' ? 1 : 10_000;
  const { engine } = world(skus, 1);
  const opened = await openStore(spec.store, redis, dir);
  if (opened.store !== null) await recover(engine, opened.store, silent);
  await feed(engine, skus, 1, 1_000_000_000);
  const warm = reserves(50_000, skus, 1, 'w');
  await drive(engine, warm, new CountingSink(), DRIVE);
  const commits0 = engine.storage.journalStats.commits;
  const records0 = engine.storage.journalStats.records;
  const timed = reserves(spec.reserves, skus, 1, 't');
  const sink = new CountingSink();
  const ms = await drive(engine, timed, sink, DRIVE);
  const commits = engine.storage.journalStats.commits - commits0;
  const records = engine.storage.journalStats.records - records0;
  await engine.stop();
  await opened.close();
  return {
    scenario: 'throughput',
    store: spec.store,
    shape: spec.shape,
    perSecond: (spec.reserves / ms) * 1000,
    granted: sink.ok,
    recordsPerCommit: commits === 0 ? 0 : records / commits,
  };
}

async function recovery(
  spec: Extract<PersistenceSpec, { scenario: 'recovery' }>,
  redis: RedisHandle | null,
  dir: string,
): Promise<RecoveryOutcome> {
  const locations = 10;
  const skus = spec.positions / locations;
  const first = world(skus, locations);
  const opened = await openStore(spec.store, redis, dir);
  if (opened.store === null) throw new Error('recovery needs a store');
  await recover(first.engine, opened.store, silent);
  await feed(first.engine, skus, locations, 1_000);
  const snapshotter = new Snapshotter(
    first.engine,
    opened.store,
    { everyRecords: 1e12, everyMs: 1e12, chunkBooks: 50 },
    first.engine.clock,
    silent,
    0,
  );
  // The stall a snapshot of every position causes: the longest event-loop delay while it runs
  // (a 1 ms timer fires late by that much; garbage collection pauses count too).
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const info = await snapshotter.take();
  delay.disable();
  if (info === null) throw new Error('snapshot dropped');
  await drive(
    first.engine,
    reserves(spec.records, skus, locations, 'r'),
    new CountingSink(),
    DRIVE,
  );
  await first.engine.durable();
  await snapshotter.stop();
  await first.engine.stop();
  await opened.close();

  const second = world(skus, locations);
  const reopened = await openStore(spec.store, redis, dir);
  if (reopened.store === null) throw new Error('recovery needs a store');
  global.gc?.();
  const report = await recover(second.engine, reopened.store, silent);
  await second.engine.stop();
  await reopened.close();
  return {
    scenario: 'recovery',
    store: spec.store,
    positions: report.positions,
    records: spec.records,
    recoveryMs: report.ms,
    loadSnapshotMs: report.snapshotMs,
    replayMs: report.replayMs,
    snapshotMs: snapshotter.stats.lastMs,
    snapshotBytes: info.bytes,
    snapshotStallMs: delay.max / 1e6,
    longestChunkMs: snapshotter.stats.longestChunkMs,
    replayed: report.recordsReplayed,
  };
}

export async function runPersistenceScenario(spec: PersistenceSpec): Promise<PersistenceOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'stockflow-bench-'));
  const redis = spec.store === 'redis' ? await startRedis() : null;
  try {
    return spec.scenario === 'throughput'
      ? await throughput(spec, redis, dir)
      : await recovery(spec, redis, dir);
  } finally {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
