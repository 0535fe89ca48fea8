/**
 * The server under test in the durable benchmark: the real Stockflow server as `npm start` runs
 * it (`node dist/gateway/main.js`, built first), configured by a STOCKFLOW_CONFIG file in a temp
 * dir that also holds the file store's data. For the Redis store it gets a redis-server of its
 * own (gateway-redis.ts RedisServer: a free port, a temp dir, `appendonly yes`, `appendfsync
 * always`). Stock goes in through the HTTP API; CPU and RSS are read from /proc, GC time from the
 * server's /metrics. `bare` is not Stockflow but the bare durable prototype (bench/durable-bare.ts,
 * the architecture's ceiling), run with the same node flags and spoken to on the same paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, metricValue, waitFor } from '../test/persistence/server-process.ts';
import { RedisServer } from './gateway-redis.ts';
import { CHANNEL, LOCATION } from './durable-load.ts';

/**
 * Stockflow's stores, `file1`: the file store on one worker (`server.workers: 1`, like for like
 * with the bare prototype, which runs one thread), and `bare`: the bare prototype
 * (bench/durable-bare.ts), not Stockflow.
 */
export type StoreKind = 'bare' | 'file' | 'file1' | 'redis' | 'memory';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'gateway', 'main.js');
const BARE = join(ROOT, 'bench', 'durable-bare.ts');

/** The node flags of package.json's `start` script (`node <flags> dist/gateway/main.js`), so the
 * bench runs the server exactly as `npm start` does. */
const START_FLAGS: readonly string[] = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const m = /node ((?:--\S+ )*)dist\/gateway\/main\.js/.exec(pkg.scripts.start ?? '');
  return (m?.[1] ?? '').split(' ').filter(Boolean);
})();

/** One reservation TTL for every run: long enough that nothing expires while it is measured. */
const RESERVATION_TTL_MS = 3_600_000;

export interface ServerKeys {
  readonly admin: string;
  readonly storefront: string;
}

/** CPU (user + system) and memory of a process, from /proc. */
export interface ProcSample {
  readonly cpuMicros: number;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
}

export function procSample(pid: number): ProcSample {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name
    // (in clock ticks, 100 a second on Linux).
    const cpuMicros = ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kib = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuMicros, rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
  } catch {
    return { cpuMicros: 0, rssBytes: 0, peakRssBytes: 0 };
  }
}

export interface MetricsSample {
  /** nodejs_gc_duration_seconds_sum over every kind of GC. */
  readonly gcSeconds: number;
  readonly heapUsedBytes: number;
  /** Group commits so far, and the records they wrote (stockflow_journal_group_commit_records). */
  readonly commits: number;
  readonly commitRecords: number;
}

export function buildConfig(
  store: StoreKind,
  keys: ServerKeys,
  products: readonly string[],
  dir: string,
  port: number,
  redisUrl: string | null,
): Record<string, unknown> {
  return {
    server: {
      host: '127.0.0.1',
      port,
      shutdownGraceMs: 1_000,
      ...(store === 'file1' ? { workers: 1 } : {}),
    },
    auth: {
      apiKeys: [
        { key: keys.admin, name: 'bench admin', role: 'admin' },
        { key: keys.storefront, name: 'bench storefront', role: 'storefront', channel: CHANNEL },
      ],
      // The bench measures the engine and its store, not the per-key rate limit.
      rateLimit: { perSecond: 1_000_000_000, burst: 1_000_000_000 },
    },
    persistence: {
      store: store === 'file1' ? 'file' : store,
      dir: join(dir, 'data'),
      ...(redisUrl === null ? {} : { redis: { url: redisUrl, strict: true } }),
    },
    rules: {
      channels: [{ id: CHANNEL, priority: 1, reservationTtlMs: RESERVATION_TTL_MS }],
    },
    locations: [{ id: LOCATION, type: 'dc' }],
    products: products.map((sku) => ({ sku })),
    log: { level: 'warn' },
  };
}

/** Writes the server's STOCKFLOW_CONFIG file into `dir`; returns its path. */
async function configFile(
  store: StoreKind,
  keys: ServerKeys,
  products: readonly string[],
  dir: string,
  port: number,
  redis: RedisServer | null,
  patch: (config: Record<string, unknown>) => Record<string, unknown>,
): Promise<string> {
  const file = join(dir, 'config.json');
  const url = redis === null ? null : `redis://127.0.0.1:${redis.port}`;
  await writeFile(file, JSON.stringify(patch(buildConfig(store, keys, products, dir, port, url))));
  return file;
}

/** The STOCKFLOW_* variables of this process's environment (`file1` keeps its one worker). */
function stockflowEnv(store: StoreKind): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[0].startsWith('STOCKFLOW_') &&
        e[1] !== undefined &&
        !(store === 'file1' && e[0] === 'STOCKFLOW_SERVER__WORKERS'),
    ),
  );
}

export class StockflowServer {
  private constructor(
    readonly store: StoreKind,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly keys: ServerKeys,
    readonly redis: RedisServer | null,
    private readonly output: () => string,
    private readonly exit: Promise<number | null>,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts a server on `store` knowing `products` (at LOCATION), and waits for /readyz. `patch`
   * changes the config before it is written (e.g. server.workers, more locations); `nodeFlags`
   * go to node after the others (bench/alloc.ts preloads its heap sampler with them).
   */
  static async start(
    store: StoreKind,
    keys: ServerKeys,
    products: readonly string[],
    patch: (config: Record<string, unknown>) => Record<string, unknown> = (c) => c,
    nodeFlags: readonly string[] = [],
  ): Promise<StockflowServer> {
    const dir = await mkdtemp(join(tmpdir(), 'stockflow-bench-durable-'));
    const redis = store === 'redis' ? await RedisServer.start('always') : null;
    const port = await freePort();
    // The node flags `npm start` passes, then DURABLE_SERVER_FLAGS (e.g. "--cpu-prof
    // --cpu-prof-dir=/tmp/p"), then the caller's.
    const flags = [
      ...START_FLAGS,
      ...(process.env.DURABLE_SERVER_FLAGS ?? '').split(' ').filter(Boolean),
      ...nodeFlags,
    ];
    // The bare prototype needs no config (it knows no products, keys or rules) and runs from the
    // repository root so `--import tsx` resolves; Stockflow runs from its temp dir.
    const launch =
      store === 'bare'
        ? {
            args: ['--import', 'tsx', ...flags, BARE, String(port), join(dir, 'data')],
            cwd: ROOT,
            env: { PATH: process.env.PATH ?? '' },
          }
        : {
            args: [...flags, MAIN],
            cwd: dir,
            // STOCKFLOW_* settings of the bench's own environment pass through (e.g.
            // STOCKFLOW_SERVER__WORKERS=1 to compare one worker with the default), over the
            // config file.
            env: {
              PATH: process.env.PATH ?? '',
              ...stockflowEnv(store),
              STOCKFLOW_CONFIG: await configFile(store, keys, products, dir, port, redis, patch),
            },
          };
    const child = spawn(process.execPath, launch.args, {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // DURABLE_SERVER_LOG=<file>: the server's whole output is appended there too (e.g. with
    // DURABLE_SERVER_FLAGS="--trace-gc" to see what its longest pauses are).
    const logFile = process.env.DURABLE_SERVER_LOG;
    const keep = (d: Buffer): void => {
      out = (out + d.toString()).slice(-16_384);
      if (logFile !== undefined) appendFileSync(logFile, d);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let dead = false;
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        dead = true;
        resolve(code);
      }),
    );
    const server = new StockflowServer(store, port, child, dir, keys, redis, () => out, exit);
    try {
      await waitFor(
        async () => {
          if (dead) throw new Error(`the server exited during start:\n${out}`);
          try {
            return (await fetch(`${server.base}/readyz`)).status === 200;
          } catch {
            return false;
          }
        },
        60_000,
        'the server to be ready',
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** Replaces a location's stock (POST /v1/inventory/snapshots, CSV); returns the summary. */
  async loadStock(
    stock: ReadonlyMap<string, number>,
    asOf: number,
    location = LOCATION,
  ): Promise<unknown> {
    const lines = ['sku,onHand'];
    for (const [sku, qty] of stock) lines.push(`${sku},${qty}`);
    const res = await fetch(
      `${this.base}/v1/inventory/snapshots?location=${location}&asOf=${asOf}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${this.keys.admin}`, 'content-type': 'text/csv' },
        body: `${lines.join('\n')}\n`,
      },
    );
    const body = await res.json();
    if (res.status !== 200) {
      throw new Error(`stock snapshot refused (${res.status}): ${JSON.stringify(body)}`);
    }
    return body;
  }

  async metrics(): Promise<MetricsSample> {
    const text = await (await fetch(`${this.base}/metrics`)).text();
    // GC durations are labelled by kind: summed over every kind.
    let gcSeconds = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('nodejs_gc_duration_seconds_sum')) {
        gcSeconds += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return {
      gcSeconds,
      heapUsedBytes: metricValue(text, 'nodejs_heap_size_used_bytes') ?? 0,
      commits: metricValue(text, 'stockflow_journal_group_commit_records_count') ?? 0,
      commitRecords: metricValue(text, 'stockflow_journal_group_commit_records_sum') ?? 0,
    };
  }

  /** What the server says is available of `sku` at LOCATION for the channel (GET /v1/availability). */
  async available(sku: string): Promise<number> {
    const res = await fetch(
      `${this.base}/v1/availability?channel=${CHANNEL}&sku=${encodeURIComponent(sku)}&location=${LOCATION}`,
      { headers: { authorization: `Bearer ${this.keys.admin}` } },
    );
    const body = (await res.json()) as { available?: number };
    return body.available ?? -1;
  }

  proc(): ProcSample {
    return procSample(this.pid);
  }

  /** Sends the server process a signal (bench/alloc.ts brackets its heap profile with SIGUSR2). */
  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await this.exit;
      clearTimeout(timer);
    }
    await this.redis?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  describe(): string {
    return this.output();
  }
}
