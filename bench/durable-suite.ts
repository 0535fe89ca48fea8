import { fork } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineCpu, machineInfo } from './gateway-processes.ts';
import { RedisServer } from './gateway-redis.ts';
import { LatencyHistogram } from './gateway-wire.ts';
import {
  EMPTY_SKU,
  HOT_SKU,
  spreadSku,
  WARM_SKU,
  type LoadJob,
  type LoadMessage,
  type MeasureResult,
  type PreloadResult,
  type Target,
} from './durable-load.ts';
import { loadLuaStock, preloadLuaHolds, type LuaJob } from './durable-lua.ts';
import {
  MAIN,
  procSample,
  StockflowServer,
  type MetricsSample,
  type StoreKind,
} from './durable-server.ts';
import { ratios, renderMarkdown, targets } from './durable-report.ts';

/**
 * The durable benchmark (`npm run bench:durable`, `-- --quick` for a smoke run): durable granted
 * reserves through the real server on each store, and through the bare durable prototype
 * (`bare`, bench/durable-bare.ts: the architecture's ceiling), against a Redis Lua
 * check-and-reserve with AOF always, in one run. Cases are grouped by the server state they need
 * (a fresh server, or one holding `held` reservations); within a group every system runs the
 * same cases on the same SKU and location names, one after the other, so they see the same
 * machine load.
 */

import type {
  CaseName,
  CaseResult,
  Group,
  Plan,
  PreloadRecord,
  Report,
  System,
} from './durable-types.ts';

const ENTRY = fileURLToPath(new URL('./durable.ts', import.meta.url));

const SPREAD_SKUS = 100_000;
const SPREAD_STOCK = 1_000;
const HOT_STOCK = 100_000_000;

const FULL: Plan = {
  mode: 'full',
  lua: true,
  durationMs: 5_000,
  warmupMs: 1_000,
  connections: 8,
  window: 128,
  luaCallers: 1_024,
  held: 1_000_000,
  // `bare` is the bare prototype (bench/durable-bare.ts): the ceiling, measured in the same run;
  // `file1` the file store on one worker, like for like with it.
  stores: ['bare', 'file', 'file1', 'redis', 'memory'],
  groups: [
    { held: false, cases: ['refusal', 'hot'] },
    { held: false, cases: ['spread10k'] },
    { held: false, cases: ['spread100k'] },
    { held: true, cases: ['hot', 'spread10k', 'spread100k'] },
  ],
};

const QUICK: Plan = {
  ...FULL,
  mode: 'quick',
  durationMs: 1_000,
  warmupMs: 500,
  held: 100_000,
  groups: [
    { held: false, cases: ['refusal', 'hot'] },
    { held: true, cases: ['spread10k'] },
  ],
};

export function targetOf(c: CaseName): Target {
  switch (c) {
    case 'refusal':
      return { kind: 'one', sku: EMPTY_SKU };
    case 'hot':
      return { kind: 'one', sku: HOT_SKU };
    case 'spread10k':
      return { kind: 'spread', skus: 10_000 };
    case 'spread100k':
      return { kind: 'spread', skus: 100_000 };
  }
}

/**
 * A group's products and their stock at the one location: the hot, empty and warm-up SKUs, and
 * as many spread SKUs as its cases use (all 100k when reservations are preloaded over them).
 */
export function stockPlan(group: Group): Map<string, number> {
  const stock = new Map<string, number>([
    [HOT_SKU, HOT_STOCK],
    [EMPTY_SKU, 0],
    [WARM_SKU, HOT_STOCK],
  ]);
  let spread = group.held ? SPREAD_SKUS : 0;
  for (const c of group.cases) {
    const t = targetOf(c);
    if (t.kind === 'spread') spread = Math.max(spread, t.skus);
  }
  for (let i = 0; i < spread; i++) stock.set(spreadSku(i), SPREAD_STOCK);
  return stock;
}

export const KEYS = {
  admin: 'bench-durable-admin-key-0000',
  storefront: 'bench-durable-web-key-000000',
};

// ---- child processes ---------------------------------------------------------------------------

/**
 * Forks a generator (`--child <kind>` of `entry`: `load` or `lua` of bench/durable.ts by default),
 * hands it the job, waits until it is connected (and warmed up), runs `atGo` just before the clock
 * starts, and resolves with its result. bench/scale.ts forks its own generators through it.
 */
export async function runChild<R>(
  kind: string,
  job: object,
  atGo: () => Promise<void> | void,
  entry: string = ENTRY,
): Promise<R> {
  const child = fork(entry, ['--child', kind], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = (type: LoadMessage['type']): Promise<LoadMessage> =>
    Promise.race([
      new Promise<LoadMessage>((resolve) => {
        const on = (m: LoadMessage): void => {
          if (m.type !== type) return;
          child.off('message', on);
          resolve(m);
        };
        child.on('message', on);
      }),
      exited.then((code) => {
        throw new Error(`${kind} generator exited with ${String(code)} before '${type}'`);
      }),
    ]);
  const ready = next('ready');
  child.send(job);
  await ready;
  const result = next('result');
  await atGo();
  child.send('go');
  const m = await result;
  await exited;
  return (m as unknown as { result: R }).result;
}

// ---- measuring ---------------------------------------------------------------------------------

const MiB = 2 ** 20;

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

interface Sides {
  readonly server: () => number;
  readonly redis: (() => number) | null;
  /** The server's /metrics (GC time, group commits); null for Redis-Lua. */
  readonly metrics: (() => Promise<MetricsSample>) | null;
}

/** Runs one measured generator and turns it and the server-side deltas into a CaseResult. */
async function measure(
  system: System,
  c: CaseName,
  group: 'fresh' | 'held',
  heldBefore: number,
  sides: Sides,
  start: (atGo: () => Promise<void>) => Promise<MeasureResult>,
): Promise<Omit<CaseResult, 'serverRssMiB' | 'serverPeakRssMiB' | 'heapUsedMiB' | 'stockCheck'>> {
  let cpu0 = 0;
  let redis0 = 0;
  let before: MetricsSample | null = null;
  let m0 = machineCpu();
  const r = await start(async () => {
    before = sides.metrics === null ? null : await sides.metrics();
    m0 = machineCpu();
    cpu0 = sides.server();
    redis0 = sides.redis?.() ?? 0;
  });
  const cpu = sides.server() - cpu0;
  const redisCpu = sides.redis === null ? null : sides.redis() - redis0;
  const m1 = machineCpu();
  const after = sides.metrics === null ? null : await sides.metrics();
  const b = before as MetricsSample | null;
  const gc = after === null || b === null ? null : after.gcSeconds - b.gcSeconds;
  const commits = after === null || b === null ? 0 : after.commits - b.commits;
  const seconds = (r.endMs - r.startMs) / 1_000;
  const expected = c === 'refusal' ? 'INSUFFICIENT_STOCK' : 'granted';
  const good = r.outcomes[expected] ?? 0;
  const latency = new LatencyHistogram();
  latency.addPairs(r.latency);
  const cores = os.cpus().length;
  const machineCores =
    m1.total === m0.total ? 0 : ((m1.busy - m0.busy) / (m1.total - m0.total)) * cores;
  const serverCores = cpu / 1e6 / seconds;
  const generatorCores = r.cpuMicros / 1e6 / seconds;
  const redisCores = redisCpu === null ? 0 : redisCpu / 1e6 / seconds;
  return {
    system,
    case: c,
    group,
    held: heldBefore + r.warmGranted,
    expected,
    unexpected: r.replies - good,
    outcomes: r.outcomes,
    seconds: round(seconds, 3),
    perSecond: Math.round(good / seconds),
    p50Ms: latency.quantileMs(0.5),
    p99Ms: latency.quantileMs(0.99),
    p999Ms: latency.quantileMs(0.999),
    maxMs: round(r.maxMs),
    serverCpuUsPerOp: round(cpu / Math.max(1, good)),
    serverCores: round(serverCores),
    redisCpuUsPerOp: redisCpu === null ? null : round(redisCpu / Math.max(1, good)),
    gcShare: gc === null || cpu === 0 ? null : round((gc * 1e6) / cpu, 3),
    recordsPerCommit:
      commits === 0 || after === null || b === null
        ? null
        : round((after.commitRecords - b.commitRecords) / commits, 0),
    generatorCores: round(generatorCores),
    othersCores: round(Math.max(0, machineCores - serverCores - generatorCores - redisCores)),
  };
}

interface Log {
  (line: string): void;
}

/**
 * One group on one Stockflow store (or the bare prototype, spoken to the same way): a fresh
 * server, optionally a preload, then the cases.
 */
async function stockflowGroup(
  store: StoreKind,
  group: Group,
  plan: Plan,
  tagBase: string,
  log: Log,
): Promise<{ cases: CaseResult[]; preload: PreloadRecord | null }> {
  const stock = stockPlan(group);
  const server = await StockflowServer.start(store, KEYS, [...stock.keys()]);
  try {
    await server.loadStock(stock, 1);
    let preload: PreloadRecord | null = null;
    let held = 0;
    if (group.held) {
      const job: LoadJob = {
        mode: 'preload',
        port: server.port,
        key: KEYS.storefront,
        connections: plan.connections,
        window: plan.window,
        reservations: plan.held,
        skus: SPREAD_SKUS,
        tag: `${tagBase}p`,
      };
      const r = await runChild<PreloadResult>('load', job, () => undefined);
      const granted = r.outcomes.granted ?? 0;
      held = granted;
      const metrics = await server.metrics();
      preload = {
        system: store,
        reservations: granted,
        seconds: round(r.seconds),
        perSecond: Math.round(granted / r.seconds),
        outcomes: r.outcomes,
        serverRssMiB: round(server.proc().rssBytes / MiB, 0),
        heapUsedMiB: round(metrics.heapUsedBytes / MiB, 0),
      };
      log(`  ${store}: preloaded ${granted} reservations in ${preload.seconds} s`);
      if (granted !== plan.held) {
        throw new Error(`preload not all granted: ${JSON.stringify(r.outcomes)}`);
      }
    }
    const cases: CaseResult[] = [];
    let hotGranted = 0;
    for (const [i, c] of group.cases.entries()) {
      const job: LoadJob = {
        mode: 'measure',
        port: server.port,
        key: KEYS.storefront,
        connections: plan.connections,
        window: plan.window,
        durationMs: plan.durationMs,
        target: targetOf(c),
        // Warm up once per server (JIT, buffers); later cases run on a warm server.
        warmupMs: i === 0 ? plan.warmupMs : 0,
        tag: `${tagBase}${i}`,
        seed: i + 1,
      };
      const redis = server.redis;
      const base = await measure(
        store,
        c,
        group.held ? 'held' : 'fresh',
        held,
        {
          server: () => server.proc().cpuMicros,
          redis: redis === null ? null : () => procSample(redis.pid).cpuMicros,
          metrics: () => server.metrics(),
        },
        (atGo) => runChild<MeasureResult>('load', job, atGo),
      );
      const proc = server.proc();
      const metrics = await server.metrics();
      let stockCheck: string | null = null;
      if (c === 'hot' || c === 'refusal') {
        const sku = c === 'hot' ? HOT_SKU : EMPTY_SKU;
        if (c === 'hot') hotGranted += base.outcomes.granted ?? 0;
        const want = c === 'hot' ? HOT_STOCK - hotGranted : 0;
        const got = await server.available(sku);
        stockCheck = got === want ? 'ok' : `available ${got}, expected ${want}`;
      }
      const result: CaseResult = {
        ...base,
        serverRssMiB: round(proc.rssBytes / MiB, 0),
        serverPeakRssMiB: round(proc.peakRssBytes / MiB, 0),
        heapUsedMiB: round(metrics.heapUsedBytes / MiB, 0),
        stockCheck,
      };
      cases.push(result);
      held = base.held + (base.outcomes.granted ?? 0);
      log(`  ${describe(result)}`);
    }
    return { cases, preload };
  } catch (error) {
    console.error(server.describe());
    throw error;
  } finally {
    await server.stop();
  }
}

/** One group on the Redis Lua baseline: a fresh redis-server with AOF always. */
async function luaGroup(
  group: Group,
  plan: Plan,
  tagBase: string,
  log: Log,
): Promise<{ cases: CaseResult[]; preload: PreloadRecord | null }> {
  const redis = await RedisServer.start('always');
  try {
    await loadLuaStock(redis.port, stockPlan(group));
    let preload: PreloadRecord | null = null;
    let held = 0;
    if (group.held) {
      const t0 = performance.now();
      await preloadLuaHolds(redis.port, plan.held, SPREAD_SKUS, `${tagBase}p`);
      const seconds = (performance.now() - t0) / 1_000;
      held = plan.held;
      preload = {
        system: 'redis-lua',
        reservations: plan.held,
        seconds: round(seconds),
        perSecond: Math.round(plan.held / seconds),
        outcomes: { written: plan.held },
        serverRssMiB: round(procSample(redis.pid).rssBytes / MiB, 0),
        heapUsedMiB: null,
      };
      log(`  redis-lua: wrote ${plan.held} holds in ${preload.seconds} s`);
    }
    const cases: CaseResult[] = [];
    for (const [i, c] of group.cases.entries()) {
      const job: LuaJob = {
        port: redis.port,
        callers: plan.luaCallers,
        durationMs: plan.durationMs,
        warmupMs: i === 0 ? plan.warmupMs : 0,
        target: targetOf(c),
        tag: `${tagBase}${i}`,
        seed: i + 1,
      };
      const base = await measure(
        'redis-lua',
        c,
        group.held ? 'held' : 'fresh',
        held,
        { server: () => procSample(redis.pid).cpuMicros, redis: null, metrics: null },
        (atGo) => runChild<MeasureResult>('lua', job, atGo),
      );
      const proc = procSample(redis.pid);
      const result: CaseResult = {
        ...base,
        serverRssMiB: round(proc.rssBytes / MiB, 0),
        serverPeakRssMiB: round(proc.peakRssBytes / MiB, 0),
        heapUsedMiB: null,
        stockCheck: null,
      };
      cases.push(result);
      held = base.held + (base.outcomes.granted ?? 0);
      log(`  ${describe(result)}`);
    }
    return { cases, preload };
  } finally {
    await redis.stop();
  }
}

function describe(r: CaseResult): string {
  const flag = r.unexpected === 0 ? '' : ` UNEXPECTED ${r.unexpected}`;
  return (
    `${r.system} ${r.case}${r.held > 0 ? ` (${r.held} held)` : ''}: ${r.perSecond}/s ` +
    `p50 ${r.p50Ms} p99 ${r.p99Ms} max ${r.maxMs} ms, ${r.serverCpuUsPerOp} µs/op, ` +
    `gc ${r.gcShare === null ? '-' : `${round(r.gcShare * 100, 1)}%`}, ` +
    `${r.recordsPerCommit === null ? '' : `${r.recordsPerCommit} rec/commit, `}rss ${r.serverRssMiB} MiB, ` +
    `gen ${r.generatorCores} cores, others ${r.othersCores}${flag}`
  );
}

/** A server source file changed after `than` (ms), or null: dist/ is not what the tree says. */
function newerSource(than: number): string | null {
  const root = fileURLToPath(new URL('..', import.meta.url));
  for (const dir of ['engine', 'orders', 'gateway', 'persistence', 'config']) {
    for (const entry of readdirSync(join(root, dir), { recursive: true })) {
      const file = join(root, dir, String(entry));
      if (file.endsWith('.ts') && statSync(file).mtimeMs > than) return join(dir, String(entry));
    }
  }
  return null;
}

// ---- the run -------------------------------------------------------------------------------------

/**
 * `--systems bare,file,redis-lua` and `--cases hot,spread10k` keep only those systems and cases,
 * and `--fresh` only the cases without preloaded reservations (for a profile of one case: with DURABLE_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p"). A narrowed
 * run prints its table but writes no results file, so bench/results always holds a whole run.
 */
function narrowed(plan: Plan, args: readonly string[]): Plan {
  const list = (flag: string): string[] | null => {
    const at = args.indexOf(flag);
    const value = at === -1 ? undefined : args[at + 1];
    return value === undefined ? null : value.split(',');
  };
  const systems = list('--systems');
  const cases = list('--cases');
  const fresh = args.includes('--fresh');
  if (systems === null && cases === null && !fresh) return plan;
  return {
    ...plan,
    lua: systems === null || systems.includes('redis-lua'),
    stores: plan.stores.filter((s) => systems === null || systems.includes(s)),
    groups: plan.groups
      .map((g) => ({ ...g, cases: g.cases.filter((c) => cases === null || cases.includes(c)) }))
      .filter((g) => g.cases.length > 0 && !(fresh && g.held)),
  };
}

export async function runDurable(args: readonly string[]): Promise<void> {
  const plan = narrowed(args.includes('--quick') ? QUICK : FULL, args);
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run bench:durable does)`);
  }
  const stale = newerSource(statSync(MAIN).mtimeMs);
  if (stale !== null) {
    console.warn(
      `warning: ${stale} is newer than dist/: the server runs an old build (npm run build)`,
    );
  }
  const t0 = performance.now();
  const loadAtStart = os.loadavg();
  const log: Log = (line) => {
    console.log(`[${round((performance.now() - t0) / 1_000, 1)} s] ${line}`);
  };
  const cases: CaseResult[] = [];
  const preloads: PreloadRecord[] = [];
  const systems: System[] = [...(plan.lua ? ['redis-lua' as const] : []), ...plan.stores];
  for (const [g, group] of plan.groups.entries()) {
    log(
      `group ${g + 1}/${plan.groups.length}: ${group.held ? `${plan.held} held, ` : 'fresh, '}${group.cases.join(', ')}`,
    );
    for (const system of systems) {
      const tag = `g${g}`;
      const out =
        system === 'redis-lua'
          ? await luaGroup(group, plan, tag, log)
          : await stockflowGroup(system, group, plan, tag, log);
      cases.push(...out.cases);
      if (out.preload !== null) preloads.push(out.preload);
    }
  }
  const report: Report = {
    date: new Date().toISOString(),
    plan,
    machine: machineInfo(loadAtStart),
    cases,
    preloads,
    wallSeconds: round((performance.now() - t0) / 1_000, 1),
  };
  const markdown = renderMarkdown(report);
  if (plan.mode === 'full' && plan === FULL) {
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    const json = { ...report, targets: targets(report), ratios: ratios(report) };
    await writeFile(new URL('durable.json', dir), `${JSON.stringify(json, null, 2)}\n`);
    await writeFile(new URL('durable.md', dir), markdown);
  }
  console.log(`\n${markdown}`);
}
