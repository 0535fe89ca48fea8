import type { Command } from '../engine/index.ts';
import { CountingSink } from './engine-counting-sink.ts';
import { CpuContention } from './engine-cpu-contention.ts';
import { drive, type DriveOptions } from './engine-driver.ts';
import { GcTimer, collectGarbage, settledMemory } from './engine-memory.ts';
import { createTarget, targetName, type TargetSpec } from './engine-target.ts';
import type { StockTarget } from './stock-target.ts';
import {
  FLEET_ON_HAND,
  HOT_ON_HAND,
  HOT_SHAPE,
  fleetLoad,
  hotReserves,
  positionsOf,
  spreadReserves,
  type FleetShape,
} from './engine-workloads.ts';
import { NactPerPosition } from './nact-per-position.ts';

/** What one child process measures. */
export interface ScenarioSpec {
  readonly kind: 'hot' | 'fleet';
  readonly target: TargetSpec;
  readonly shape: FleetShape;
  /** Timed runs (hot: all in one process, each on a fresh target; fleet: one per process). */
  readonly runs: number;
  /** Aimed length of a timed run; its command count is sized from the warm-up's rate. */
  readonly runSeconds: number;
  readonly warmupCommands: number;
  readonly maxCommands: number;
  readonly drive: DriveOptions;
  readonly seed: number;
}

export interface ThroughputRun {
  readonly commands: number;
  readonly ms: number;
  /** Of `ms`, the time spent in garbage collection. */
  readonly gcMs: number;
  /** Cores other processes kept busy meanwhile (null where unknown): above ~0.2 the run competed. */
  readonly othersCores: number | null;
  readonly ok: number;
  readonly refused: number;
  readonly busy: number;
  /** Granted reservations per second (refused and BUSY answers do not count). */
  readonly perSecond: number;
  readonly firstRefusal: string | null;
}

export interface HotOutcome {
  readonly kind: 'hot';
  readonly target: string;
  readonly runs: readonly ThroughputRun[];
}

export interface FleetOutcome {
  readonly kind: 'fleet';
  readonly target: string;
  readonly positions: number;
  readonly loadMs: number;
  readonly loadOthersCores: number | null;
  /** nact-per-position only: the part of the load spent spawning actors. */
  readonly spawnMs: number | null;
  readonly heapBytesPerPosition: number;
  readonly rssBytesPerPosition: number;
  readonly spread: ThroughputRun;
}

export type Outcome = HotOutcome | FleetOutcome;

export function runScenario(spec: ScenarioSpec): Promise<Outcome> {
  return spec.kind === 'hot' ? runHot(spec) : runFleet(spec);
}

/** Reservations on one SKU-location, each run on a fresh target after its own warm-up. */
async function runHot(spec: ScenarioSpec): Promise<HotOutcome> {
  const runs: ThroughputRun[] = [];
  for (let r = 0; r < spec.runs; r++) {
    const target = createTarget(spec.target);
    await load(target, HOT_SHAPE, HOT_ON_HAND, spec.drive);
    const size = await warmUp(spec, target, hotReserves(spec.warmupCommands, `w${r}`));
    runs.push(await timed(target, hotReserves(size, `r${r}`), spec.drive));
    await target.stop();
  }
  return { kind: 'hot', target: targetName(spec.target), runs };
}

/** Loads the fleet (timed), weighs it idle, then reserves at random positions over it. */
async function runFleet(spec: ScenarioSpec): Promise<FleetOutcome> {
  const positions = positionsOf(spec.shape);
  const before = await settledMemory();
  const target = createTarget(spec.target);
  const contention = new CpuContention();
  const loadMs = await load(target, spec.shape, FLEET_ON_HAND, spec.drive);
  const loadOthersCores = contention.othersCores();
  const after = await settledMemory();
  const warmup = spreadReserves(spec.shape, spec.warmupCommands, 'w', spec.seed);
  const size = await warmUp(spec, target, warmup);
  const commands = spreadReserves(spec.shape, size, 'r', spec.seed + 1);
  const spread = await timed(target, commands, spec.drive);
  await target.stop();
  return {
    kind: 'fleet',
    target: targetName(spec.target),
    positions,
    loadMs,
    loadOthersCores,
    spawnMs: target instanceof NactPerPosition ? target.spawnMs : null,
    heapBytesPerPosition: (after.heapUsed - before.heapUsed) / positions,
    rssBytesPerPosition: (after.rss - before.rss) / positions,
    spread,
  };
}

/**
 * Master data, then one absolute feed per position through the command path; resolves with the
 * milliseconds until the last feed was answered. The commands are built before the clock starts
 * and are garbage once this returns.
 */
async function load(
  target: StockTarget,
  shape: FleetShape,
  onHand: number,
  options: DriveOptions,
): Promise<number> {
  const { locations, products, feeds } = fleetLoad(shape, onHand);
  const sink = new CountingSink();
  const start = performance.now();
  target.upsertLocations(locations);
  target.upsertProducts(products);
  await drive(target, feeds, sink, options);
  const ms = performance.now() - start;
  if (sink.ok !== feeds.length) {
    throw new Error(`load: ${sink.ok} of ${feeds.length} feeds applied: ${describe(sink)}`);
  }
  return ms;
}

/** Runs the warm-up; answers how many commands a timed run needs to last about runSeconds. */
async function warmUp(
  spec: ScenarioSpec,
  target: StockTarget,
  commands: readonly Command[],
): Promise<number> {
  const ms = await drive(target, commands, new CountingSink(), spec.drive);
  const aimed = Math.round((commands.length / ms) * 1000 * spec.runSeconds);
  return Math.max(spec.warmupCommands, Math.min(spec.maxCommands, aimed));
}

async function timed(
  target: StockTarget,
  commands: readonly Command[],
  options: DriveOptions,
): Promise<ThroughputRun> {
  const sink = new CountingSink();
  collectGarbage();
  const gc = new GcTimer();
  const contention = new CpuContention();
  const ms = await drive(target, commands, sink, options);
  const gcMs = gc.stop();
  return {
    commands: commands.length,
    ms,
    gcMs,
    othersCores: contention.othersCores(),
    ok: sink.ok,
    refused: sink.refused,
    busy: sink.busy,
    perSecond: (sink.ok / ms) * 1000,
    firstRefusal: sink.firstRefusal === null ? null : describe(sink),
  };
}

function describe(sink: CountingSink): string {
  const r = sink.firstRefusal;
  return r === null ? `${sink.busy} BUSY` : `${r.code} ${r.reason ?? ''} ${r.message}`;
}
