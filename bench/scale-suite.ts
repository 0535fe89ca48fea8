/**
 * The scale benchmark (`npm run bench:scale`, issue #12): server.workers 1 against 2 side by
 * side in one run. Every case runs in rounds; within a round each workers setting gets a fresh
 * server (durable-server.ts StockflowServer, file store) in a fresh temp dir, the order flipping
 * from round to round so both see the same drift in machine load. Generators run in processes of
 * their own: the reserves one of the durable benchmark (durable-load.ts), the orders and fan-out
 * ones of this benchmark (scale-orders.ts, scale-fanout.ts), all raw-socket.
 */
import { scrapeValue } from '../test/persistence/server-process.ts';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HOT_SKU,
  spreadSku,
  WARM_SKU,
  type MeasureJob,
  type MeasureResult,
} from './durable-load.ts';
import { MAIN, StockflowServer } from './durable-server.ts';
import { runChild } from './durable-suite.ts';
import { machineCpu, machineInfo, quietCpu } from './gateway-processes.ts';
import { LatencyHistogram } from './gateway-wire.ts';
import type { PipelinedRun } from './raw-ws.ts';
import { ORDER_LOCATIONS, type OrdersJob, type OrdersResult } from './scale-orders.ts';
import type { FanoutJob, FanoutResult } from './scale-fanout.ts';
import {
  commit,
  renderMarkdown,
  round,
  targetRows,
  type RunResult,
  parsePlan,
  type ScaleCase,
  type ScalePlan,
  type ScaleReport,
} from './scale-report.ts';

const ENTRY = fileURLToPath(new URL('./scale.ts', import.meta.url));
export const KEYS = {
  admin: 'bench-scale-admin-key-000000',
  storefront: 'bench-scale-web-key-00000000',
};
const SPREAD_SKUS = 10_000;
const ORDER_SKUS = 1_000;
const PLENTY = 100_000_000;

/** The products and stock (per location) a case's server starts with. */
export function stockOf(c: ScaleCase): {
  stock: Map<string, number>;
  locations: readonly string[];
} {
  const stock = new Map<string, number>([[WARM_SKU, PLENTY]]);
  const many = (n: number, qty: number): void => {
    for (let i = 0; i < n; i++) stock.set(spreadSku(i), qty);
  };
  if (c === 'hot') stock.set(HOT_SKU, PLENTY);
  if (c === 'spread') many(SPREAD_SKUS, 10_000);
  if (c === 'orders') many(ORDER_SKUS, 1_000_000);
  if (c === 'fanout') many(1_000, 1_000);
  const locations = c === 'orders' ? ORDER_LOCATIONS.map((l) => l.id) : ['dc-0'];
  return { stock, locations };
}

async function startServer(
  c: ScaleCase,
  workers: number,
  plan: ScalePlan,
): Promise<StockflowServer> {
  const { stock, locations } = stockOf(c);
  const server = await StockflowServer.start(plan.store, KEYS, [...stock.keys()], (config) => ({
    ...config,
    server: { ...(config.server as object), workers },
    ...(c === 'orders' ? { locations: ORDER_LOCATIONS } : {}),
  }));
  try {
    for (const l of locations) await server.loadStock(stock, 1, l);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** What one generator run reports, in a shape the three kinds share. */
interface Measured {
  readonly ok: number;
  readonly refused: number;
  readonly outcomes: Record<string, number>;
  readonly latency: LatencyHistogram;
  readonly maxMs: number;
  readonly seconds: number;
  readonly cpuMicros: number;
  readonly note: string;
}

function histogram(pairs: readonly [number, number][]): LatencyHistogram {
  const h = new LatencyHistogram();
  h.addPairs(pairs);
  return h;
}

/** A request/reply generator's run (reserves, orders), `okKey` the outcome that counts. */
function fromRequests(r: Omit<PipelinedRun, 'exhausted'>, okKey: string, note: string): Measured {
  const ok = r.outcomes[okKey] ?? 0;
  return {
    ok,
    refused: r.replies - ok,
    outcomes: r.outcomes,
    latency: histogram(r.latency),
    maxMs: r.maxMs,
    seconds: (r.endMs - r.startMs) / 1_000,
    cpuMicros: r.cpuMicros,
    note,
  };
}

async function generate(
  c: ScaleCase,
  plan: ScalePlan,
  port: number,
  atGo: () => Promise<void>,
): Promise<Measured> {
  const base = {
    port,
    key: KEYS.storefront,
    connections: plan.connections,
    durationMs: plan.durationMs,
  };
  if (c === 'spread' || c === 'hot') {
    const target =
      c === 'hot'
        ? { kind: 'one' as const, sku: HOT_SKU }
        : { kind: 'spread' as const, skus: SPREAD_SKUS };
    const job: MeasureJob = {
      ...base,
      mode: 'measure',
      window: plan.window,
      target,
      warmupMs: plan.warmupMs,
      tag: 'm',
      seed: 1,
    };
    const r = await runChild<MeasureResult>('load', job, atGo);
    return fromRequests(r, 'granted', '');
  }
  if (c === 'orders') {
    const poolPerConnection = Math.ceil((plan.durationMs * 12) / plan.connections);
    const job: OrdersJob = {
      ...base,
      window: plan.ordersWindow,
      warmupMs: plan.warmupMs,
      poolPerConnection,
      skus: ORDER_SKUS,
      tag: 'o',
      seed: 1,
    };
    const r = await runChild<OrdersResult>('orders', job, atGo, ENTRY);
    const notes = [
      r.exhausted > 0 ? `${r.exhausted} connection(s) ran out of pre-built orders` : '',
      (r.outcomes.ok ?? 0) === 0 ? 'no order placed' : '',
    ];
    return fromRequests(r, 'ok', notes.filter((n) => n !== '').join('; '));
  }
  const job: FanoutJob = {
    ...plan.fanout,
    port,
    key: KEYS.storefront,
    adminKey: KEYS.admin,
    durationMs: plan.durationMs,
    graceMs: 500,
    tag: 'f',
  };
  const r = await runChild<FanoutResult>('fanout', job, atGo, ENTRY);
  const note = `${r.subscriptions} subscriptions, ${r.changes} changes, ${r.missed} missed, ${r.extraDeltas} extra deltas`;
  const outcomes = {
    deltas: r.deltas,
    changes: r.changes,
    changeErrors: r.changeErrors,
    missed: r.missed,
  };
  return {
    ok: r.deltas,
    refused: r.changeErrors,
    outcomes,
    latency: histogram(r.latency),
    maxMs: r.maxMs,
    seconds: r.seconds,
    cpuMicros: r.cpuMicros,
    note,
  };
}

function threadsOf(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/**
 * Commands forwarded to the worker owning their SKU, and the messages that carried them (with
 * their answers) between workers, from the server's /metrics: the batching the run achieved.
 */
async function forwardingOf(port: number): Promise<{ forwarded: number; forwardMessages: number }> {
  const base = `http://127.0.0.1:${port}`;
  const value = async (name: string): Promise<number> => (await scrapeValue(base, name)) ?? 0;
  return {
    forwarded: await value('stockflow_shard_forwarded_commands_total'),
    forwardMessages: await value('stockflow_shard_forward_messages_total'),
  };
}

async function runCase(
  c: ScaleCase,
  workers: number,
  roundNo: number,
  plan: ScalePlan,
): Promise<RunResult> {
  const server = await startServer(c, workers, plan);
  try {
    let cpu0 = 0;
    let t0 = 0;
    let machine0 = machineCpu();
    const m = await generate(c, plan, server.port, async () => {
      // The machine is shared: start when it is nearly idle (or after waiting long enough).
      await quietCpu(plan.mode === 'full' ? 10_000 : 1_000);
      cpu0 = server.proc().cpuMicros;
      machine0 = machineCpu();
      t0 = performance.now();
    });
    const cpu = server.proc().cpuMicros - cpu0;
    const machine1 = machineCpu();
    const forwarding = await forwardingOf(server.port);
    const wall = (performance.now() - t0) / 1_000;
    const machineCores =
      machine1.total === machine0.total
        ? 0
        : ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * os.cpus().length;
    const serverCores = cpu / 1e6 / wall;
    const generatorCores = m.cpuMicros / 1e6 / m.seconds;
    return {
      case: c,
      workers,
      round: roundNo,
      seconds: round(m.seconds, 3),
      okPerSecond: Math.round(m.ok / m.seconds),
      refusedPerSecond: Math.round(m.refused / m.seconds),
      outcomes: m.outcomes,
      p50Ms: m.latency.quantileMs(0.5),
      p99Ms: m.latency.quantileMs(0.99),
      maxMs: round(m.maxMs),
      serverCpuUsPerOk: round(cpu / Math.max(1, m.ok)),
      serverCores: round(serverCores),
      serverThreads: threadsOf(server.pid),
      generatorCores: round(generatorCores),
      othersCores: round(Math.max(0, machineCores - serverCores - generatorCores)),
      note: m.note,
      ...forwarding,
    };
  } catch (error) {
    console.error(server.describe());
    throw error;
  } finally {
    await server.stop();
  }
}

function describe(r: RunResult): string {
  return (
    `${r.case} workers ${r.workers} round ${r.round}: ${r.okPerSecond} ok/s, ${r.refusedPerSecond} refused/s, ` +
    `p50 ${r.p50Ms} p99 ${r.p99Ms} max ${r.maxMs} ms, ${r.serverCpuUsPerOk} µs/ok, server ${r.serverCores} cores ` +
    `(${r.serverThreads} threads), generator ${r.generatorCores} cores, others ${r.othersCores}${r.note === '' ? '' : `; ${r.note}`}`
  );
}

export async function runScale(args: readonly string[]): Promise<void> {
  const plan = parsePlan(args);
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run bench:scale does)`);
  const t0 = performance.now();
  const loadAtStart = os.loadavg();
  const log = (line: string): void => {
    console.log(`[${round((performance.now() - t0) / 1_000, 1)} s] ${line}`);
  };
  const runs: RunResult[] = [];
  for (let r = 1; r <= plan.rounds; r++) {
    const order = r % 2 === 1 ? plan.workers : [...plan.workers].reverse();
    for (const c of plan.cases) {
      for (const w of order) {
        const result = await runCase(c, w, r, plan);
        runs.push(result);
        log(describe(result));
      }
    }
  }
  const report: ScaleReport = {
    date: new Date().toISOString(),
    commit: commit(),
    plan,
    machine: machineInfo(loadAtStart),
    runs,
    wallSeconds: round((performance.now() - t0) / 1_000, 1),
  };
  const markdown = renderMarkdown(report);
  // A smoke run's figures say little: they go to the temp dir, bench/results keeps a full run.
  const dir =
    plan.mode === 'full' ? fileURLToPath(new URL('./results/', import.meta.url)) : os.tmpdir();
  await mkdir(dir, { recursive: true });
  const json = { ...report, targets: targetRows(report) };
  const name = plan.store === 'file' ? 'scale' : `scale-${plan.store}`;
  await writeFile(join(dir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(join(dir, `${name}.md`), markdown);
  console.log(`\n${markdown}\nwritten to ${join(dir, `${name}.md`)} and ${name}.json`);
}
