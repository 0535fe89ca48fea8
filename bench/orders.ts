/**
 * Orders benchmark (`npm run bench:orders`): orders per second through POST /v1/orders with
 * autocannon, 3 lines per order, sourcing over 200 locations, against the same orders placed at
 * a fixed location (a pickup at one store: the same path, one candidate instead of 200), run
 * side by side and alternated in the same run. Results go to bench/results/orders.json and .md.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { quietCpu } from './gateway-processes.ts';
import { prng } from './gateway-wire.ts';
import {
  benchLocations,
  serveOrders,
  type OrdersServerMessage,
  type OrdersServerSpec,
} from './orders-server.ts';

const ENTRY = fileURLToPath(new URL('./orders.ts', import.meta.url));
const KEY = 'bench-orders-key-0000000000000000';

type Mode = 'sourced' | 'nearest' | 'fixed';

/** The `nearest` mode's pre-filter: weigh the 30 nearest locations with stock. */
const NEAREST = 30;

interface Run {
  readonly mode: Mode;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p97_5Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly orders: number;
  readonly failed: number;
  readonly messages: number;
  readonly serverCpuCores: number;
  readonly heapMb: number;
}

class Server {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(spec: OrdersServerSpec): Promise<Server> {
    const child = fork(ENTRY, ['--child', JSON.stringify(spec)], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=8192'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => {
        reject(new Error(`server exited with ${String(code)}`));
      });
      child.on('message', (m: OrdersServerMessage) => {
        if (m.type === 'ready') resolve(m.port);
      });
    });
    return new Server(child, port);
  }

  stats(): Promise<Extract<OrdersServerMessage, { type: 'stats' }>> {
    return new Promise((resolve) => {
      const on = (m: OrdersServerMessage): void => {
        if (m.type !== 'stats') return;
        this.child.off('message', on);
        resolve(m);
      };
      this.child.on('message', on);
      this.child.send({ type: 'stats' });
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

interface Plan {
  readonly seconds: number;
  readonly rounds: number;
  readonly skus: number;
  readonly locations: number;
}

/** Order bodies for one run: unique ids, 3 distinct SKUs, ship to a point in France or pick up. */
function bodies(mode: Mode, round: number, plan: Plan): () => string {
  const random = prng(1000 + round);
  const stores = benchLocations(plan.locations).map((l) => l.id);
  let n = 0;
  return () => {
    const skus = new Set<number>();
    while (skus.size < 3) skus.add(Math.floor(random() * plan.skus));
    const lines = [...skus].map((s) => ({
      sku: `sku-${s}`,
      qty: 1 + Math.floor(random() * 2),
      unitPrice: 1999,
    }));
    const amount = lines.reduce((sum, l) => sum + l.qty * l.unitPrice, 0);
    const delivery =
      mode !== 'fixed'
        ? { type: 'ship', address: { city: 'x', lat: 43 + random() * 6, lon: -1 + random() * 7 } }
        : { type: 'pickup', location: stores[Math.floor(random() * stores.length)] };
    return JSON.stringify({
      orderId: `${mode}-${round}-${n++}`,
      channel: 'web',
      customer: { id: `c-${n % 5000}` },
      lines,
      delivery,
      payment: { amount, currency: 'EUR' },
    });
  };
}

async function measure(mode: Mode, round: number, plan: Plan): Promise<Run> {
  const server = await Server.start({
    skus: plan.skus,
    locations: plan.locations,
    stock: 1_000_000,
    key: KEY,
    nearest: mode === 'nearest' ? NEAREST : null,
  });
  try {
    const next = bodies(mode, round, plan);
    const options = {
      url: `http://127.0.0.1:${server.port}`,
      connections: 64,
      pipelining: 1,
      requests: [
        {
          method: 'POST' as const,
          path: '/v1/orders',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          setupRequest: (req: autocannon.Request) => ({ ...req, body: next() }),
        },
      ],
    };
    await autocannon({ ...options, duration: 2 });
    const before = await server.stats();
    const r = await autocannon({ ...options, duration: plan.seconds });
    const after = await server.stats();
    return {
      mode,
      perSecond: Math.round(r.requests.average),
      p50Ms: r.latency.p50,
      p97_5Ms: r.latency.p97_5,
      p99Ms: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      orders: after.orders - before.orders,
      failed: after.failed - before.failed,
      messages: after.messages - before.messages,
      serverCpuCores: (after.cpuMicros - before.cpuMicros) / 1e6 / plan.seconds,
      heapMb: Math.round(after.heapMb),
    };
  } finally {
    await server.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(quick: boolean): Promise<void> {
  const plan: Plan = quick
    ? { seconds: 3, rounds: 1, skus: 200, locations: 200 }
    : { seconds: 10, rounds: 3, skus: 1_000, locations: 200 };
  const busy = await quietCpu();
  const runs: Run[] = [];
  for (let round = 0; round < plan.rounds; round++) {
    // Alternate which goes first, so drift on a shared machine hits both alike.
    const order: Mode[] =
      round % 2 === 0 ? ['sourced', 'nearest', 'fixed'] : ['fixed', 'nearest', 'sourced'];
    for (const mode of order) {
      const run = await measure(mode, round, plan);
      runs.push(run);
      process.stdout.write(`${JSON.stringify(run)}\n`);
    }
  }
  const pick = (mode: Mode, f: (r: Run) => number): number =>
    median(runs.filter((r) => r.mode === mode).map(f));
  const sourced = pick('sourced', (r) => r.perSecond);
  const nearest = pick('nearest', (r) => r.perSecond);
  const fixed = pick('fixed', (r) => r.perSecond);
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    busyCoresAtStart: Number(busy.toFixed(2)),
    plan,
    sourced: {
      perSecond: sourced,
      p50Ms: pick('sourced', (r) => r.p50Ms),
      p99Ms: pick('sourced', (r) => r.p99Ms),
    },
    nearest: {
      perSecond: nearest,
      p50Ms: pick('nearest', (r) => r.p50Ms),
      p99Ms: pick('nearest', (r) => r.p99Ms),
    },
    fixed: {
      perSecond: fixed,
      p50Ms: pick('fixed', (r) => r.p50Ms),
      p99Ms: pick('fixed', (r) => r.p99Ms),
    },
    sourcingCostRatio: Number((sourced / fixed).toFixed(2)),
    nearestCostRatio: Number((nearest / fixed).toFixed(2)),
    runs,
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('./results/orders.json', import.meta.url),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  const md = [
    `# Orders benchmark`,
    '',
    `\`npm run bench:orders\` on ${summary.date.slice(0, 10)}, Node ${summary.node}, ${summary.cpus} cores`,
    `(server and autocannon on the same machine). POST /v1/orders, 64 connections, ${plan.seconds} s per run,`,
    `median of ${plan.rounds} alternated runs; 3 lines per order over ${plan.skus} SKUs, each stocked at ${plan.locations} locations.`,
    '',
    '| placement | orders/s | p50 | p99 | target |',
    '| --- | --- | --- | --- | --- |',
    `| sourced over ${plan.locations} locations (ship to an address) | ${sourced} | ${summary.sourced.p50Ms} ms | ${summary.sourced.p99Ms} ms | ≥ 10,000/s, p99 < 20 ms |`,
    `| sourced, \`nearest: ${NEAREST}\` pre-filter (weighs the ${NEAREST} nearest with stock) | ${nearest} | ${summary.nearest.p50Ms} ms | ${summary.nearest.p99Ms} ms | ≥ 10,000/s, p99 < 20 ms |`,
    `| fixed location (pickup at one store; baseline) | ${fixed} | ${summary.fixed.p50Ms} ms | ${summary.fixed.p99Ms} ms | |`,
    '',
    `Sourcing costs a ratio of **${summary.sourcingCostRatio}** of the fixed-location throughput (**${summary.nearestCostRatio}** with the pre-filter).`,
    '',
  ].join('\n');
  writeFileSync(new URL('./results/orders.md', import.meta.url), md);
  process.stdout.write(`\n${md}`);
}

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  await serveOrders(JSON.parse(process.argv[childAt + 1] ?? '{}') as OrdersServerSpec);
} else {
  await main(process.argv.includes('--quick'));
}
