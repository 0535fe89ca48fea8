/**
 * What the server allocates per granted reserve (`npm run bench:alloc`; `-- --seconds N`,
 * `-- --cases hot,spread10k`, `-- --no-write`). Allocation rate is what sets how often the young
 * generation is collected, and it is a count, not a time: it does not move with the machine's
 * load, so a change to the hot path can be judged by it on a noisy host where throughput varies
 * by ±30% from run to run.
 *
 * How: the real server (as bench:durable starts it: `node <npm start's flags> dist/gateway/main.js`,
 * file store) with one worker, so everything runs on its main thread, and bench/alloc-sample.mjs
 * preloaded: V8's sampling heap profiler counting freed objects too. The load generator of
 * bench:durable (8 connections × 128 in flight, qty-1 reserves, all granted) runs one case; the
 * profile is bracketed by signals around the measured window only. The result is the sampled
 * bytes over the granted reserves of the window, and the functions that allocated most. The bare
 * prototype (bench/durable-bare.ts: uWS + msgpackr + group commit, none of the product) runs the
 * same case in the same run as the baseline.
 *
 * Writes bench/results/alloc.json and alloc.md.
 */
import { mkdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MeasureJob, MeasureResult } from './durable-load.ts';
import { SYSTEM_NAMES } from './durable-report.ts';
import { StockflowServer, type StoreKind } from './durable-server.ts';
import { KEYS, runChild, stockPlan, targetOf } from './durable-suite.ts';
import { waitFor } from '../test/persistence/server-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLER = join(ROOT, 'bench', 'alloc-sample.mjs');
const CASES = ['hot', 'spread10k'] as const;
type CaseName = (typeof CASES)[number];

interface ProfileNode {
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

interface Allocator {
  readonly fn: string;
  readonly bytesPerOp: number;
}

interface AllocResult {
  readonly system: StoreKind;
  readonly case: CaseName;
  readonly granted: number;
  readonly bytesPerOp: number;
  readonly top: readonly Allocator[];
}

/** Sampled bytes by function (name and file:line), over a profile's whole tree. */
function bySite(head: ProfileNode): Map<string, number> {
  const sites = new Map<string, number>();
  const stack: ProfileNode[] = [head];
  while (stack.length > 0) {
    const node = stack.pop() as ProfileNode;
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const file = url.replace(/^file:\/\//, '').replace(ROOT, '');
      const key = `${functionName === '' ? '(anonymous)' : functionName} ${file === '' ? '(native)' : `${file}:${lineNumber + 1}`}`;
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    stack.push(...node.children);
  }
  return sites;
}

async function profileAt(path: string): Promise<ProfileNode> {
  await waitFor(() => Promise.resolve(existsSync(path)), 30_000, `the heap profile ${path}`);
  return (JSON.parse(await readFile(path, 'utf8')) as { head: ProfileNode }).head;
}

async function runCase(system: StoreKind, c: CaseName, seconds: number): Promise<AllocResult> {
  const dir = await mkdtemp(join(tmpdir(), 'stockflow-bench-alloc-'));
  const out = join(dir, 'profile');
  const target = targetOf(c);
  const stock = stockPlan({ held: false, cases: [c] });
  const sampler = `--import=${pathToFileURL(SAMPLER).href}?out=${encodeURIComponent(out)}`;
  const server = await StockflowServer.start(system, KEYS, [...stock.keys()], undefined, [sampler]);
  try {
    await server.loadStock(stock, 1);
    const job: MeasureJob = {
      mode: 'measure',
      port: server.port,
      key: KEYS.storefront,
      connections: 8,
      window: 128,
      durationMs: seconds * 1_000,
      target,
      warmupMs: 1_000,
      tag: 'alloc',
      seed: 1,
    };
    // The first profile (start-up, stock, warm-up) is dropped; the second is the window.
    const r = await runChild<MeasureResult>('load', job, () => {
      server.signal('SIGUSR2');
    });
    await profileAt(`${out}.0.heapprofile`);
    server.signal('SIGUSR2');
    const sites = bySite(await profileAt(`${out}.1.heapprofile`));
    const granted = r.outcomes.granted ?? 0;
    if (granted === 0 || granted !== r.replies) {
      throw new Error(
        `${system} ${c}: not every reserve was granted: ${JSON.stringify(r.outcomes)}`,
      );
    }
    const total = [...sites.values()].reduce((a, b) => a + b, 0);
    const top = [...sites]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([fn, bytes]) => ({ fn, bytesPerOp: Math.round(bytes / granted) }));
    return { system, case: c, granted, bytesPerOp: Math.round(total / granted), top };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function markdown(results: readonly AllocResult[], seconds: number): string {
  const lines = [
    '# Allocation per granted reserve',
    '',
    `${new Date().toISOString()}, Node ${process.version}. \`npm run bench:alloc\`: the real server (file store, one worker) under bench:durable's load (8 connections × 128 in flight, qty-1 reserves, all granted, ${seconds} s after a 1 s warm-up), V8's sampling heap profiler counting freed objects too, over the measured window only. The bare prototype (bench/durable-bare.ts) is the baseline: the same reserves with none of the product.`,
    '',
    '| case | system | granted | bytes allocated per granted reserve |',
    '| --- | --- | ---: | ---: |',
    ...results.map(
      (r) => `| ${r.case} | ${SYSTEM_NAMES[r.system]} | ${r.granted} | ${r.bytesPerOp} |`,
    ),
    '',
  ];
  for (const r of results) {
    if (r.system === 'bare') continue;
    lines.push(
      `## Where Stockflow allocates: ${r.case}`,
      '',
      '| function | bytes per reserve |',
      '| --- | ---: |',
    );
    for (const a of r.top) lines.push(`| \`${a.fn}\` | ${a.bytesPerOp} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

const args = process.argv.slice(2);
const at = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
};
const seconds = Number(at('--seconds') ?? 5);
const cases = (at('--cases') ?? CASES.join(',')).split(',') as CaseName[];
for (const c of cases) if (!CASES.includes(c)) throw new Error(`unknown case ${c}`);
const results: AllocResult[] = [];
for (const c of cases) {
  // `file1`: the file store on one worker (whatever STOCKFLOW_SERVER__WORKERS says), so
  // everything runs on the main thread, the one the sampler profiles.
  for (const system of ['bare', 'file1'] as const) {
    const r = await runCase(system, c, seconds);
    console.log(`${c} ${system}: ${r.bytesPerOp} B per granted reserve (${r.granted} granted)`);
    results.push(r);
  }
}
const md = markdown(results, seconds);
console.log(md);
if (!args.includes('--no-write')) {
  const dir = join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'alloc.json'),
    `${JSON.stringify({ date: new Date().toISOString(), seconds, results }, null, 2)}\n`,
  );
  await writeFile(join(dir, 'alloc.md'), md);
}
