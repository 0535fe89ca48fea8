import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';

type WorkerMetrics = Parameters<typeof AggregatorRegistry.aggregate>[0][number];
import type { Config } from '../../config/index.ts';
import { sharedRateMemory } from '../auth.ts';
import type { FromWorker, ToWorker, WorkerInit } from './control.ts';

/**
 * The main thread when server.workers > 1 (docs/scaling.md): checks the data holds as many shards
 * as there are workers, starts one worker thread per shard (gateway/shards/worker-main.ts) with a
 * MessageChannel between every two of them, lets them listen on the one port once every shard has
 * recovered, merges their metrics for /metrics, drains them all on shutdown, and ends the process
 * when one dies: the supervisor (systemd, Kubernetes) restarts it and every shard recovers from
 * its own journal. A shard is never served twice: its files and keys belong to one thread.
 */

export interface WorkerPool {
  readonly port: number;
  readonly metricsPort: number | null;
  stop(): Promise<void>;
}

class ShardWorker {
  private readonly waiters = new Map<string, ((m: FromWorker) => void)[]>();
  exited = false;
  /** Resolves when the thread has exited: a step waiting for its answer then waits no more. */
  readonly ended: Promise<void>;

  constructor(
    readonly shard: number,
    readonly thread: Worker,
    private readonly onMessage: (w: ShardWorker, m: FromWorker) => void,
  ) {
    this.ended = new Promise((resolve) => {
      thread.once('exit', () => {
        this.exited = true;
        resolve();
      });
    });
    thread.on('message', (m: FromWorker) => {
      const list = this.waiters.get(m.type);
      const waiter = list?.shift();
      if (waiter !== undefined) waiter(m);
      else this.onMessage(this, m);
    });
  }

  send(message: ToWorker): void {
    if (!this.exited) this.thread.postMessage(message);
  }

  /** The next message of a type (the start and stop steps each wait for one). */
  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve) => {
      const list = this.waiters.get(type) ?? [];
      list.push(resolve as (m: FromWorker) => void);
      this.waiters.set(type, list);
    });
  }
}

/** The worker script: the built JavaScript, or under tsx the TypeScript through tsx's loader. */
function spawn(init: WorkerInit, transfer: MessagePort[]): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const file = fileURLToPath(new URL('./worker-main.ts', here));
    const boot =
      `import('tsx/esm/api').then(({ tsImport }) => ` +
      `tsImport(${JSON.stringify(file)}, ${JSON.stringify(here)}))`;
    return new Worker(boot, { eval: true, workerData: init, transferList: transfer });
  }
  return new Worker(new URL('./worker-main.js', here), {
    workerData: init,
    transferList: transfer,
  });
}

export async function startWorkers(
  config: Config,
  count: number,
  log: Logger,
): Promise<WorkerPool> {
  // ports[i][j]: worker i's end of the channel to worker j.
  const ports: (MessagePort | null)[][] = Array.from({ length: count }, () =>
    Array.from({ length: count }, () => null),
  );
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      const { port1, port2 } = new MessageChannel();
      (ports[i] as (MessagePort | null)[])[j] = port1;
      (ports[j] as (MessagePort | null)[])[i] = port2;
    }
  }
  let stopping = false;
  const metrics = new MetricsCollector();
  const workers: ShardWorker[] = [];
  const rateMemory = sharedRateMemory(config.auth.apiKeys.length, config.auth.rateLimit);
  const health = new SharedArrayBuffer(4 * count);
  const onMessage = (w: ShardWorker, m: FromWorker): void => {
    if (m.type === 'scrape') {
      metrics.collect(workers).then(
        (body) => {
          w.send({ type: 'scraped', id: m.id, body });
        },
        (error: unknown) => {
          log.error({ err: error }, 'collecting the workers’ metrics failed');
          w.send({ type: 'scraped', id: m.id, body: null });
        },
      );
    } else if (m.type === 'collected') {
      metrics.answer(m);
    } else if (m.type === 'failed') {
      log.fatal({ shard: w.shard, reason: m.message }, 'a shard worker failed; exiting');
      process.exit(1);
    }
  };
  for (let k = 0; k < count; k++) {
    const own = ports[k] as (MessagePort | null)[];
    const thread = spawn(
      { shard: k, count, config, rateMemory, health, ports: own },
      own.filter((p): p is MessagePort => p !== null),
    );
    const w = new ShardWorker(k, thread, onMessage);
    thread.on('error', (error) => {
      log.fatal(
        { err: error, shard: k },
        'a shard worker crashed; exiting so every shard recovers',
      );
      process.exit(1);
    });
    thread.on('exit', (code) => {
      if (stopping) return;
      log.fatal({ shard: k, code }, 'a shard worker exited; exiting so every shard recovers');
      process.exit(1);
    });
    workers.push(w);
  }
  // Every shard recovered (in parallel, each from its own journal) before anyone listens.
  await Promise.all(workers.map((w) => w.next('ready')));
  const first = workers[0] as ShardWorker;
  first.send({ type: 'listen', port: config.server.port, metricsPort: config.server.metricsPort });
  const bound = await first.next('listening');
  await Promise.all(
    workers.slice(1).map((w) => {
      w.send({ type: 'listen', port: bound.port, metricsPort: bound.metricsPort });
      return w.next('listening');
    }),
  );
  log.info({ workers: count, port: bound.port }, 'every shard worker is listening');
  return {
    port: bound.port,
    metricsPort: bound.metricsPort,
    async stop() {
      stopping = true;
      // Every worker takes a step and says it is done (or has exited) before the next step.
      const step = (message: ToWorker, done: FromWorker['type']): Promise<unknown> =>
        Promise.all(
          workers.map((w) => {
            w.send(message);
            return Promise.race([w.next(done), w.ended]);
          }),
        );
      // Gateways first, while every shard still answers the others' forwarded commands.
      await step({ type: 'drain' }, 'drained');
      // Then the order services, while every engine still takes their allocations.
      await step({ type: 'quiesce' }, 'quiesced');
      await step({ type: 'stop' }, 'stopped');
      await Promise.all(workers.map((w) => w.thread.terminate()));
    },
  };
}

/** Gathers every worker's registry (getMetricsAsJSON) and sums them (prom-client's aggregator). */
const COLLECT_TIMEOUT_MS = 5_000;

class MetricsCollector {
  private nextId = 1;
  private readonly rounds = new Map<
    number,
    { parts: WorkerMetrics[]; left: number; done: (parts: WorkerMetrics[]) => void }
  >();

  collect(workers: readonly ShardWorker[]): Promise<string> {
    const id = this.nextId++;
    return new Promise<WorkerMetrics[]>((resolve, reject) => {
      // A worker too busy to answer fails the scrape (500) rather than leaving part of the
      // process out: counters missing from one scrape would read as resets to Prometheus.
      const timer = setTimeout(() => {
        this.rounds.delete(id);
        reject(
          new Error(`a worker did not answer for its metrics within ${COLLECT_TIMEOUT_MS} ms`),
        );
      }, COLLECT_TIMEOUT_MS);
      const done = (parts: WorkerMetrics[]): void => {
        clearTimeout(timer);
        resolve(parts);
      };
      this.rounds.set(id, { parts: [], left: workers.length, done });
      for (const w of workers) w.send({ type: 'collect', id });
    }).then((parts) => {
      for (const part of parts) {
        for (const m of part as { name: string; aggregator?: string }[]) {
          const how = aggregatorOf(m.name);
          if (how !== null) m.aggregator = how;
        }
      }
      return AggregatorRegistry.aggregate(parts).metrics();
    });
  }

  answer(m: Extract<FromWorker, { type: 'collected' }>): void {
    const round = this.rounds.get(m.id);
    if (round === undefined) return;
    round.parts.push(m.metrics as WorkerMetrics);
    if (--round.left === 0) {
      this.rounds.delete(m.id);
      round.done(round.parts);
    }
  }
}

/**
 * How a metric is merged across workers when a sum would mislead. Counts of each shard's own
 * things (positions, reservations, requests, connections) add up; but process_* metrics are the
 * process's own (every thread reads the same value), every shard holds every location and
 * product, and a saturated worker must show as saturated, not be averaged away.
 */
function aggregatorOf(name: string): 'first' | 'max' | 'min' | null {
  // Available only while every shard's journal is.
  if (name === 'stockflow_journal_available') return 'min';
  if (name === 'stockflow_snapshot_last_seconds' || name === 'stockflow_recovery_seconds') {
    return 'max';
  }
  if (name.startsWith('process_') || name === 'nodejs_version_info') return 'first';
  if (name === 'stockflow_engine_skus' || name === 'stockflow_engine_locations') return 'max';
  if (name.startsWith('nodejs_eventloop_lag')) return 'max';
  if (name === 'stockflow_event_loop_utilization') return 'max';
  if (name.endsWith('_max') || name === 'stockflow_snapshot_longest_turn_seconds') return 'max';
  return null;
}
