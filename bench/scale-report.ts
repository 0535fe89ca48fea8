/** The scale benchmark's shapes (scale-suite.ts measures them) and its report (bench/results/scale.md). */
import { execFileSync } from 'node:child_process';

export type ScaleCase = 'spread' | 'hot' | 'orders' | 'fanout';

export interface ScalePlan {
  readonly mode: 'quick' | 'full';
  /** The server's store: the default file store (fsync always), or memory (CPU without disk). */
  readonly store: 'file' | 'memory';
  readonly cases: readonly ScaleCase[];
  readonly workers: readonly number[];
  readonly rounds: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  readonly window: number;
  readonly ordersWindow: number;
  readonly fanout: {
    readonly connections: number;
    readonly topicsPerConnection: number;
    readonly skus: number;
    readonly changesPerSecond: number;
  };
}

const ALL_CASES: readonly ScaleCase[] = ['spread', 'hot', 'orders', 'fanout'];

export function parsePlan(args: readonly string[]): ScalePlan {
  const value = (flag: string): string | undefined => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : args[at + 1];
  };
  const quick = args.includes('--quick');
  const cases = (value('--cases')?.split(',') ?? ALL_CASES) as ScaleCase[];
  const unknown = cases.filter((c) => !ALL_CASES.includes(c));
  if (unknown.length > 0) throw new Error(`unknown case(s): ${unknown.join(', ')}`);
  return {
    mode: quick ? 'quick' : 'full',
    store: value('--store') === 'memory' ? 'memory' : 'file',
    cases,
    workers: (value('--workers') ?? '1,2').split(',').map(Number),
    rounds: Number(value('--rounds') ?? (quick ? 1 : 3)),
    durationMs: Number(value('--seconds') ?? (quick ? 1 : 5)) * 1_000,
    warmupMs: quick ? 300 : 1_000,
    connections: 8,
    window: 128,
    ordersWindow: 32,
    fanout: { connections: 100, topicsPerConnection: 100, skus: 1_000, changesPerSecond: 1_000 },
  };
}

export interface RunResult {
  readonly case: ScaleCase;
  readonly workers: number;
  readonly round: number;
  readonly seconds: number;
  /** Granted reserves, placed orders, or (fanout) timed deltas, a second. */
  readonly okPerSecond: number;
  /** Every other reply a second (refusals and errors); fanout: changes not applied. */
  readonly refusedPerSecond: number;
  readonly outcomes: Record<string, number>;
  /** Request latency, or (fanout) delivery latency from the change to the delta. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly serverCpuUsPerOk: number;
  readonly serverCores: number;
  /** Threads of the server process at the end of the run (workers show up here). */
  readonly serverThreads: number;
  /** The generator's own CPU (process.cpuUsage) over the run, in cores. */
  readonly generatorCores: number;
  /** CPU used by everything else on the machine during the run, in cores. */
  readonly othersCores: number;
  readonly note: string;
  /** Commands forwarded between workers over the run (with warm-up), and the messages used. */
  readonly forwarded: number;
  readonly forwardMessages: number;
}

export interface ScaleReport {
  readonly date: string;
  readonly commit: string;
  readonly plan: ScalePlan;
  readonly machine: Record<string, unknown>;
  readonly runs: readonly RunResult[];
  readonly wallSeconds: number;
}

interface CaseSpec {
  readonly label: string;
  readonly headline: (r: RunResult) => number;
  readonly unit: string;
  /** Whether the ratio (last workers / first) meets the target. */
  readonly met: (ratio: number) => boolean;
  readonly target: string;
}

export const CASES: Readonly<Record<ScaleCase, CaseSpec>> = {
  spread: {
    label: 'durable granted reserves, spread over 10k SKU-locations',
    headline: (r) => r.okPerSecond,
    unit: '/s',
    met: (x) => x >= 1.5,
    target: '>= 1.5x',
  },
  hot: {
    label: 'durable granted reserves, hot (one SKU-location)',
    headline: (r) => r.okPerSecond,
    unit: '/s',
    met: (x) => x >= 1.2,
    target: '>= 1.2x',
  },
  orders: {
    label: 'orders placed',
    headline: (r) => r.okPerSecond,
    unit: '/s',
    met: (x) => x >= 1.5,
    target: '>= 1.5x',
  },
  fanout: {
    label: 'fan-out to 10k subscriptions: p99 delivery latency',
    headline: (r) => r.p99Ms,
    unit: ' ms',
    met: (x) => x <= 1,
    target: '<= 1x (no worse)',
  },
};

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface TargetRow {
  readonly case: ScaleCase;
  readonly measure: string;
  /** Median headline per workers value, in plan order. */
  readonly medians: readonly number[];
  readonly ratio: number;
  readonly target: string;
  readonly met: boolean;
}

export function targetRows(report: ScaleReport): TargetRow[] {
  return report.plan.cases.map((c) => {
    const spec = CASES[c];
    const medians = report.plan.workers.map((w) =>
      round(median(report.runs.filter((r) => r.case === c && r.workers === w).map(spec.headline))),
    );
    const first = medians[0] ?? 0;
    const ratio = first === 0 ? 0 : round((medians[medians.length - 1] ?? 0) / first);
    return {
      case: c,
      measure: spec.label,
      medians,
      ratio,
      target: spec.target,
      met: spec.met(ratio),
    };
  });
}

function fmt(n: number): string {
  return n >= 10_000 ? `${round(n / 1_000, 1)}k` : String(round(n));
}

function targetTable(report: ScaleReport): string[] {
  const ws = report.plan.workers;
  const rows = targetRows(report).map((t) => {
    const unit = CASES[t.case].unit;
    const cells = t.medians.map((m) => `${fmt(m)}${unit}`);
    return `| ${t.measure} | ${cells.join(' | ')} | ${t.ratio}x | ${t.target} | ${t.met ? 'yes' : '**no**'} |`;
  });
  return [
    `| case | ${ws.map((w) => `workers ${w}`).join(' | ')} | ratio (${ws[ws.length - 1]}/${ws[0]}) | target | met |`,
    `| --- | ${ws.map(() => '---:').join(' | ')} | ---: | --- | --- |`,
    ...rows,
  ];
}

/** Requests and answers per message between workers (each forwarded command is two items). */
function perMessage(r: RunResult): string {
  return r.forwardMessages === 0 ? '' : String(round((2 * r.forwarded) / r.forwardMessages, 1));
}

function runTable(report: ScaleReport): string[] {
  const rows = report.runs.map(
    (r) =>
      `| ${r.case} | ${r.workers} | ${r.round} | ${fmt(r.okPerSecond)} | ${fmt(r.refusedPerSecond)} | ` +
      `${r.p50Ms} | ${r.p99Ms} | ${round(r.maxMs)} | ${r.serverCpuUsPerOk} | ${r.serverCores} | ` +
      `${r.serverThreads} | ${fmt(r.forwarded)} | ${perMessage(r)} | ${r.generatorCores} | ` +
      `${r.othersCores} | ${r.note} |`,
  );
  return [
    '| case | workers | round | ok/s | refused/s | p50 ms | p99 ms | max ms | server CPU µs/ok | server cores | server threads | forwarded | items per message | generator cores | other processes (cores) | notes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ];
}

export function renderMarkdown(report: ScaleReport): string {
  const m = report.machine;
  const p = report.plan;
  const f = p.fanout;
  const gen = report.runs.map((r) => r.generatorCores);
  return [
    '# Every core: workers 1 against workers 2 (issue #12)',
    '',
    `${report.date} (${p.mode} run, ${report.wallSeconds} s), commit ${report.commit}, ${String(m.cpus)} × ${String(m.cpu)}, ` +
      `Node ${String(m.node)}; load average at start ${JSON.stringify(m.loadAverageAtStart)}, at end ${JSON.stringify(m.loadAverageAtEnd)}.`,
    `Each case runs ${p.rounds} round(s) of ${p.durationMs / 1_000} s per workers setting, alternating (${p.workers.join(', ')}, then reversed), ` +
      `each on a fresh server process (\`node dist/gateway/main.js\`, ${p.store === 'file' ? 'file store, fsync always' : 'memory store: no disk'}) in a fresh temp dir; the figures below are medians of the rounds. ` +
      `Load: raw-socket WebSocket generators in a process of their own, msgpack frames built before the clock starts; reserves ${p.connections} connections × ${p.window} in flight (qty 1, unique reservation ids), ` +
      `orders ${p.connections} × ${p.ordersWindow} (placeOrder, 1-2 lines, shipped, sourced over 4 locations); fan-out ${f.connections} connections × ${f.topicsPerConnection} topics over ${f.skus} SKUs, ` +
      `${f.changesPerSecond} stock changes/s (POST /v1/inventory/adjustments), latency from the change's send to each subscription's delta. (\`npm run bench:scale\`, \`-- --quick\` for a smoke run.)`,
    '',
    '## Targets',
    '',
    ...targetTable(report),
    '',
    `Rates count granted reserves and placed orders only; refusals are counted apart (refused/s below). The generator used ${round(Math.min(...gen))}-${round(Math.max(...gen))} of a core. ` +
      "Fan-out delay includes the engine's delta conflation (engine.conflationMs, 50 ms by default). " +
      'Server threads tell whether workers ran: a server with workers has more threads than one without (same count in both columns: the setting was ignored).',
    '',
    '## Every round',
    '',
    ...runTable(report),
    '',
  ].join('\n');
}

export function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
