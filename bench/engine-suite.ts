import { loadavg } from 'node:os';
import type { DriveOptions } from './engine-driver.ts';
import { runChild } from './engine-child-process.ts';
import { QuietWindow } from './engine-cpu-contention.ts';
import type { FleetOutcome, HotOutcome, ScenarioSpec, ThroughputRun } from './engine-scenarios.ts';
import { targetName, type TargetSpec } from './engine-target.ts';
import type { FleetShape } from './engine-workloads.ts';

/** Sizes of a suite: the full one the README quotes, or a quick smoke test. */
export interface SuitePlan {
  readonly mode: 'full' | 'quick';
  readonly shape: FleetShape;
  readonly runs: number;
  readonly runSeconds: number;
  readonly warmupCommands: number;
  readonly maxCommands: number;
  readonly drive: DriveOptions;
  /** Further partition counts, measured once each to show the trade-off. */
  readonly extraPartitions: readonly number[];
  /** Longest total wait for other processes to leave the CPU before children start. */
  readonly quietBudgetMs: number;
}

const DRIVE: DriveOptions = { chunk: 4_096, maxInflight: 65_536 };

export const FULL_PLAN: SuitePlan = {
  mode: 'full',
  shape: { skus: 100_000, locations: 10 },
  runs: 3,
  runSeconds: 2,
  warmupCommands: 200_000,
  maxCommands: 3_000_000,
  drive: DRIVE,
  extraPartitions: [8, 256],
  quietBudgetMs: 45_000,
};

export const QUICK_PLAN: SuitePlan = {
  mode: 'quick',
  shape: { skus: 10_000, locations: 10 },
  runs: 1,
  runSeconds: 0.5,
  warmupCommands: 50_000,
  maxCommands: 500_000,
  drive: DRIVE,
  extraPartitions: [],
  quietBudgetMs: 0,
};

export const DEFAULT_PARTITIONS = 64;
/** The hot engine may queue every command in flight on its one SKU: BUSY would be shedding, not
 * throughput. Counted BUSY answers are reported all the same. */
const HOT_MAX_QUEUED = 2 * DRIVE.maxInflight;

const ENGINE = (partitions: number): TargetSpec => ({ kind: 'engine', partitions });
const MAIN_TARGETS: readonly TargetSpec[] = [
  ENGINE(DEFAULT_PARTITIONS),
  { kind: 'map' },
  { kind: 'nact' },
  ENGINE(1),
];

export interface SuiteResults {
  readonly plan: SuitePlan;
  readonly hot: ReadonlyMap<string, HotOutcome>;
  readonly fleet: ReadonlyMap<string, readonly FleetOutcome[]>;
  /** 1-minute load average before and after: other work on the machine shows up here. */
  readonly loadAverage: { readonly before: number; readonly after: number };
  /** Time spent waiting for a quiet CPU before children (see QuietWindow). */
  readonly quietWaitMs: number;
}

/** Runs every scenario, one child process after another (never two measurements at once). */
export async function runSuite(plan: SuitePlan, entry: string): Promise<SuiteResults> {
  const before = loadavg()[0] ?? 0;
  const hot = new Map<string, HotOutcome>();
  const fleet = new Map<string, FleetOutcome[]>();
  const quiet = new QuietWindow(plan.quietBudgetMs);
  const child = async (scenario: ScenarioSpec) => {
    await quiet.wait();
    return runChild(entry, scenario);
  };
  const spec = (kind: 'hot' | 'fleet', target: TargetSpec, runs: number): ScenarioSpec => ({
    kind,
    target:
      kind === 'hot' && target.kind === 'engine'
        ? { ...target, maxQueuedPerSku: HOT_MAX_QUEUED }
        : target,
    shape: plan.shape,
    runs,
    runSeconds: plan.runSeconds,
    warmupCommands: plan.warmupCommands,
    maxCommands: plan.maxCommands,
    drive: plan.drive,
    seed: 20_261_101,
  });
  const extras = plan.extraPartitions.map(ENGINE);
  for (const [targets, runs] of [
    [MAIN_TARGETS, plan.runs],
    [extras, 1],
  ] as const) {
    for (const target of targets) {
      const started = performance.now();
      const outcome = (await child(spec('hot', target, runs))) as HotOutcome;
      hot.set(outcome.target, outcome);
      const line = outcome.runs.map(rate).join('  ');
      console.error(`hot   ${pad(outcome.target)} ${line}${took(started)}`);
    }
    for (const target of targets) {
      const started = performance.now();
      const outcomes: FleetOutcome[] = [];
      for (let r = 0; r < runs; r++) {
        outcomes.push((await child(spec('fleet', target, 1))) as FleetOutcome);
      }
      fleet.set(targetName(target), outcomes);
      const line = outcomes.map(fleetLine).join('  |  ');
      console.error(`fleet ${pad(targetName(target))} ${line}${took(started)}`);
    }
  }
  return {
    plan,
    hot,
    fleet,
    loadAverage: { before, after: loadavg()[0] ?? 0 },
    quietWaitMs: quiet.waitedMs,
  };
}

function took(started: number): string {
  return `  (${((performance.now() - started) / 1000).toFixed(0)} s)`;
}

function pad(name: string): string {
  return name.padEnd(11);
}

function rate(run: ThroughputRun): string {
  const shed = run.busy + run.refused === 0 ? '' : ` (${run.busy} busy, ${run.refused} refused)`;
  return `${Math.round(run.perSecond / 1000)}k/s${shed}${contended(run.othersCores)}`;
}

function contended(othersCores: number | null): string {
  return othersCores !== null && othersCores > 0.2
    ? ` [others used ${othersCores.toFixed(1)} cores]`
    : '';
}

function fleetLine(o: FleetOutcome): string {
  return (
    `load ${(o.loadMs / 1000).toFixed(2)} s${contended(o.loadOthersCores)}, ` +
    `${Math.round(o.heapBytesPerPosition)} B heap/pos, ${rate(o.spread)}`
  );
}
