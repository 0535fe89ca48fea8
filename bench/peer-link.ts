/**
 * What a forwarded stock command costs between two shards (`npm run bench:peer-link`), in one
 * thread: two StockEngines, each behind its ShardRouter, joined by a MessageChannel as two
 * workers' routers are (gateway/shards/worker-main.ts). Every command is submitted to router A
 * for a SKU router B owns, so each one takes the whole forwarding path: A encodes it into the
 * turn's message, B decodes and serves it on its engine, encodes the answer, A decodes it and
 * rebuilds the engine's result. The same commands submitted to B itself are the baseline; the
 * difference is what forwarding costs. "Links alone" is two PeerLinks whose owner answers each
 * command at once with a made-up engine result (no engine): the links' own cost plus this
 * bench's (making the commands, counting the answers).
 *
 * Load: 8 windows, each sending 128 reserves at once (one turn, as a gateway's busy connections
 * do), then releasing half and confirming the other half, and again. CPU per command is the
 * process's (process.cpuUsage: both routers, the port, the collector) over the commands answered,
 * the best of 5 rounds per process (see best).
 *
^ * `-- --before <dir>` also runs another tree's gateway/shards, each run in a fresh process,
 * alternating with this tree's, `--runs` times (3). The other tree needs only its
 * gateway/shards files, with engine/, config/, persistence/ and node_modules/ linked beside:
 *
 *   mkdir -p /tmp/before/gateway/shards
 *   for f in peer-link answer-codec shard-router layout reservation-directory; do
 *     git show HEAD:gateway/shards/$f.ts > /tmp/before/gateway/shards/$f.ts; done
 *   for d in engine config persistence node_modules; do ln -s "$PWD/$d" /tmp/before/$d; done
 *   npm run bench:peer-link -- --before /tmp/before --runs 5
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { ManualClock, StockEngine, type Command, type CommandResult } from '../engine/index.ts';
import type { ShardRouter } from '../gateway/shards/shard-router.ts';
import { shardOf } from '../gateway/shards/layout.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WINDOWS = 8;
const WINDOW = 128;
const SKUS = 1_000;
const LOCATION = 'store-0001';
/** Measurements of each path per process (see child). */
const ROUNDS = 5;

interface Figures {
  readonly commands: number;
  /** Process CPU per command, µs. */
  readonly cpuUs: number;
  /** Main thread busy time per command, µs (eventLoopUtilization). */
  readonly busyUs: number;
}

interface RunResult {
  readonly forwarded: Figures;
  readonly local: Figures;
  /** The links alone: the owner answers each command with a made-up engine result at once. */
  readonly links: Figures;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

type RouterClass = new (
  local: StockEngine,
  shard: number,
  count: number,
  ports: readonly (import('node:worker_threads').MessagePort | null)[],
) => ShardRouter;

async function loadRouter(root: string): Promise<RouterClass> {
  const url = pathToFileURL(join(root, 'gateway', 'shards', 'shard-router.ts')).href;
  const mod = (await import(url)) as { ShardRouter: RouterClass };
  return mod.ShardRouter;
}

/** Either tree's PeerLink, as far as this bench drives it. */
interface AnyLink {
  request(kind: string, payload: unknown, waiter: { answered(v: unknown): void }): void;
  requestCommand?(waiter: {
    cmd: Command;
    answered(v: unknown): void;
    settled(r: unknown): void;
  }): void;
  deliver?(result: CommandResult, id: number, cmd: Command): void;
  close(): void;
}
type LinkClass = new (
  peer: number,
  port: import('node:worker_threads').MessagePort,
  server: (kind: string, payload: unknown, reply: ((v: unknown) => void) | null) => void,
  commands?: (cmd: Command, link: AnyLink, id: number) => void,
) => AnyLink;

async function loadLinks(root: string): Promise<{
  PeerLink: LinkClass;
  packAnswer: (result: CommandResult, cmd: Command) => unknown;
  unpackAnswer: (value: unknown, cmd: Command) => CommandResult;
}> {
  const shards = join(root, 'gateway', 'shards');
  const link = (await import(pathToFileURL(join(shards, 'peer-link.ts')).href)) as {
    PeerLink: LinkClass;
  };
  const codec = (await import(pathToFileURL(join(shards, 'answer-codec.ts')).href)) as {
    packAnswer: (result: CommandResult, cmd: Command) => unknown;
    unpackAnswer: (value: unknown, cmd: Command) => CommandResult;
  };
  return { PeerLink: link.PeerLink, ...codec };
}

/** What the owner's engine would answer: the reservation, in the state the command leaves it. */
function madeUpResult(cmd: Command, sku: string): CommandResult {
  const reservationId = (cmd as { reservationId: string }).reservationId;
  return {
    ok: true,
    applied: true,
    duplicate: false,
    position: null,
    reservation: {
      reservationId,
      sku,
      channel: 'web',
      qty: 1,
      state: cmd.op === 'reserve' ? 'held' : cmd.op === 'release' ? 'released' : 'confirmed',
      lines: [{ location: LOCATION, qty: 1 }],
      expiresAt: 1_700_000_900_000,
      orderId: cmd.op === 'confirm' ? cmd.orderId : null,
    },
  };
}

/** Two links of `root`'s tree over a MessageChannel: a router-like sender and a made-up owner. */
async function linksOnly(root: string, skus: readonly string[], cycles: number): Promise<Figures> {
  const { PeerLink, packAnswer, unpackAnswer } = await loadLinks(root);
  const { port1, port2 } = new MessageChannel();
  const skuOf = new Map<string, string>();
  const serveOld = (kind: string, payload: unknown, reply: ((v: unknown) => void) | null): void => {
    const cmd = payload as Command;
    reply?.(
      packAnswer(
        madeUpResult(cmd, skuOf.get(cmd.op === 'reserve' ? cmd.reservationId : '') ?? 'x'),
        cmd,
      ),
    );
  };
  const serveNew = (cmd: Command, link: AnyLink, id: number): void => {
    link.deliver?.(madeUpResult(cmd, 'sku' in cmd ? cmd.sku : 'x'), id, cmd);
  };
  const a = new PeerLink(1, port1, serveOld, serveNew);
  const b = new PeerLink(0, port2, serveOld, serveNew);
  const router = {
    submit(cmd: Command, sink: { deliver(r: CommandResult): void }): void {
      const waiter = {
        cmd,
        answered: (v: unknown) => {
          sink.deliver(unpackAnswer(v, cmd));
        },
        settled: (r: unknown) => {
          sink.deliver(r as CommandResult);
        },
      };
      if (a.requestCommand !== undefined) a.requestCommand(waiter);
      else a.request('cmd', cmd, waiter);
    },
  } as unknown as ShardRouter;
  await measure(router, skus, Math.ceil(cycles / 4), 'wk');
  const rounds: Figures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rounds.push(await measure(router, skus, cycles, `k${round}`));
  }
  a.close();
  b.close();
  return best(rounds);
}

/** Counts answers and wakes the window waiting for them (no closure per command). */
class Window {
  left = 0;
  failed = 0;
  private wake: (() => void) | null = null;
  deliver(result: CommandResult): void {
    if (!result.ok) this.failed++;
    if (--this.left === 0) this.wake?.();
  }
  done(): Promise<void> {
    return this.left === 0 ? Promise.resolve() : new Promise((r) => (this.wake = r));
  }
}

/**
 * A window's ids, made before the clock starts and flat, as strings read from a frame are (a
 * template literal makes a rope, which every character read walks).
 */
function windowIds(w: number, cycles: number, tag: string, prefix: string): string[] {
  const joined = Array.from(
    { length: cycles * WINDOW },
    (_, k) => `${prefix}-${tag}-${w}-${Math.floor(k / WINDOW)}-${k % WINDOW}`,
  ).join(' ');
  return Buffer.from(joined, 'latin1').toString('latin1').split(' ');
}

async function runWindow(
  via: ShardRouter,
  skus: readonly string[],
  w: number,
  ids: readonly string[],
  orderIds: readonly string[],
): Promise<number> {
  const win = new Window();
  const sink = {
    deliver: (result: CommandResult) => {
      win.deliver(result);
    },
  };
  let sent = 0;
  for (let at = 0; at < ids.length; at += WINDOW) {
    win.left = WINDOW;
    for (let i = 0; i < WINDOW; i++) {
      const cmd: Command = {
        op: 'reserve',
        reservationId: ids[at + i] as string,
        channel: 'web',
        sku: skus[(at + i + w * 37) % skus.length] as string,
        qty: 1,
        location: i % 2 === 0 ? LOCATION : undefined,
        ttlMs: undefined,
      };
      via.submit(cmd, sink, null);
    }
    await win.done();
    win.left = WINDOW;
    for (let i = 0; i < WINDOW; i++) {
      const reservationId = ids[at + i] as string;
      const cmd: Command =
        i % 2 === 0
          ? { op: 'release', reservationId, channel: undefined }
          : { op: 'confirm', reservationId, orderId: orderIds[at + i] as string, channel: 'web' };
      via.submit(cmd, sink, null);
    }
    await win.done();
    sent += 2 * WINDOW;
  }
  if (win.failed > 0) throw new Error(`${win.failed} commands refused`);
  return sent;
}

async function measure(
  via: ShardRouter,
  skus: readonly string[],
  cycles: number,
  tag: string,
): Promise<Figures> {
  const ids = Array.from({ length: WINDOWS }, (_, w) => windowIds(w, cycles, tag, 'r'));
  const orderIds = Array.from({ length: WINDOWS }, (_, w) => windowIds(w, cycles, tag, 'o'));
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const counts = await Promise.all(
    Array.from({ length: WINDOWS }, (_, w) =>
      runWindow(via, skus, w, ids[w] as string[], orderIds[w] as string[]),
    ),
  );
  const used = process.cpuUsage(cpu);
  const busy = performance.eventLoopUtilization(elu);
  const commands = counts.reduce((a, b) => a + b, 0);
  return {
    commands,
    cpuUs: (used.user + used.system) / commands,
    busyUs: (busy.active * 1000) / commands,
  };
}

async function child(root: string, cycles: number): Promise<RunResult> {
  const Router = await loadRouter(root);
  const clock = new ManualClock();
  const all = Array.from({ length: SKUS * 2 }, (_, i) => `SKU-${String(i).padStart(6, '0')}`);
  const engines = [0, 1].map(
    () =>
      new StockEngine({
        rules: { channels: [{ id: 'web', priority: 1 }] },
        locations: [{ id: LOCATION, type: 'store' }],
        products: all.map((sku) => ({ sku })),
        clock,
      }),
  );
  const { port1, port2 } = new MessageChannel();
  const a = new Router(engines[0] as StockEngine, 0, 2, [null, port1]);
  const b = new Router(engines[1] as StockEngine, 1, 2, [port2, null]);
  const onB = all.filter((sku) => shardOf(sku, 2) === 1);
  for (const sku of onB) {
    const r = await b.execute({ op: 'setOnHand', sku, location: LOCATION, onHand: 1e9, asOf: 1 });
    if (!r.ok) throw new Error(r.message);
  }
  // Warm-up: both paths compiled before either is measured. Then the two alternate, ROUNDS
  // times each, and each takes its best round (see best): the books fill as the run goes, and
  // the machine's other load comes and goes.
  await measure(a, onB, Math.ceil(cycles / 4), 'wf');
  await measure(b, onB, Math.ceil(cycles / 4), 'wl');
  const forwardedRounds: Figures[] = [];
  const localRounds: Figures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    forwardedRounds.push(await measure(a, onB, cycles, `f${round}`));
    localRounds.push(await measure(b, onB, cycles, `l${round}`));
  }
  const forwarded = best(forwardedRounds);
  const local = best(localRounds);
  await a.stop();
  await b.stop();
  a.closeLinks();
  b.closeLinks();
  return { forwarded, local, links: await linksOnly(root, onB, cycles) };
}

/**
 * The round of least CPU per command: other load on the machine only ever adds to a round's
 * CPU (cache and core contention), so the least disturbed round is the best estimate.
 */
function best(rounds: readonly Figures[]): Figures {
  const sorted = [...rounds].sort((x, y) => x.cpuUs - y.cpuUs);
  return sorted[0] as Figures;
}

function spawnRun(root: string, cycles: number): RunResult {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      root,
      '--cycles',
      String(cycles),
    ],
    { encoding: 'utf8', cwd: ROOT },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string) as RunResult;
}

function mid(list: readonly number[]): number {
  const sorted = [...list].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function row(cells: readonly (string | number)[]): string {
  return `| ${cells.map((c) => (typeof c === 'number' ? c.toFixed(2) : c)).join(' | ')} |`;
}

async function main(): Promise<void> {
  const cycles = Number(arg('cycles') ?? 40);
  const childRoot = arg('child');
  if (childRoot !== undefined) {
    console.log(JSON.stringify(await child(childRoot, cycles)));
    return;
  }
  const runs = Number(arg('runs') ?? 3);
  const before = arg('before');
  const trees: [string, string][] = [['this tree', ROOT]];
  if (before !== undefined) trees.unshift(['before', resolve(before)]);
  console.log(
    `${WINDOWS} windows x ${WINDOW} commands in flight, ${cycles} cycles each ` +
      `(reserve, then release half, confirm half): ${WINDOWS * cycles * 2 * WINDOW} commands a run`,
  );
  console.log(
    row([
      'run',
      'tree',
      'forwarded CPU µs/cmd',
      'local CPU µs/cmd',
      'forwarding CPU µs/cmd',
      'forwarded busy µs/cmd',
      'local busy µs/cmd',
      'links alone CPU µs/cmd',
    ]),
  );
  console.log(row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:']));
  const sums = new Map<string, number[]>();
  const linkSums = new Map<string, number[]>();
  for (let run = 1; run <= runs; run++) {
    for (const [name, root] of trees) {
      const r = spawnRun(root, cycles);
      const extra = r.forwarded.cpuUs - r.local.cpuUs;
      sums.set(name, [...(sums.get(name) ?? []), extra]);
      linkSums.set(name, [...(linkSums.get(name) ?? []), r.links.cpuUs]);
      console.log(
        row([
          String(run),
          name,
          r.forwarded.cpuUs,
          r.local.cpuUs,
          extra,
          r.forwarded.busyUs,
          r.local.busyUs,
          r.links.cpuUs,
        ]),
      );
    }
  }
  for (const [name, list] of sums) {
    console.log(
      `${name}: forwarding CPU µs per command, median ${mid(list).toFixed(2)}; ` +
        `links alone, median ${mid(linkSums.get(name) ?? []).toFixed(2)}`,
    );
  }
}

await main();
