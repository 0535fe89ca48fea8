/**
 * The orders generator of the scale benchmark (bench/scale.ts forks it as `--child orders`):
 * placeOrder over raw WebSockets (raw-ws.ts), msgpack frames packed once each before the clock
 * starts (unique order ids, 1-2 lines over `skus` SKUs, shipped to a point in France so sourcing
 * weighs every location), `window` orders in flight per connection for a fixed time.
 */
import { pack } from 'msgpackr';
import { serveGenerator } from './child-ipc.ts';
import { CHANNEL, spreadSku } from './durable-load.ts';
import { prng } from './gateway-wire.ts';
import { buildPool, connectRaw, runPipelined, type PipelinedRun } from './raw-ws.ts';

/** The locations orders are sourced from (each with every SKU in stock), over France. */
export const ORDER_LOCATIONS: readonly { id: string; type: string; lat: number; lon: number }[] = [
  { id: 'dc-0', type: 'dc', lat: 48.86, lon: 2.35 },
  { id: 'dc-1', type: 'dc', lat: 45.76, lon: 4.84 },
  { id: 'store-2', type: 'store', lat: 43.3, lon: 5.37 },
  { id: 'store-3', type: 'store', lat: 44.84, lon: -0.58 },
];

export interface OrdersJob {
  readonly port: number;
  readonly key: string;
  readonly connections: number;
  readonly window: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Orders built ahead per connection: more than it can place in `durationMs`. */
  readonly poolPerConnection: number;
  readonly skus: number;
  /** Unique per server: order ids are `${tag}-${conn}-${n}`. */
  readonly tag: string;
  readonly seed: number;
}

export interface OrdersResult extends PipelinedRun {
  readonly warmPlaced: number;
  /** CPU spent building the frames before the run (µs), not counted in cpuMicros. */
  readonly buildCpuMicros: number;
}

const UNIT_PRICE = 1_999;
/** The first byte of `placeOrder`, the op of a placed order's reply. */
const PLACED_OP = 0x70;

function orderFrame(random: () => number, skus: number, orderId: string, id: number): Uint8Array {
  const first = Math.floor(random() * skus);
  const lines = [{ sku: spreadSku(first), qty: 1, unitPrice: UNIT_PRICE }];
  if (random() < 0.5) {
    lines.push({
      sku: spreadSku((first + 1 + Math.floor(random() * (skus - 1))) % skus),
      qty: 1,
      unitPrice: UNIT_PRICE,
    });
  }
  return pack({
    op: 'placeOrder',
    id,
    order: {
      orderId,
      channel: CHANNEL,
      customer: { id: `c-${id % 5_000}` },
      lines,
      delivery: {
        type: 'ship',
        address: { city: 'x', lat: 43 + random() * 6, lon: -1 + random() * 7 },
      },
      payment: { amount: lines.length * UNIT_PRICE, currency: 'EUR' },
    },
  });
}

function pools(job: OrdersJob, tag: string, perConnection: number, seed: number) {
  const random = prng(seed);
  return Array.from({ length: job.connections }, (_, c) =>
    buildPool(perConnection, (i) => orderFrame(random, job.skus, `${tag}-${c}-${i}`, i)),
  );
}

async function runOrders(job: OrdersJob, ready: () => Promise<void>): Promise<OrdersResult> {
  const cpu0 = process.cpuUsage();
  const warmPools = pools(job, `${job.tag}w`, Math.max(64, job.window * 8), job.seed + 1_000);
  const measured = pools(job, job.tag, job.poolPerConnection, job.seed);
  const built = process.cpuUsage(cpu0);
  let warmPlaced = 0;
  if (job.warmupMs > 0) {
    const warm = await connectRaw(job.port, job.key, job.connections);
    const r = await runPipelined(warm, warmPools, job.window, job.warmupMs, PLACED_OP);
    warmPlaced = r.outcomes.ok ?? 0;
    for (const s of warm) s.destroy();
  }
  const sockets = await connectRaw(job.port, job.key, job.connections);
  await ready();
  const run = await runPipelined(sockets, measured, job.window, job.durationMs, PLACED_OP);
  for (const s of sockets) s.destroy();
  return { ...run, warmPlaced, buildCpuMicros: built.user + built.system };
}

export function serveOrdersLoad(): void {
  serveGenerator(runOrders);
}
