/**
 * What a snapshot costs per reservation (`npm run bench:snapshot`), issue #11: a snapshot carries
 * every held reservation, and the file store takes one every 500,000 journal records, so its cost
 * per reservation is paid again per journaled record once a flash sale holds as many.
 *
 * One engine holding `--reservations` (default 1,000,000) reservations over 100,000 SKU books at
 * one location (a tenth released, a twentieth confirmed), as bench:durable's preloaded cases hold
 * them. Measured side by side, alternating, `--runs` times (default 5), CPU of this process:
 * - blocks (state format 4, what snapshots write): the snapshot cursor's chunks (50 books each)
 *   and their frames, as the file store encodes them, and loading those frames into an empty
 *   engine as recovery does;
 * - records (format 3, the baseline): the same books with each reservation a msgpack map, the
 *   way format 3 snapshots wrote them, encoded 50 books a frame, and loaded the same way; its
 *   records are built before its clock starts (in its favour: format 3 built them as it went).
 * Frames are dropped once encoded, as the snapshotter drops them once written (the load phase
 * encodes them again, unmeasured). No disk: the write and fsync are the same bytes either way. Writes
 * bench/results/snapshot-cost.json and .md.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ManualClock, StockEngine, type SkuState, type SnapshotItem } from '../engine/index.ts';
import { STATE_FORMAT } from '../engine/engine-state.ts';
import { FileStore, Snapshotter } from '../persistence/index.ts';
import { encodeFrame, unpackPayload, FRAME_HEADER } from '../persistence/record-codec.ts';

const silent = pino({ level: 'silent' });

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const RESERVATIONS = arg('--reservations', 1_000_000);
const RUNS = arg('--runs', 5);
const SKUS = 100_000;
const LOCATION = 'dc-0';
const RULES = { channels: [{ id: 'web', priority: 1 }] };

async function build(): Promise<StockEngine> {
  const engine = new StockEngine({
    rules: RULES,
    locations: [{ id: LOCATION, type: 'dc' }],
    products: Array.from({ length: SKUS }, (_, i) => ({ sku: `s${String(i).padStart(5, '0')}` })),
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    partitions: 8,
  });
  const sku = (i: number): string => `s${String(i % SKUS).padStart(5, '0')}`;
  let batch: Promise<unknown>[] = [];
  const flush = async (): Promise<void> => {
    await Promise.all(batch);
    batch = [];
  };
  for (let i = 0; i < SKUS; i++) {
    batch.push(
      engine.execute({ op: 'setOnHand', sku: sku(i), location: LOCATION, onHand: 1e6, asOf: 1 }),
    );
  }
  await flush();
  for (let i = 0; i < RESERVATIONS; i++) {
    const reservationId = `bench-${i}-${(i * 2_654_435_761) >>> 0}`;
    batch.push(
      engine.execute({
        op: 'reserve',
        reservationId,
        channel: 'web',
        sku: sku(i * 7_919),
        qty: 1,
        location: LOCATION,
      }),
    );
    if (i % 10 === 3) batch.push(engine.execute({ op: 'release', reservationId }));
    if (i % 20 === 7) {
      batch.push(engine.execute({ op: 'confirm', reservationId, orderId: `order-${i}` }));
    }
    if (batch.length >= 10_000) await flush();
  }
  await flush();
  return engine;
}

interface Cost {
  /** CPU of the process (the collector's threads included). */
  encodeMs: number;
  /** Wall time of the same: what the main thread spends. */
  encodeWallMs: number;
  bytes: number;
  loadMs: number;
}

/** Collects what the run before left (npm run bench:snapshot passes --expose-gc), so neither side
 * pays for the other's garbage. */
const collect = (): void => {
  (globalThis as { gc?: () => void }).gc?.();
};

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1_000;
};

/** Loads frames into an empty engine, as recovery does, and checks it holds every reservation. */
async function load(frames: readonly Buffer[], engine: StockEngine): Promise<number> {
  const other = new StockEngine({
    rules: RULES,
    locations: [{ id: LOCATION, type: 'dc' }],
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    partitions: 8,
  });
  collect();
  const c0 = process.cpuUsage();
  other.storage.beginImport({
    format: STATE_FORMAT,
    rules: RULES,
    locations: engine.locationList(),
    metaLsn: 0,
  });
  for (const frame of frames) {
    const value = unpackPayload(frame.subarray(FRAME_HEADER)) as { skus: SnapshotItem[] };
    other.storage.importChunk(value.skus);
  }
  const ms = cpuMs(c0);
  const held = other.stats().reservations;
  if (held !== engine.stats().reservations) throw new Error(`loaded ${held} reservations`);
  await other.stop();
  return ms;
}

/** The chunks of a snapshot in format 4, as the snapshotter takes them. */
function* blockChunks(engine: StockEngine): Generator<SnapshotItem[]> {
  const cursor = engine.storage.beginSnapshot();
  for (let chunk = cursor.next(50); chunk !== null; chunk = cursor.next(50)) yield chunk;
}

/** The same books in format 3's shape, 50 a chunk: every reservation a record. */
function* recordChunks(skus: readonly SkuState[]): Generator<SkuState[]> {
  for (let i = 0; i < skus.length; i += 50) yield skus.slice(i, i + 50);
}

/**
 * Encodes the chunks into frames and drops them (as the snapshotter does once written): CPU and
 * wall time, and the bytes.
 */
function encodeChunks(chunks: Iterable<readonly SnapshotItem[]>): Omit<Cost, 'loadMs'> {
  collect();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let bytes = 0;
  for (const chunk of chunks) bytes += encodeFrame({ type: 'chunk', skus: chunk }).length;
  return { encodeMs: cpuMs(c0), encodeWallMs: performance.now() - w0, bytes };
}

const frames = (chunks: Iterable<readonly SnapshotItem[]>): Buffer[] =>
  [...chunks].map((chunk) => encodeFrame({ type: 'chunk', skus: chunk }));

async function blocks(engine: StockEngine): Promise<Cost> {
  const cost = encodeChunks(blockChunks(engine));
  return { ...cost, loadMs: await load(frames(blockChunks(engine)), engine) };
}

async function records(engine: StockEngine): Promise<Cost> {
  // Built before the clock starts, whole (exportState), so the baseline's encoding is only
  // msgpack's: in its favour, as format 3 built each chunk's records while it was taken.
  const skus = engine.storage.exportState().skus;
  const cost = encodeChunks(recordChunks(skus));
  return { ...cost, loadMs: await load(frames(recordChunks(skus)), engine) };
}

/** A whole snapshot through the real Snapshotter into a file store (fsync always): what the
 * server pays, end to end. */
async function throughStore(engine: StockEngine): Promise<{ cpuMs: number; wallMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'stockflow-bench-snapshot-'));
  const store = new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent);
  await store.open();
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const policy = { everyRecords: 1e12, everyMs: 1e12, chunkBooks: 50 };
  const snapshotter = new Snapshotter(engine, store, policy, clock, silent, 0);
  collect();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const info = await snapshotter.take();
  const cost = { cpuMs: cpuMs(c0), wallMs: performance.now() - w0 };
  if (info === null) throw new Error('snapshot dropped');
  await snapshotter.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return cost;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

const t0 = performance.now();
const engine = await build();
console.log(
  `built ${engine.stats().reservations} reservations in ${((performance.now() - t0) / 1e3).toFixed(1)} s`,
);
const runs: { blocks: Cost; records: Cost }[] = [];
const stored: { cpuMs: number; wallMs: number }[] = [];
for (let r = 0; r < RUNS; r++) {
  stored.push(await throughStore(engine));
  // Alternating which goes first, so a drift of the machine falls on both.
  const first = r % 2 === 0 ? await blocks(engine) : await records(engine);
  const second = r % 2 === 0 ? await records(engine) : await blocks(engine);
  const run = r % 2 === 0 ? { blocks: first, records: second } : { blocks: second, records: first };
  runs.push(run);
  console.log(
    `run ${r + 1}: snapshot through the file store ${stored[r]?.cpuMs.toFixed(0)} ms CPU; blocks encode ${run.blocks.encodeMs.toFixed(0)} ms (wall ${run.blocks.encodeWallMs.toFixed(0)}), load ${run.blocks.loadMs.toFixed(0)} ms; records encode ${run.records.encodeMs.toFixed(0)} ms (wall ${run.records.encodeWallMs.toFixed(0)}), load ${run.records.loadMs.toFixed(0)} ms`,
  );
}
const per = (ms: number): number => Math.round((ms * 1_000 * 100) / RESERVATIONS) / 100;
const summary = (pick: (c: Cost) => number) => ({
  blocks: median(runs.map((r) => pick(r.blocks))),
  records: median(runs.map((r) => pick(r.records))),
});
const encode = summary((c) => c.encodeMs);
const encodeWall = summary((c) => c.encodeWallMs);
const loadCost = summary((c) => c.loadMs);
const bytes = summary((c) => c.bytes);
const storeCpu = median(stored.map((c) => c.cpuMs));
const storeWall = median(stored.map((c) => c.wallMs));
const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  loadAtEnd: os.loadavg()[0],
  reservations: RESERVATIONS,
  books: SKUS,
  runs,
  snapshotThroughStore: stored,
  medians: {
    snapshotCpuMs: storeCpu,
    snapshotWallMs: storeWall,
    encodeMs: encode,
    encodeWallMs: encodeWall,
    loadMs: loadCost,
    bytes,
  },
  ratios: {
    encode: Math.round((encode.records / encode.blocks) * 100) / 100,
    encodeWall: Math.round((encodeWall.records / encodeWall.blocks) * 100) / 100,
    load: Math.round((loadCost.records / loadCost.blocks) * 100) / 100,
  },
};
const md = [
  `# Snapshot cost per reservation (npm run bench:snapshot)`,
  '',
  `${result.date} · Node ${result.node} · ${result.cores} × ${result.cpu} · ${RESERVATIONS.toLocaleString('en')} reservations over ${SKUS.toLocaleString('en')} books · median of ${RUNS} alternated runs, CPU of the process (the books' own fields included)`,
  '',
  '| | format 4: reservation blocks | format 3: a msgpack map each (baseline) | baseline ÷ blocks |',
  '| --- | ---: | ---: | ---: |',
  `| encode (cursor + frames), ms | ${encode.blocks.toFixed(0)} | ${encode.records.toFixed(0)} | ${result.ratios.encode}× |`,
  `| encode, µs per reservation | ${per(encode.blocks)} | ${per(encode.records)} | |`,
  `| encode, wall ms (the main thread) | ${encodeWall.blocks.toFixed(0)} | ${encodeWall.records.toFixed(0)} | ${result.ratios.encodeWall}× |`,
  `| load (unpack + import), ms | ${loadCost.blocks.toFixed(0)} | ${loadCost.records.toFixed(0)} | ${result.ratios.load}× |`,
  `| load, µs per reservation | ${per(loadCost.blocks)} | ${per(loadCost.records)} | |`,
  `| bytes | ${bytes.blocks.toLocaleString('en')} | ${bytes.records.toLocaleString('en')} | |`,
  '',
  `A whole snapshot through the Snapshotter into a file store (fsync always), this version: ${storeCpu.toFixed(0)} ms of CPU (${per(storeCpu)} µs per reservation, the books included), ${storeWall.toFixed(0)} ms wall. The baseline's records are built before its clock starts (in its favour: format 3 built them while it took each chunk).`,
  '',
].join('\n');
console.log(`\n${md}`);
if (RESERVATIONS === 1_000_000 && RUNS >= 5) {
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL('snapshot-cost.json', dir), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(new URL('snapshot-cost.md', dir), md);
}
await engine.stop();
