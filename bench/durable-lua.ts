/**
 * The baseline of the durable benchmark: the Redis Lua check-and-reserve of the gateway
 * benchmark (gateway-redis.ts RESERVE_LUA: check the stock, decrement it, write the reservation
 * into the SKU-location's hash) on a redis-server with `appendonly yes` and `appendfsync always`,
 * called through ioredis with auto-pipelining by `callers` concurrent callers for a fixed time.
 * One process of its own (bench/durable.ts forks it). Keys: `stock:<sku>:<location>` and
 * `holds:<sku>:<location>`, with the same SKU and location names as the Stockflow runs.
 */
import { Redis } from 'ioredis';
import { sendToParent } from './child-ipc.ts';
import { RESERVE_LUA } from './gateway-redis.ts';
import { LatencyHistogram, prng, wallMs } from './gateway-wire.ts';
import {
  LOCATION,
  spreadSku,
  type LoadMessage,
  type MeasureResult,
  WARM_SKU,
  type Target,
} from './durable-load.ts';

export interface LuaJob {
  readonly port: number;
  readonly callers: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly target: Target;
  readonly tag: string;
  readonly seed: number;
}

export const stockKey = (sku: string): string => `stock:${sku}:${LOCATION}`;
export const holdsKey = (sku: string): string => `holds:${sku}:${LOCATION}`;

type ReserveClient = Redis & {
  reserve(stock: string, holds: string, id: string, qty: number): Promise<number>;
};

/** Sets the stock of each SKU (at LOCATION), in pipelined chunks. */
export async function loadLuaStock(port: number, stock: Map<string, number>): Promise<void> {
  const client = new Redis({ port, host: '127.0.0.1' });
  try {
    await client.flushall();
    let pipeline = client.pipeline();
    let n = 0;
    for (const [sku, qty] of stock) {
      pipeline.set(stockKey(sku), qty);
      if (++n % 10_000 === 0) {
        await pipeline.exec();
        pipeline = client.pipeline();
      }
    }
    await pipeline.exec();
  } finally {
    client.disconnect();
  }
}

/**
 * Writes held reservations straight into the hashes, as the script would have left them:
 * reservation j on spreadSku(j % skus), its field in the hash and the stock decremented. Done by
 * a server-side loop over SKUs [ARGV[1], ARGV[2]), so a million take seconds, not minutes.
 */
const HOLDS_LUA = `
local from, to, total, skus = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tag, location = ARGV[5], ARGV[6]
for s = from, to - 1 do
  local sku = string.format('s%05d', s)
  local n = 0
  for j = s, total - 1, skus do
    redis.call('HSET', 'holds:' .. sku .. ':' .. location, tag .. '-' .. j, 1)
    n = n + 1
  end
  if n > 0 then redis.call('DECRBY', 'stock:' .. sku .. ':' .. location, n) end
end
return 0
`;

export async function preloadLuaHolds(
  port: number,
  reservations: number,
  skus: number,
  tag: string,
): Promise<void> {
  if (spreadSku(0) !== 's00000') throw new Error('HOLDS_LUA writes SKU names as s%05d');
  const client = new Redis({ port, host: '127.0.0.1' });
  try {
    const chunk = 2_000;
    for (let from = 0; from < skus; from += chunk) {
      await client.eval(
        HOLDS_LUA,
        0,
        from,
        Math.min(skus, from + chunk),
        reservations,
        skus,
        tag,
        LOCATION,
      );
    }
  } finally {
    client.disconnect();
  }
}

/** Runs `callers` call loops until `ms` have passed; each caller waits for its own reply. */
function drive(
  client: ReserveClient,
  job: LuaJob,
  target: Target,
  prefix: string,
  ms: number,
  latency: LatencyHistogram,
  outcomes: Map<string, number>,
): Promise<number> {
  const random = prng(job.seed);
  const hot = target.kind === 'one' ? [stockKey(target.sku), holdsKey(target.sku)] : null;
  const keys =
    target.kind === 'spread'
      ? Array.from({ length: target.skus }, (_, i) => [
          stockKey(spreadSku(i)),
          holdsKey(spreadSku(i)),
        ])
      : [];
  const stopAt = performance.now() + ms;
  let n = 0;
  let maxMs = 0;
  const caller = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const [stock, holds] = hot ?? (keys[Math.floor(random() * keys.length)] as string[]);
      const sent = performance.now();
      const r = await client.reserve(stock as string, holds as string, `${prefix}-${n++}`, 1);
      const took = performance.now() - sent;
      latency.recordMs(took);
      if (took > maxMs) maxMs = took;
      const outcome = r > 0 ? 'granted' : r === 0 ? 'DUPLICATE' : 'INSUFFICIENT_STOCK';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  return Promise.all(Array.from({ length: job.callers }, caller)).then(() => maxMs);
}

async function runLua(job: LuaJob): Promise<MeasureResult> {
  const client = new Redis({
    port: job.port,
    host: '127.0.0.1',
    enableAutoPipelining: true,
  }) as ReserveClient;
  client.defineCommand('reserve', { numberOfKeys: 2, lua: RESERVE_LUA });
  await client.ping();
  let warmGranted = 0;
  if (job.warmupMs > 0) {
    const warm = new Map<string, number>();
    const target: Target = { kind: 'one', sku: WARM_SKU };
    await drive(client, job, target, `${job.tag}w`, job.warmupMs, new LatencyHistogram(), warm);
    warmGranted = warm.get('granted') ?? 0;
  }
  process.send?.({ type: 'ready' } satisfies LoadMessage);
  await new Promise<void>((resolve) =>
    process.once('message', () => {
      resolve();
    }),
  );
  const latency = new LatencyHistogram();
  const outcomes = new Map<string, number>();
  const cpu0 = process.cpuUsage();
  const startMs = wallMs();
  const maxMs = await drive(client, job, job.target, job.tag, job.durationMs, latency, outcomes);
  const endMs = wallMs();
  const cpu = process.cpuUsage(cpu0);
  client.disconnect();
  return {
    warmGranted,
    replies: latency.total,
    outcomes: Object.fromEntries(outcomes),
    latency: latency.toPairs(),
    maxMs,
    startMs,
    endMs,
    cpuMicros: cpu.user + cpu.system,
  };
}

/** Runs as a forked child: the job comes as the first IPC message, `go` as the second. */
export function serveLuaLoad(): void {
  process.once('message', (job: LuaJob) => {
    runLua(job)
      .then((result) => sendToParent({ type: 'result', result } satisfies LoadMessage))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  });
}
