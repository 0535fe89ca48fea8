import { monitorEventLoopDelay } from 'node:perf_hooks';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  ManualClock,
  StockEngine,
  SystemClock,
  type Clock,
  type Command,
} from '../engine/index.ts';
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
      /** When set, a CPU profile of recover() alone is written to this .cpuprofile path. */
      readonly profile?: string;
      /** File store only: prepare the data here once and reuse it (see `recovery`). */
      readonly dataDir?: string;
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
  /** CPU time of the process (all its threads) while it recovered: less swayed by a busy machine
   * than the elapsed time. */
  readonly recoveryCpuMs: number;
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

function world(
  skus: number,
  locations: number,
  clock: Clock = new SystemClock(),
): { engine: StockEngine } {
  const engine = new StockEngine({
    clock,
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

/** What preparing a recovery leaves behind, kept beside the data when it is reused. */
interface Prepared {
  readonly snapshotMs: number;
  readonly snapshotBytes: number;
  readonly snapshotStallMs: number;
  readonly longestChunkMs: number;
  /** The first engine's clock when it stopped: the recovering engine's clock starts there. */
  readonly stoppedAt: number;
}

const PREPARED = 'prepared.json';

/**
 * The data a recovery starts from: 1M positions fed, a snapshot of them all (its stall measured),
 * then `records` reserves journaled after it.
 */
async function prepare(
  spec: Extract<PersistenceSpec, { scenario: 'recovery' }>,
  redis: RedisHandle | null,
  dir: string,
): Promise<Prepared> {
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
  return {
    snapshotMs: snapshotter.stats.lastMs,
    snapshotBytes: info.bytes,
    snapshotStallMs: delay.max / 1e6,
    longestChunkMs: snapshotter.stats.longestChunkMs,
    stoppedAt: first.engine.clock.now(),
  };
}

/**
 * Recovers a fresh engine from what `prepare` left. With `spec.dataDir` (file store) the
 * prepared data is kept there and reused by later runs, so repeated measurements of recovery
 * alone take seconds, not minutes; recovery never changes it (the recovering engine's clock stands
 * still at the time the data was written, so no reservation expires meanwhile).
 */
async function recovery(
  spec: Extract<PersistenceSpec, { scenario: 'recovery' }>,
  redis: RedisHandle | null,
  dir: string,
): Promise<RecoveryOutcome> {
  const marker = join(dir, PREPARED);
  let prepared: Prepared;
  if (spec.dataDir !== undefined && existsSync(marker)) {
    prepared = JSON.parse(readFileSync(marker, 'utf8')) as Prepared;
  } else {
    prepared = await prepare(spec, redis, dir);
    if (spec.dataDir !== undefined) writeFileSync(marker, JSON.stringify(prepared));
  }
  const locations = 10;
  const second = world(spec.positions / locations, locations, new ManualClock(prepared.stoppedAt));
  const reopened = await openStore(spec.store, redis, dir);
  const store = reopened.store;
  if (store === null) throw new Error('recovery needs a store');
  global.gc?.();
  const cpu = process.cpuUsage();
  const report = await profiled(spec.profile, () => recover(second.engine, store, silent));
  const used = process.cpuUsage(cpu);
  await second.engine.stop();
  await reopened.close();
  return {
    scenario: 'recovery',
    store: spec.store,
    positions: report.positions,
    records: spec.records,
    recoveryMs: report.ms,
    recoveryCpuMs: (used.user + used.system) / 1000,
    loadSnapshotMs: report.snapshotMs,
    replayMs: report.replayMs,
    snapshotMs: prepared.snapshotMs,
    snapshotBytes: prepared.snapshotBytes,
    snapshotStallMs: prepared.snapshotStallMs,
    longestChunkMs: prepared.longestChunkMs,
    replayed: report.recordsReplayed,
  };
}

/** Runs `work`, under the V8 CPU profiler when `path` is set (only `work`, not the set-up). */
async function profiled<T>(path: string | undefined, work: () => Promise<T>): Promise<T> {
  if (path === undefined) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  }
}

export async function runPersistenceScenario(spec: PersistenceSpec): Promise<PersistenceOutcome> {
  const kept = spec.scenario === 'recovery' && spec.store === 'file' ? spec.dataDir : undefined;
  if (kept !== undefined) mkdirSync(kept, { recursive: true });
  const dir = kept ?? mkdtempSync(join(tmpdir(), 'stockflow-bench-'));
  const redis = spec.store === 'redis' ? await startRedis() : null;
  try {
    return spec.scenario === 'throughput'
      ? await throughput(spec, redis, dir)
      : await recovery(spec, redis, dir);
  } finally {
    await redis?.stop();
    if (kept === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
