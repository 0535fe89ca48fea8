import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import {
  machineCpu,
  machineInfo,
  quietCpu,
  runLoad,
  runWorkers,
  ServerProcess,
  SubscriberGroup,
  type LoadSummary,
} from './gateway-processes.ts';
import { RedisServer, type AppendFsync, type RedisJob } from './gateway-redis.ts';
import { LatencyHistogram } from './gateway-wire.ts';

const KEY = 'bench-key-000000000000000000';

export interface Plan {
  readonly mode: 'quick' | 'full';
  /** Load generator processes, connections per process, requests in flight per connection. */
  readonly workers: number;
  readonly connections: number;
  readonly window: number;
  readonly requestsPerConnection: number;
  readonly hotStock: number;
  readonly redisWindow: number;
  readonly fanoutSubscribers: number;
  readonly fanoutWorkers: number;
  readonly fanoutRequests: number;
  /** The writer of the fan-out run: connections × requests in flight (a steady stream of sales,
   * not a saturated server: what is measured is the delivery of deltas). */
  readonly fanoutWriter: { readonly connections: number; readonly window: number };
  readonly httpSeconds: number;
}

const FULL: Plan = {
  mode: 'full',
  // One generator process: on a 2-core machine a second one only takes CPU from the server.
  workers: 1,
  connections: 16,
  window: 32,
  requestsPerConnection: 40_000,
  hotStock: 100_000,
  redisWindow: 1_024,
  fanoutSubscribers: 10_000,
  fanoutWorkers: 2,
  fanoutRequests: 20_000,
  fanoutWriter: { connections: 4, window: 8 },
  httpSeconds: 5,
};

const QUICK: Plan = {
  ...FULL,
  mode: 'quick',
  requestsPerConnection: 4_000,
  hotStock: 10_000,
  fanoutSubscribers: 1_000,
  fanoutRequests: 2_000,
  httpSeconds: 1,
};

const SPREAD = { skus: 1_000, locations: 10, stock: 1_000 } as const;

interface Run extends LoadSummary {
  readonly granted?: number;
  readonly reservedAfter?: number;
  /** CPU of the server process per request (µs), and in cores over the run. */
  readonly serverCpuUsPerRequest: number;
  readonly serverCores: number;
  /** CPU taken by other processes on the machine during the run, in cores. */
  readonly othersCores: number;
}

/** Measures a run: server CPU (read through `serverMicros`), generators, and everything else. */
async function measured(
  serverMicros: () => Promise<number>,
  run: () => Promise<LoadSummary>,
): Promise<Run> {
  const cores = os.cpus().length;
  const m0 = machineCpu();
  const s0 = await serverMicros();
  const r = await run();
  const s1 = await serverMicros();
  const m1 = machineCpu();
  const machineCores =
    m1.total === m0.total ? 0 : ((m1.busy - m0.busy) / (m1.total - m0.total)) * cores;
  const serverCores = (s1 - s0) / 1e6 / r.seconds;
  return {
    ...r,
    serverCpuUsPerRequest: round((s1 - s0) / r.requests),
    serverCores: round(serverCores),
    othersCores: round(Math.max(0, machineCores - serverCores - r.generatorCores)),
  };
}

/** CPU (user + system, µs) a process has used so far, from /proc/<pid>/stat. */
function processMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function brief(r: Run): Record<string, unknown> {
  return {
    requests: r.requests,
    seconds: round(r.seconds, 3),
    perSecond: Math.round(r.perSecond),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    p999Ms: r.p999Ms,
    outcomes: r.outcomes,
    serverCpuUsPerRequest: r.serverCpuUsPerRequest,
    serverCores: r.serverCores,
    generatorCores: round(r.generatorCores),
    othersCores: r.othersCores,
    ...(r.granted === undefined ? {} : { granted: r.granted, reservedAfter: r.reservedAfter }),
  };
}

async function wsServerRun(
  mode: 'gateway' | 'echo',
  workload: 'hot' | 'spread',
  plan: Plan,
): Promise<Run> {
  const spread = workload === 'spread';
  const shape = spread ? SPREAD : { skus: 2, locations: 1, stock: plan.hotStock };
  const server = await ServerProcess.start({ mode, ...shape, key: KEY });
  try {
    const job = {
      port: server.port,
      key: KEY,
      workload,
      skus: shape.skus,
      locations: shape.locations,
      connections: plan.connections,
      window: plan.window,
    };
    // Warm-up (another SKU when hot), so JIT and buffers are settled before the clock runs.
    await runLoad(
      {
        ...job,
        hotSku: 1,
        requests: Math.ceil(plan.requestsPerConnection / 4),
        idPrefix: 'warm',
      },
      plan.workers,
    );
    await quietCpu();
    const run = await measured(
      async () => (await server.ask({ type: 'cpu' })).micros,
      () =>
        runLoad(
          { ...job, hotSku: 0, requests: plan.requestsPerConnection, idPrefix: 'run' },
          plan.workers,
        ),
    );
    if (mode === 'gateway' && !spread) {
      const p = await server.ask({ type: 'position', sku: 'sku-0', location: 'loc-0' });
      return { ...run, granted: run.outcomes.ok ?? 0, reservedAfter: p.reserved };
    }
    return run;
  } finally {
    await server.stop();
  }
}

async function redisRun(fsync: AppendFsync, workload: 'hot' | 'spread', plan: Plan): Promise<Run> {
  const spread = workload === 'spread';
  const shape = spread ? SPREAD : { skus: 1, locations: 1, stock: plan.hotStock };
  const redis = await RedisServer.start(fsync);
  try {
    await redis.load(shape.skus, shape.locations, shape.stock);
    const requests = plan.workers * plan.connections * plan.requestsPerConnection;
    const job = (i: number, prefix: string, n: number): RedisJob => ({
      port: redis.port,
      workload,
      skus: shape.skus,
      locations: shape.locations,
      requests: Math.ceil(n / plan.workers),
      window: plan.redisWindow,
      idPrefix: `${prefix}w${i}`,
      seed: i + 11,
    });
    // Warm-up on the same keys is harmless for spread; when hot it would eat stock, so reload.
    await runWorkers('redis', (i) => job(i, 'warm', requests / 4), plan.workers);
    await redis.load(shape.skus, shape.locations, shape.stock);
    await quietCpu();
    const run = await measured(
      () => Promise.resolve(processMicros(redis.pid)),
      () => runWorkers('redis', (i) => job(i, 'run', requests), plan.workers),
    );
    if (!spread) {
      const left = Number(await redis.get('stock:sku-0:loc-0'));
      return { ...run, granted: run.outcomes.ok ?? 0, reservedAfter: shape.stock - left };
    }
    return run;
  } finally {
    await redis.stop();
  }
}

interface FanoutResult {
  readonly subscribers: number;
  readonly writer: Record<string, unknown>;
  readonly deltasDelivered: number;
  readonly finalAvailable: number;
  readonly lastValueCorrect: number;
  readonly lastValueLateMsMax: number;
  readonly closed: number;
  readonly deltaP50Ms: number;
  readonly deltaP99Ms: number;
  readonly deltaMaxMs: number;
}

async function fanoutRun(plan: Plan): Promise<FanoutResult> {
  const topic = 'availability:web:sku-0';
  const server = await ServerProcess.start({
    mode: 'gateway',
    skus: 2,
    locations: 1,
    stock: 10_000_000,
    key: KEY,
    recordTopic: topic,
  });
  try {
    const perWorker = Math.ceil(plan.fanoutSubscribers / plan.fanoutWorkers);
    const group = await SubscriberGroup.start(
      () => ({ port: server.port, key: KEY, connections: perWorker, topic }),
      plan.fanoutWorkers,
    );
    await quietCpu();
    const writer = await measured(
      async () => (await server.ask({ type: 'cpu' })).micros,
      () =>
        runLoad(
          {
            port: server.port,
            key: KEY,
            workload: 'hot',
            hotSku: 0,
            skus: 2,
            locations: 1,
            connections: plan.fanoutWriter.connections,
            window: plan.fanoutWriter.window,
            requests: plan.fanoutRequests,
            idPrefix: 'fan',
          },
          1,
        ),
    );
    // The last delta goes out within one conflation interval (50 ms) of the last change;
    // give delivery time to finish before asking what arrived.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const final = await server.ask({ type: 'availability', sku: 'sku-0' });
    const log = await server.ask({ type: 'deltaLog' });
    const reports = await group.report({ seq: log.seq, at: log.at });
    const latency = new LatencyHistogram();
    let correct = 0;
    let lateMax = 0;
    let deltas = 0;
    let closed = 0;
    for (const r of reports) {
      latency.addPairs(r.latency);
      deltas += r.deltas;
      closed += r.closed;
      r.lastValues.forEach((v, i) => {
        if (v === final.available) correct++;
        lateMax = Math.max(lateMax, (r.lastAt[i] ?? 0) - writer.endMs);
      });
    }
    return {
      subscribers: perWorker * plan.fanoutWorkers,
      writer: brief(writer),
      deltasDelivered: deltas,
      finalAvailable: final.available,
      lastValueCorrect: correct,
      lastValueLateMsMax: round(lateMax),
      closed,
      deltaP50Ms: latency.quantileMs(0.5),
      deltaP99Ms: latency.quantileMs(0.99),
      deltaMaxMs: latency.quantileMs(1),
    };
  } finally {
    await server.stop();
  }
}

interface HttpRun {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function httpRun(mode: 'gateway' | 'bare-http', plan: Plan): Promise<HttpRun> {
  const server = await ServerProcess.start({ mode, skus: 2, locations: 1, stock: 42, key: KEY });
  try {
    const options = {
      url: `http://127.0.0.1:${server.port}/v1/availability?channel=web&sku=sku-0`,
      headers: { authorization: `Bearer ${KEY}` },
      connections: 64,
      pipelining: 8,
    };
    await autocannon({ ...options, duration: 1 });
    const r = await autocannon({ ...options, duration: plan.httpSeconds });
    return {
      perSecond: Math.round(r.requests.average),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
    };
  } finally {
    await server.stop();
  }
}

export async function runSuite(quick: boolean): Promise<void> {
  const plan = quick ? QUICK : FULL;
  const started = performance.now();
  const loadAtStart = os.loadavg();
  const results: Record<string, Record<string, unknown>> = {};
  const step = (name: string): void => {
    console.error(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${name}`);
  };

  step('flash sale: gateway');
  const hotGateway = await wsServerRun('gateway', 'hot', plan);
  step('flash sale: uWS echo');
  const hotEcho = await wsServerRun('echo', 'hot', plan);
  step('flash sale: Redis Lua (AOF off)');
  const hotRedisOff = await redisRun('off', 'hot', plan);
  step('flash sale: Redis Lua (AOF everysec)');
  const hotRedisSec = await redisRun('everysec', 'hot', plan);
  results.flashSale = {
    gateway: brief(hotGateway),
    uwsEcho: brief(hotEcho),
    redisLuaAofOff: brief(hotRedisOff),
    redisLuaAofEverysec: brief(hotRedisSec),
  };

  step('spread: gateway');
  const spreadGateway = await wsServerRun('gateway', 'spread', plan);
  step('spread: uWS echo');
  const spreadEcho = await wsServerRun('echo', 'spread', plan);
  step('spread: Redis Lua (AOF off)');
  const spreadRedisOff = await redisRun('off', 'spread', plan);
  step('spread: Redis Lua (AOF everysec)');
  const spreadRedisSec = await redisRun('everysec', 'spread', plan);
  results.spread = {
    gateway: brief(spreadGateway),
    uwsEcho: brief(spreadEcho),
    redisLuaAofOff: brief(spreadRedisOff),
    redisLuaAofEverysec: brief(spreadRedisSec),
  };

  step('fan-out');
  const fanout = await fanoutRun(plan);
  results.fanout = { ...fanout };

  step('HTTP availability: gateway');
  const httpGateway = await httpRun('gateway', plan);
  step('HTTP availability: bare uWS');
  const httpBare = await httpRun('bare-http', plan);
  results.http = { gateway: { ...httpGateway }, bareUws: { ...httpBare } };

  const redisBestHot = Math.max(hotRedisOff.perSecond, hotRedisSec.perSecond);
  const redisBestSpread = Math.max(spreadRedisOff.perSecond, spreadRedisSec.perSecond);
  const targets = [
    target(
      'flash sale >= 250k reservations/s',
      hotGateway.perSecond >= 250_000,
      `${Math.round(hotGateway.perSecond)}/s`,
    ),
    target(
      'flash sale >= 2x Redis Lua',
      hotGateway.perSecond >= 2 * redisBestHot,
      `${round(hotGateway.perSecond / redisBestHot)}x`,
    ),
    target('flash sale p99 < 10 ms', hotGateway.p99Ms < 10, `${hotGateway.p99Ms} ms`),
    target(
      'flash sale grants exactly the stock',
      hotGateway.granted === plan.hotStock && hotGateway.reservedAfter === plan.hotStock,
      `${String(hotGateway.granted)} granted, ${String(hotGateway.reservedAfter)} reserved of ${plan.hotStock}`,
    ),
    target(
      'spread >= 2x Redis Lua spread',
      spreadGateway.perSecond >= 2 * redisBestSpread,
      `${round(spreadGateway.perSecond / redisBestSpread)}x`,
    ),
    target(
      'fan-out: every last value right within 100 ms',
      fanout.lastValueCorrect === fanout.subscribers && fanout.lastValueLateMsMax <= 100,
      `${fanout.lastValueCorrect}/${fanout.subscribers}, latest ${fanout.lastValueLateMsMax} ms after the last change`,
    ),
    target('fan-out p99 delta latency < 50 ms', fanout.deltaP99Ms < 50, `${fanout.deltaP99Ms} ms`),
    target(
      'HTTP reads >= 70% of bare uWS',
      httpGateway.perSecond >= 0.7 * httpBare.perSecond,
      `${round((100 * httpGateway.perSecond) / httpBare.perSecond, 0)}%`,
    ),
  ];
  const report = {
    date: new Date().toISOString(),
    plan,
    machine: machineInfo(loadAtStart),
    results,
    targets,
  };
  const markdown = renderMarkdown(report);
  if (plan.mode === 'full') {
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    await writeFile(new URL('gateway.json', dir), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(new URL('gateway.md', dir), markdown);
  }
  console.log(`\n${markdown}`);
  step('done');
}

function target(
  name: string,
  met: boolean,
  measured: string,
): { name: string; met: boolean; measured: string } {
  return { name, met, measured };
}

type Report = {
  date: string;
  plan: Plan;
  machine: Record<string, unknown>;
  results: Record<string, Record<string, unknown>>;
  targets: { name: string; met: boolean; measured: string }[];
};

function renderMarkdown(report: Report): string {
  const row = (name: string, r: unknown): string => {
    const x = r as {
      perSecond: number;
      p50Ms: number;
      p99Ms: number;
      serverCpuUsPerRequest: number;
      othersCores: number;
      outcomes: Record<string, number>;
    };
    const outcomes = Object.entries(x.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    return `| ${name} | ${x.perSecond} | ${x.p50Ms} | ${x.p99Ms} | ${x.serverCpuUsPerRequest} | ${x.othersCores} | ${outcomes} |`;
  };
  const table = (title: string, rows: Record<string, unknown>): string[] => [
    `### ${title}`,
    '',
    '| server | requests/s | p50 ms | p99 ms | server CPU µs/request | other processes (cores) | outcomes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...Object.entries(rows).map(([k, v]) => row(k, v)),
    '',
  ];
  const r = report.results;
  const fan = r.fanout ?? {};
  const http = r.http ?? {};
  const m = report.machine;
  return [
    '# Gateway benchmark',
    '',
    `${report.date}, ${String(m.cpus)} × ${String(m.cpu)}, Node ${String(m.node)}, load average at start ${JSON.stringify(m.loadAverageAtStart)}.`,
    `Plan: ${report.plan.workers} generator processes × ${report.plan.connections} connections × ${report.plan.window} in flight, ${report.plan.requestsPerConnection} requests per connection (\`npx tsx bench/gateway.ts\`).`,
    '',
    '## Targets',
    '',
    '| target | met | measured |',
    '| --- | --- | --- |',
    ...report.targets.map((t) => `| ${t.name} | ${t.met ? 'yes' : '**no**'} | ${t.measured} |`),
    '',
    '## Results',
    '',
    ...table(`Flash sale: one SKU-location, ${report.plan.hotStock} units`, r.flashSale ?? {}),
    ...table('Spread: reserves over 10,000 SKU-locations', r.spread ?? {}),
    '### Fan-out',
    '',
    `${String(fan.subscribers)} subscribers on one topic while a writer reserved on it (${JSON.stringify(fan.writer)}):`,
    `${String(fan.deltasDelivered)} deltas delivered, last value right at ${String(fan.lastValueCorrect)} subscribers (latest ${String(fan.lastValueLateMsMax)} ms after the last change), delivery latency p50 ${String(fan.deltaP50Ms)} ms, p99 ${String(fan.deltaP99Ms)} ms, max ${String(fan.deltaMaxMs)} ms; ${String(fan.closed)} closed.`,
    '',
    '### HTTP availability reads (autocannon, 64 connections × 8 pipelined)',
    '',
    '| server | requests/s | p50 ms | p99 ms |',
    '| --- | ---: | ---: | ---: |',
    ...Object.entries(http).map(([k, v]) => {
      const x = v as HttpRun;
      return `| ${k} | ${x.perSecond} | ${x.p50Ms} | ${x.p99Ms} |`;
    }),
    '',
    '## Reading these numbers',
    '',
    '- Everything runs on one 2-core machine: the server under test, the load generator and, for',
    '  the baselines, redis-server and its client. "Other processes" is CPU taken by anything else',
    '  during the run (other jobs on the machine); runs start after waiting for a quiet CPU. Runs',
    '  vary by about ±15% from one to the next.',
    '- "Server CPU µs/request" is the server process alone (for Redis: redis-server). The gateway',
    '  spends it roughly as: engine (routing, book, reservation index) 35-45%, garbage collection',
    '  5-18% (more when hundreds of thousands of reservations are held, as in the spread run),',
    '  uWS sends 12%, msgpack decode plus pre-scan 12-15%, reply encoding 8-10%, the rest',
    '  validation, metrics and bookkeeping (CPU profiles of the timed window while tuning).',
    '- The Redis Lua baseline is bound by its ioredis client (about one core at ~90k calls/s),',
    '  not by redis-server, which stays near 0.4 cores: the figure is what a Node service gets from',
    '  Redis through ioredis, the usual way, not what redis-server alone could do.',
    '- Fan-out: every delta is one send per subscriber socket, and on loopback the sender also pays',
    "  the receiver's TCP processing; here that is about 10 µs per subscriber (server CPU of the",
    '  run), so one delta reaches 10,000 sockets over 100-170 ms, with the subscriber processes',
    '  competing for the same two cores. The last value is always right; the latency bound is the',
    '  machine, which a real deployment spreads over more cores or gateway processes.',
    '',
  ].join('\n');
}
