import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { DEFAULT_PARTITIONS, type SuiteResults } from './engine-suite.ts';
import type { FleetOutcome, ThroughputRun } from './engine-scenarios.ts';
import { positionsOf } from './engine-workloads.ts';

/** The targets, all judged on the engine with its default partitions. */
interface Target {
  readonly op: '>=' | '<=' | '<';
  readonly value: number;
}

interface ImplementationResult {
  readonly runs: readonly number[];
  readonly median: number;
  /** Throughput scenarios: BUSY and refused answers over all runs (none count as reservations). */
  readonly busy?: number;
  readonly refused?: number;
  /** Throughput scenarios: median share of the timed run spent in garbage collection. */
  readonly gcShare?: number;
  /** Timed scenarios, per run: cores other processes kept busy meanwhile (see CpuContention). */
  readonly othersCores?: readonly (number | null)[];
}

interface ScenarioReport {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly target: Target | null;
  readonly results: Readonly<Record<string, ImplementationResult>>;
  /** Engine (default partitions) against the target; null without a target. */
  readonly pass: boolean | null;
  /** Engine median / baseline median. */
  readonly ratio: { readonly vsMap: number | null; readonly vsNact: number | null };
}

export interface BenchReport {
  readonly benchmark: 'engine';
  readonly mode: 'full' | 'quick';
  readonly date: string;
  /** The commit measured, and whether engine/ had uncommitted changes on top of it. */
  readonly source: { readonly commit: string | null; readonly engineModified: boolean | null };
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: { readonly model: string; readonly cores: number };
  readonly memoryGB: number;
  readonly loadAverage: SuiteResults['loadAverage'];
  readonly quietWaitMs: number;
  readonly config: Readonly<Record<string, unknown>>;
  readonly engine: string;
  readonly scenarios: readonly ScenarioReport[];
}

const ENGINE = `engine-p${DEFAULT_PARTITIONS}`;
const MAP = 'map';
const NACT = 'nact';

export function buildReport(results: SuiteResults): BenchReport {
  const { plan } = results;
  const hotRuns = (name: string): readonly ThroughputRun[] => results.hot.get(name)?.runs ?? [];
  const spreadRuns = (name: string): ThroughputRun[] =>
    (results.fleet.get(name) ?? []).map((o) => o.spread);
  const fleetValues = (
    pick: (o: FleetOutcome) => number | null,
    timed: boolean,
  ): Record<string, ImplementationResult> => {
    const out: Record<string, ImplementationResult> = {};
    for (const [name, outcomes] of results.fleet) {
      const measured = outcomes.filter((o) => pick(o) !== null);
      const runs = measured.map((o) => pick(o) ?? NaN);
      if (runs.length === 0) continue;
      out[name] = timed
        ? { runs, median: median(runs), othersCores: measured.map((o) => o.loadOthersCores) }
        : { runs, median: median(runs) };
    }
    return out;
  };
  const scenarios: ScenarioReport[] = [
    scenario(
      'hot-reservations',
      'Reservations/s, one hot SKU-location',
      'reservations/s',
      'higher',
      { op: '>=', value: 400_000 },
      throughput([...results.hot.keys()], hotRuns),
    ),
    scenario(
      'spread-reservations',
      `Reservations/s, spread over ${count(positionsOf(plan.shape))} positions`,
      'reservations/s',
      'higher',
      { op: '>=', value: 300_000 },
      throughput([...results.fleet.keys()], spreadRuns),
    ),
    scenario(
      'heap-per-position',
      'Heap per idle position',
      'bytes',
      'lower',
      { op: '<=', value: 1_500 },
      fleetValues((o) => o.heapBytesPerPosition, false),
    ),
    scenario(
      'rss-per-position',
      'RSS per idle position',
      'bytes',
      'lower',
      null,
      fleetValues((o) => o.rssBytesPerPosition, false),
    ),
    scenario(
      'load-time',
      `Load ${count(positionsOf(plan.shape))} positions (master data + one setOnHand each)`,
      'ms',
      'lower',
      { op: '<', value: 5_000 },
      fleetValues((o) => o.loadMs, true),
    ),
    scenario(
      'nact-spawn-time',
      'of which spawning the actors (nact-per-position)',
      'ms',
      'lower',
      null,
      fleetValues((o) => o.spawnMs, true),
    ),
  ];
  const cpu = cpus();
  return {
    benchmark: 'engine',
    mode: plan.mode,
    date: new Date().toISOString(),
    source: sourceRevision(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpu: { model: cpu[0]?.model ?? 'unknown', cores: cpu.length },
    memoryGB: Math.round(totalmem() / 2 ** 30),
    loadAverage: results.loadAverage,
    quietWaitMs: results.quietWaitMs,
    config: {
      skus: plan.shape.skus,
      locations: plan.shape.locations,
      positions: positionsOf(plan.shape),
      runs: plan.runs,
      runSecondsAimed: plan.runSeconds,
      warmupCommands: plan.warmupCommands,
      chunkPerTurn: plan.drive.chunk,
      maxInflight: plan.drive.maxInflight,
      extraPartitionsRunOnce: plan.extraPartitions,
    },
    engine: ENGINE,
    scenarios,
  };
}

function sourceRevision(): BenchReport['source'] {
  const git = (...args: string[]): string | null => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return null;
    }
  };
  const commit = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain', '--', 'engine');
  return {
    commit: commit === null ? null : commit.trim(),
    engineModified: status === null ? null : status.trim().length > 0,
  };
}

function throughput(
  names: readonly string[],
  runsOf: (name: string) => readonly ThroughputRun[],
): Record<string, ImplementationResult> {
  const out: Record<string, ImplementationResult> = {};
  for (const name of names) {
    const runs = runsOf(name);
    if (runs.length === 0) continue;
    const rates = runs.map((r) => r.perSecond);
    out[name] = {
      runs: rates,
      median: median(rates),
      busy: runs.reduce((n, r) => n + r.busy, 0),
      refused: runs.reduce((n, r) => n + r.refused, 0),
      gcShare: median(runs.map((r) => r.gcMs / r.ms)),
      othersCores: runs.map((r) => r.othersCores),
    };
  }
  return out;
}

function scenario(
  id: string,
  title: string,
  unit: string,
  better: 'higher' | 'lower',
  target: Target | null,
  results: Record<string, ImplementationResult>,
): ScenarioReport {
  const engine = results[ENGINE]?.median;
  const versus = (name: string): number | null => {
    const base = results[name]?.median;
    return engine === undefined || base === undefined || base === 0 ? null : engine / base;
  };
  return {
    id,
    title,
    unit,
    better,
    target,
    results,
    pass: target === null || engine === undefined ? null : meets(engine, target),
    ratio: { vsMap: versus(MAP), vsNact: versus(NACT) },
  };
}

function meets(value: number, target: Target): boolean {
  switch (target.op) {
    case '>=':
      return value >= target.value;
    case '<=':
      return value <= target.value;
    case '<':
      return value < target.value;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

// ---- markdown ---------------------------------------------------------------------------------

export function renderMarkdown(report: BenchReport): string {
  const byId = new Map(report.scenarios.map((s) => [s.id, s]));
  return [
    ...heading(report),
    ...mainTable(report.scenarios),
    ...partitionTable(byId),
    ...notes(report),
  ].join('\n');
}

function heading(report: BenchReport): string[] {
  const c = report.config;
  return [
    `# Engine benchmark (${report.mode})`,
    '',
    `${report.date.slice(0, 10)} · commit ${revision(report.source)} · Node ${report.node} · ` +
      `${report.cpu.model} × ${report.cpu.cores} · ` +
      `${count(Number(c.positions))} positions (${count(Number(c.skus))} SKUs × ${count(Number(c.locations))} locations) · ` +
      `median of ${String(c.runs)} run(s), each in a fresh process (hot: a fresh target) after a warm-up · ` +
      `${count(Number(c.chunkPerTurn))} commands per event-loop turn, at most ${count(Number(c.maxInflight))} in flight, ` +
      'one result sink · `npm run bench:engine`',
    '',
  ];
}

function mainTable(scenarios: readonly ScenarioReport[]): string[] {
  const lines = [
    `| scenario | engine (${DEFAULT_PARTITIONS} partitions) | Map baseline | nact-per-position | ratio (engine ÷ baseline) | target | met? |`,
    '| --- | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const s of scenarios) {
    const ratio = [
      s.ratio.vsMap === null ? null : `${s.ratio.vsMap.toFixed(2)}× Map`,
      s.ratio.vsNact === null ? null : `${s.ratio.vsNact.toFixed(2)}× nact`,
    ].filter((x) => x !== null);
    const target = s.target === null ? '–' : `${s.target.op} ${format(s.target.value, s.unit)}`;
    const met = s.pass === null ? '–' : s.pass ? 'yes' : '**no**';
    const cells = [ENGINE, MAP, NACT].map((name) => cell(s, name));
    lines.push(
      `| ${s.title} | ${cells.join(' | ')} | ${ratio.join(', ') || '–'} | ${target} | ${met} |`,
    );
  }
  return lines;
}

function partitionTable(byId: ReadonlyMap<string, ScenarioReport>): string[] {
  const ids = ['hot-reservations', 'spread-reservations', 'heap-per-position', 'load-time'];
  const engines = Object.keys(byId.get('hot-reservations')?.results ?? {})
    .filter((n) => n.startsWith('engine-p'))
    .sort((a, b) => partitionsOf(a) - partitionsOf(b));
  return [
    '',
    '## Engine partitions',
    '',
    `Default ${DEFAULT_PARTITIONS}. Counts other than ${DEFAULT_PARTITIONS} and 1 are measured once.`,
    '',
    '| partitions | hot reservations/s | spread reservations/s | heap per idle position | load |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...engines.map((name) => {
      const cells = ids.map((id) => {
        const s = byId.get(id);
        return s === undefined ? '–' : cell(s, name);
      });
      return `| ${partitionsOf(name)} | ${cells.join(' | ')} |`;
    }),
  ];
}

function notes(report: BenchReport): string[] {
  const throughput = report.scenarios.filter((s) => s.unit === 'reservations/s');
  const shed = throughput
    .flatMap((s) => Object.entries(s.results).map(([name, r]) => ({ s, name, r })))
    .filter(({ r }) => (r.busy ?? 0) + (r.refused ?? 0) > 0)
    .map(({ s, name, r }) => `${s.id} ${name}: ${r.busy ?? 0} BUSY, ${r.refused ?? 0} refused`);
  const gc = throughput.map(
    (s) =>
      `${s.id}: ` +
      Object.entries(s.results)
        .map(([name, r]) => `${name} ${Math.round((r.gcShare ?? 0) * 100)}%`)
        .join(', '),
  );
  const contention = report.scenarios
    .flatMap((s) => Object.values(s.results))
    .flatMap((r) => r.othersCores ?? [])
    .filter((c) => c !== null);
  return [
    '',
    shed.length === 0
      ? 'Every reservation of every timed run was granted (no BUSY, no refusals).'
      : `Not granted, so not counted as reservations: ${shed.join('; ')}.`,
    '',
    `Share of the timed runs spent in garbage collection (median): ${gc.join('; ')}.`,
    '',
    contention.length === 0
      ? 'CPU taken by other processes during timed runs: unknown (no /proc/stat).'
      : `CPU taken by other processes during timed runs: median ${median(contention).toFixed(2)}, ` +
        `max ${Math.max(...contention).toFixed(2)} of ${report.cpu.cores} cores ` +
        '(per run in engine.json, `othersCores`; above ~0.2 a run competed for the CPU). ' +
        `Load average (1 min) before / after the suite: ${report.loadAverage.before.toFixed(2)} / ` +
        `${report.loadAverage.after.toFixed(2)}; ${(report.quietWaitMs / 1000).toFixed(0)} s spent ` +
        'waiting for a quiet CPU before children.',
    '',
  ];
}

function revision(source: BenchReport['source']): string {
  if (source.commit === null) return 'unknown';
  return `${source.commit.slice(0, 7)}${source.engineModified === true ? ' (engine/ modified)' : ''}`;
}

function cell(s: ScenarioReport, name: string): string {
  const r = s.results[name];
  return r === undefined ? '–' : format(r.median, s.unit);
}

function partitionsOf(name: string): number {
  return Number(name.slice('engine-p'.length));
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function format(value: number, unit: string): string {
  switch (unit) {
    case 'reservations/s':
      return value >= 1e6 ? `${(value / 1e6).toFixed(2)}M/s` : `${Math.round(value / 1e3)}k/s`;
    case 'bytes':
      return `${count(Math.round(value))} B`;
    case 'ms':
      return `${(value / 1000).toFixed(2)} s`;
    default:
      return String(value);
  }
}
