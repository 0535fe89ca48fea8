/**
 * Baseline (b): a Redis Lua check-and-reserve script through ioredis with auto-pipelining, the
 * usual way to build "never oversell" on Redis. The bench starts its own redis-server on a free
 * port in a temp dir; a worker process keeps `window` script calls in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { LoadResult } from './gateway-load.ts';
import { LatencyHistogram, prng, wallMs } from './gateway-wire.ts';
import { sendToParent } from './child-ipc.ts';

/** Idempotent on the reservation id; never takes more than is there. */
export const RESERVE_LUA = `
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then return 0 end
local available = tonumber(redis.call('GET', KEYS[1]) or '0')
local qty = tonumber(ARGV[2])
if available < qty then return -1 end
redis.call('DECRBY', KEYS[1], qty)
redis.call('HSET', KEYS[2], ARGV[1], qty)
return qty
`;

export type AppendFsync = 'off' | 'everysec' | 'always';

export interface RedisJob {
  readonly port: number;
  readonly workload: 'hot' | 'spread';
  readonly skus: number;
  readonly locations: number;
  readonly requests: number;
  readonly window: number;
  readonly idPrefix: string;
  readonly seed: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A redis-server of the bench's own, in a temp dir, with the given AOF policy. */
export class RedisServer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(fsync: AppendFsync): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), 'stockflow-bench-redis-'));
    const port = await freePort();
    const aof =
      fsync === 'off' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync];
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...aof],
      { stdio: 'ignore' },
    );
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => {
      // Refused until redis-server listens; retried below.
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await client.connect();
        await client.ping();
        break;
      } catch (error) {
        if (attempt > 100) throw error;
        client.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    client.disconnect();
    return new RedisServer(port, child, dir);
  }

  /** Sets every SKU-location's stock. */
  async load(skus: number, locations: number, stock: number): Promise<void> {
    const client = new Redis({ port: this.port, host: '127.0.0.1' });
    const pipeline = client.pipeline();
    pipeline.flushall();
    for (let s = 0; s < skus; s++) {
      for (let l = 0; l < locations; l++) pipeline.set(`stock:sku-${s}:loc-${l}`, stock);
    }
    await pipeline.exec();
    client.disconnect();
  }

  async get(key: string): Promise<string | null> {
    const client = new Redis({ port: this.port, host: '127.0.0.1' });
    const value = await client.get(key);
    client.disconnect();
    return value;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) =>
      this.child.once('exit', () => {
        resolve();
      }),
    );
    this.child.kill('SIGTERM');
    await exited;
    await rm(this.dir, { recursive: true, force: true });
  }
}

type ReserveClient = Redis & {
  reserve(stockKey: string, holdsKey: string, id: string, qty: number): Promise<number>;
};

async function runRedisJob(job: RedisJob): Promise<void> {
  const client = new Redis({
    port: job.port,
    host: '127.0.0.1',
    enableAutoPipelining: true,
  }) as ReserveClient;
  client.defineCommand('reserve', { numberOfKeys: 2, lua: RESERVE_LUA });
  const random = prng(job.seed);
  const keys: [string, string][] = [];
  for (let i = 0; i < job.requests; i++) {
    const s = job.workload === 'hot' ? 0 : Math.floor(random() * job.skus);
    const l = job.workload === 'hot' ? 0 : Math.floor(random() * job.locations);
    keys.push([`stock:sku-${s}:loc-${l}`, `holds:sku-${s}:loc-${l}`]);
  }
  await client.ping();
  process.send?.({ type: 'ready' });
  await new Promise<void>((resolve) =>
    process.once('message', () => {
      resolve();
    }),
  );
  const latency = new LatencyHistogram();
  const outcomes = new Map<string, number>();
  let next = 0;
  const cpu0 = process.cpuUsage();
  const startMs = wallMs();
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    const issue = (): void => {
      const i = next++;
      const [stockKey, holdsKey] = keys[i] as [string, string];
      const sent = performance.now();
      client.reserve(stockKey, holdsKey, `${job.idPrefix}-${i}`, 1).then((r) => {
        latency.recordMs(performance.now() - sent);
        const outcome = r > 0 ? 'ok' : r === 0 ? 'DUPLICATE' : 'INSUFFICIENT_STOCK';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        done++;
        if (done === job.requests) resolve();
        else if (next < job.requests) issue();
      }, reject);
    };
    for (let w = 0; w < Math.min(job.window, job.requests); w++) issue();
  });
  const endMs = wallMs();
  const cpu = process.cpuUsage(cpu0);
  client.disconnect();
  const result: LoadResult = {
    replies: latency.total,
    unreadable: 0,
    outcomes: Object.fromEntries(outcomes),
    latency: latency.toPairs(),
    startMs,
    endMs,
    cpuMicros: cpu.user + cpu.system,
  };
  await sendToParent({ type: 'result', result });
}

/** Runs as a forked child: the job comes as the first IPC message. */
export function serveRedisLoad(): void {
  process.once('message', (job: RedisJob) => {
    runRedisJob(job).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
