import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { LoadJob, LoadMessage, LoadResult } from './gateway-load.ts';
import type {
  PublishLog,
  SubscribersJob,
  SubscribersMessage,
  SubscribersReport,
} from './gateway-subscribers.ts';
import type { ServerMessage, ServerRequest, ServerSpec } from './gateway-server.ts';
import { LatencyHistogram } from './gateway-wire.ts';

/**
 * Child processes of the gateway benchmark: every server and every load generator runs in a
 * process of its own (bench/gateway.ts dispatches on `--child <kind> <json>`), so a generator
 * never shares an event loop with what it measures.
 */
const ENTRY = fileURLToPath(new URL('./gateway.ts', import.meta.url));

/**
 * The machine a benchmark ran on, for its report: cores, CPU model, memory, Node, and the load
 * average at the start (`loadAtStart`, os.loadavg() then) and now.
 */
export function machineInfo(loadAtStart: readonly number[]): Record<string, unknown> {
  const r2 = (n: number): number => Math.round(n * 100) / 100;
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverageAtStart: loadAtStart.map(r2),
    loadAverageAtEnd: loadavg().map(r2),
  };
}

/** Busy and total CPU time of the whole machine so far, from /proc/stat (in clock ticks). */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** Waits (at most `maxMs`) until the machine is nearly idle, so a run does not start contended. */
export async function quietCpu(maxMs = 20_000, busyCores = 0.3): Promise<number> {
  const cores = cpus().length;
  const started = performance.now();
  for (;;) {
    const a = machineCpu();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = machineCpu();
    const busy = b.total === a.total ? 0 : ((b.busy - a.busy) / (b.total - a.total)) * cores;
    if (busy <= busyCores || performance.now() - started > maxMs) return busy;
  }
}

export function forkChild(kind: string, spec: unknown): ChildProcess {
  return fork(ENTRY, ['--child', kind, JSON.stringify(spec)], {
    execArgv: [
      '--import',
      'tsx',
      '--max-old-space-size=4096',
      // BENCH_PROFILE=server writes a CPU profile of each server process (for tuning).
      ...(process.env.BENCH_PROFILE === kind ? ['--cpu-prof', '--cpu-prof-dir=/tmp/gw-prof'] : []),
      ...(kind === 'server'
        ? (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean)
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function nextMessage<T>(child: ChildProcess, match: (m: T) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T): void => {
      if (!match(m)) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new Error(`child exited with ${String(code)}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export class ServerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(spec: ServerSpec): Promise<ServerProcess> {
    const child = forkChild('server', spec);
    const ready = await nextMessage<ServerMessage>(child, (m) => m.type === 'ready');
    if (ready.type !== 'ready') throw new Error('unexpected message');
    return new ServerProcess(child, ready.port);
  }

  async ask<T extends ServerMessage['type']>(
    request: ServerRequest & { type: T },
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const answer = nextMessage<ServerMessage>(this.child, (m) => m.type === request.type);
    this.child.send(request);
    return (await answer) as Extract<ServerMessage, { type: T }>;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) =>
      this.child.once('exit', () => {
        resolve();
      }),
    );
    this.child.send({ type: 'stop' } satisfies ServerRequest);
    await exited;
  }
}

export interface LoadSummary {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly outcomes: Record<string, number>;
  readonly unreadable: number;
  readonly startMs: number;
  readonly endMs: number;
  /** CPU the generator processes used, in cores (1 = one core busy for the whole run). */
  readonly generatorCores: number;
}

/** Runs `workers` generator processes (`load` or `redis`), started together; merges results. */
export async function runWorkers(
  kind: 'load' | 'redis',
  job: (worker: number) => unknown,
  workers: number,
): Promise<LoadSummary> {
  const children = Array.from({ length: workers }, () => forkChild(kind, {}));
  const exits = children.map(
    (c) =>
      new Promise<void>((resolve) =>
        c.once('exit', () => {
          resolve();
        }),
      ),
  );
  const readies = children.map((c) => nextMessage<LoadMessage>(c, (m) => m.type === 'ready'));
  const results = children.map((c) => nextMessage<LoadMessage>(c, (m) => m.type === 'result'));
  children.forEach((c, i) => {
    c.send(job(i) as object);
  });
  await Promise.all(readies);
  for (const c of children) c.send('go');
  const done = (await Promise.all(results)).map((m) => (m as { result: LoadResult }).result);
  await Promise.all(exits);
  return summarize(done);
}

/** The WebSocket load generator on one job (ids kept apart per worker). */
export function runLoad(job: Omit<LoadJob, 'seed'>, workers: number): Promise<LoadSummary> {
  return runWorkers(
    'load',
    (i) => ({ ...job, idPrefix: `${job.idPrefix}w${i}`, seed: i + 1 }) satisfies LoadJob,
    workers,
  );
}

function summarize(done: readonly LoadResult[]): LoadSummary {
  const latency = new LatencyHistogram();
  const outcomes: Record<string, number> = {};
  let replies = 0;
  let unreadable = 0;
  for (const r of done) {
    latency.addPairs(r.latency);
    replies += r.replies;
    unreadable += r.unreadable;
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  }
  const start = Math.min(...done.map((r) => r.startMs));
  const end = Math.max(...done.map((r) => r.endMs));
  const seconds = (end - start) / 1_000;
  return {
    requests: replies,
    seconds,
    perSecond: replies / seconds,
    p50Ms: latency.quantileMs(0.5),
    p99Ms: latency.quantileMs(0.99),
    p999Ms: latency.quantileMs(0.999),
    outcomes,
    unreadable,
    startMs: start,
    endMs: end,
    generatorCores: done.reduce((sum, r) => sum + r.cpuMicros, 0) / 1e6 / seconds,
  };
}

/** Fan-out subscriber processes: connected and subscribed when this resolves. */
export class SubscriberGroup {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(
    job: (worker: number) => SubscribersJob,
    workers: number,
  ): Promise<SubscriberGroup> {
    const children = Array.from({ length: workers }, () => forkChild('subscribers', {}));
    const readies = children.map((c) =>
      nextMessage<SubscribersMessage>(c, (m) => m.type === 'ready'),
    );
    children.forEach((c, i) => c.send(job(i)));
    await Promise.all(readies);
    return new SubscriberGroup(children);
  }

  /** Hands over the publish log; gathers every worker's report. */
  async report(log: PublishLog): Promise<SubscribersReport[]> {
    const reports = this.children.map((c) =>
      nextMessage<SubscribersMessage>(c, (m) => m.type === 'report'),
    );
    for (const c of this.children) c.send(log);
    return (await Promise.all(reports)).map((m) => (m as { report: SubscribersReport }).report);
  }
}
