/**
 * Forwarding between worker threads (`npm run bench:forwarding`, `-- --quick` for a smoke run),
 * issue #12: what it costs to hand a command to the thread that owns its SKU and to get the answer
 * back, per command and per batch, over the two channels the issue names:
 *
 * - a MessagePort, each batch one ArrayBuffer moved with the transfer list (no copy);
 * - a pair of SharedArrayBuffer rings (requests, replies) of fixed 16-byte slots, one producer
 *   and one consumer each, with Atomics.notify to wake a sleeping reader and Atomics.waitAsync
 *   to sleep (a worker that also serves sockets must not block in Atomics.wait).
 *
 * The owner applies each command to a stock array (check and decrement, the shape of a reserve)
 * and answers it; the same work done in the sending thread itself is the baseline. Each case keeps
 * a window of commands in flight, as a gateway with many connections would, and sends in batches
 * of 1 to 4,096: a gateway gathers a turn's commands per destination, so the batch is what one
 * turn holds for one shard.
 *
 * Figures: commands/s through the pair of threads, and each thread's busy time per command from
 * `performance.eventLoopUtilization()` (the time its event loop was not idle), which is the CPU a
 * shard would spend on forwarding instead of on its own work. Writes
 * bench/results/forwarding.{json,md} (full runs).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/**
 * One forwarded reserve: [u32 seq][u32 qty][u8 id length][u8 SKU length][u8 location length]
 * [the three ids as latin1 bytes], in a fixed slot (the ids of this bench fit; a production ring
 * would carry variable-length records). The owner reads the ids back into strings and finds the
 * SKU's book in a Map, as a shard must; the reply is the seq and a status.
 */
const SLOT = 96;
const LOCATION = 'store-0001';
const SKUS = 10_000;
const FULL = { seconds: 3, batches: [1, 16, 256, 4096], window: 65_536 };
const QUICK = { seconds: 0.5, batches: [1, 256], window: 16_384 };

interface CaseResult {
  readonly channel: 'inline' | 'port' | 'sab';
  readonly batch: number;
  readonly commands: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Busy time of the sending thread per command, µs. */
  readonly senderUs: number;
  /** Busy time of the owning thread per command, µs (0 inline: the sender does the work). */
  readonly ownerUs: number;
}

/** A pool of reservation ids and SKU names, made before the clock starts and reused in turn. */
const IDS = Array.from({ length: 65_536 }, (_, i) => `r-${(i * 7919).toString(36)}-web`);
const SKU_NAMES = Array.from({ length: SKUS }, (_, i) => `SKU-${String(i).padStart(6, '0')}`);

/** Writes one reserve into `u8` at `at` (see SLOT). */
function encode(u8: Uint8Array, dv: DataView, at: number, seq: number): void {
  const id = IDS[seq & 0xffff] as string;
  const sku = SKU_NAMES[seq % SKUS] as string;
  dv.setUint32(at, seq, true);
  dv.setUint32(at + 4, 1, true);
  u8[at + 8] = id.length;
  u8[at + 9] = sku.length;
  u8[at + 10] = LOCATION.length;
  let p = at + 11;
  for (let i = 0; i < id.length; i++) u8[p++] = id.charCodeAt(i);
  for (let i = 0; i < sku.length; i++) u8[p++] = sku.charCodeAt(i);
  for (let i = 0; i < LOCATION.length; i++) u8[p++] = LOCATION.charCodeAt(i);
}

/**
 * The owner's side, run as the worker's source (`eval`), so the bench needs no loader in the
 * worker. It is written out whole here, not imported: a worker started from a string has no access
 * to this module. `decide` reads a record back into strings, finds the SKU's slot in a Map and
 * reserves; the status goes into the record's qty field, which is the reply.
 */
const OWNER_SOURCE = String.raw`
const { parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const SLOT = ${SLOT};
const books = new Map();
for (let i = 0; i < ${SKUS}; i++) books.set('SKU-' + String(i).padStart(6, '0'), i);
const stock = new Int32Array(${SKUS}).fill(1 << 30);
let held = 0;
const decide = (buf, dv, at) => {
  const idLen = buf[at + 8], skuLen = buf[at + 9], locLen = buf[at + 10];
  let p = at + 11;
  const id = buf.latin1Slice(p, p += idLen);
  const sku = buf.latin1Slice(p, p += skuLen);
  const location = buf.latin1Slice(p, p += locLen);
  const qty = dv.getUint32(at + 4, true);
  const index = books.get(sku);
  let status = 0;
  if (index !== undefined && location.length > 0 && id.length > 0 && stock[index] >= qty) {
    stock[index] -= qty;
    held++;
    status = 1;
  }
  dv.setUint32(at + 4, status, true);
};
let elu0 = performance.eventLoopUtilization();
parentPort.on('message', (m) => {
  if (m.type === 'start') { elu0 = performance.eventLoopUtilization(); return; }
  if (m.type === 'stop') {
    parentPort.postMessage({ type: 'busy', ms: performance.eventLoopUtilization(elu0).active, held });
    return;
  }
  if (m.type === 'batch') {
    const buf = Buffer.from(m.buffer), dv = new DataView(m.buffer);
    for (let at = 0; at < buf.length; at += SLOT) decide(buf, dv, at);
    parentPort.postMessage({ type: 'batch', buffer: m.buffer }, [m.buffer]);
    return;
  }
  if (m.type === 'rings') serveRings(m.req, m.rep, m.capacity);
});
// A ring: an Int32 header [head, tail, signal] then capacity slots. Replies are 8 bytes (seq, status).
function serveRings(reqBuf, repBuf, capacity) {
  const reqH = new Int32Array(reqBuf, 0, 4), req = Buffer.from(reqBuf, 16), reqDv = new DataView(reqBuf, 16);
  const repH = new Int32Array(repBuf, 0, 4), rep = new Uint32Array(repBuf, 16);
  const drain = () => {
    let head = Atomics.load(reqH, 0);
    const tail = Atomics.load(reqH, 1);
    if (head === tail) return false;
    let out = Atomics.load(repH, 1);
    while (head !== tail) {
      // the reply ring has the request ring's capacity and the sender never has more in flight
      const at = (head % capacity) * SLOT, to = (out % capacity) * 2;
      decide(req, reqDv, at);
      rep[to] = reqDv.getUint32(at, true);
      rep[to + 1] = reqDv.getUint32(at + 4, true);
      head++; out++;
    }
    Atomics.store(reqH, 0, head);
    Atomics.store(repH, 1, out);
    Atomics.add(repH, 2, 1);
    Atomics.notify(repH, 2);
    return true;
  };
  const loop = () => {
    while (drain()) {}
    const seen = Atomics.load(reqH, 2);
    if (drain()) return void setImmediate(loop);
    const r = Atomics.waitAsync(reqH, 2, seen);
    if (r.async) r.value.then(loop); else setImmediate(loop);
  };
  loop();
}
`;

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** Atomics.waitAsync (Node 16+, ES2024: the project's lib is ES2023). */
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Starts the sender's clock: elapsed seconds and its event loop's busy ms when `done`. */
function measureSender(): { readonly done: () => { seconds: number; busyMs: number } } {
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  return {
    done: () => ({
      seconds: (performance.now() - t0) / 1_000,
      busyMs: performance.eventLoopUtilization(elu0).active,
    }),
  };
}

function startOwner(): Promise<Worker> {
  const worker = new Worker(OWNER_SOURCE, { eval: true });
  return new Promise((resolve, reject) => {
    worker.once('online', () => {
      resolve(worker);
    });
    worker.once('error', reject);
  });
}

function ownerBusy(worker: Worker): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { type: string; ms?: number }): void => {
      if (m.type !== 'busy') return;
      worker.off('message', on);
      resolve(m.ms ?? 0);
    };
    worker.on('message', on);
    worker.postMessage({ type: 'stop' });
  });
}

function result(
  channel: CaseResult['channel'],
  batch: number,
  commands: number,
  seconds: number,
  senderMs: number,
  ownerMs: number,
): CaseResult {
  return {
    channel,
    batch,
    commands,
    seconds: round(seconds, 3),
    perSecond: Math.round(commands / seconds),
    senderUs: round((senderMs * 1_000) / commands, 3),
    ownerUs: round((ownerMs * 1_000) / commands, 3),
  };
}

/**
 * The baseline: the same reserves applied in the sending thread from the strings it already
 * holds (a Map lookup and a decrement), a window's worth per event-loop turn.
 */
async function inline(seconds: number, window: number): Promise<CaseResult> {
  const books = new Map<string, number>(SKU_NAMES.map((name, i) => [name, i]));
  const stock = new Int32Array(SKUS).fill(1 << 30);
  let seq = 0;
  let commands = 0;
  const clock = measureSender();
  const end = performance.now() + seconds * 1_000;
  while (performance.now() < end) {
    for (let i = 0; i < window; i++, seq++) {
      const index = books.get(SKU_NAMES[seq % SKUS] as string);
      if (index === undefined || (IDS[seq & 0xffff] as string).length === 0) continue;
      const have = stock[index] as number;
      if (have >= 1) {
        stock[index] = have - 1;
        commands++;
      }
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const { seconds: s, busyMs } = clock.done();
  return result('inline', 0, commands, s, busyMs, 0);
}

/** Batches over a MessagePort, each buffer transferred there and back. */
async function port(batch: number, seconds: number, window: number): Promise<CaseResult> {
  const worker = await startOwner();
  worker.postMessage({ type: 'start' });
  const inFlightBatches = Math.max(1, Math.floor(window / batch));
  let seq = 0;
  let commands = 0;
  let stopping = false;
  let outstanding = 0;
  const clock = measureSender();
  const send = (buffer: ArrayBuffer): void => {
    const u8 = new Uint8Array(buffer);
    const dv = new DataView(buffer);
    for (let i = 0; i < batch; i++) encode(u8, dv, i * SLOT, seq++);
    outstanding++;
    worker.postMessage({ type: 'batch', buffer }, [buffer]);
  };
  const finished = new Promise<void>((resolve) => {
    worker.on('message', (m: { type: string; buffer?: ArrayBuffer }) => {
      if (m.type !== 'batch' || m.buffer === undefined) return;
      outstanding--;
      const dv = new DataView(m.buffer);
      for (let i = 0; i < batch; i++) commands += dv.getUint32(i * SLOT + 4, true);
      if (!stopping) send(m.buffer);
      else if (outstanding === 0) resolve();
    });
  });
  for (let b = 0; b < inFlightBatches; b++) send(new ArrayBuffer(batch * SLOT));
  setTimeout(() => {
    stopping = true;
  }, seconds * 1_000);
  await finished;
  const { seconds: s, busyMs } = clock.done();
  const ownerMs = await ownerBusy(worker);
  await worker.terminate();
  return result('port', batch, commands, s, busyMs, ownerMs);
}

/**
 * Commands through two SharedArrayBuffer rings; each side sleeps in Atomics.waitAsync when idle.
 * `batch` commands are published (tail moved, reader woken) at a time.
 */
async function sab(batch: number, seconds: number, window: number): Promise<CaseResult> {
  const worker = await startOwner();
  worker.postMessage({ type: 'start' });
  const capacity = window;
  const reqBuf = new SharedArrayBuffer(16 + capacity * SLOT);
  const repBuf = new SharedArrayBuffer(16 + capacity * 8);
  const reqH = new Int32Array(reqBuf, 0, 4);
  const req = new Uint8Array(reqBuf, 16);
  const reqDv = new DataView(reqBuf, 16);
  const repH = new Int32Array(repBuf, 0, 4);
  const rep = new Uint32Array(repBuf, 16);
  worker.postMessage({ type: 'rings', req: reqBuf, rep: repBuf, capacity });
  let seq = 0;
  let commands = 0;
  let sent = 0;
  let answered = 0;
  const clock = measureSender();
  const end = performance.now() + seconds * 1_000;
  const fill = (): void => {
    let tail = Atomics.load(reqH, 1);
    while (sent - answered + batch <= window) {
      for (let i = 0; i < batch; i++) {
        encode(req, reqDv, (tail % capacity) * SLOT, seq++);
        tail++;
      }
      sent += batch;
      Atomics.store(reqH, 1, tail);
      Atomics.add(reqH, 2, 1);
      Atomics.notify(reqH, 2);
    }
  };
  const collect = (): boolean => {
    let head = Atomics.load(repH, 0);
    const tail = Atomics.load(repH, 1);
    if (head === tail) return false;
    while (head !== tail) {
      commands += rep[(head % capacity) * 2 + 1] as number;
      head++;
      answered++;
    }
    Atomics.store(repH, 0, head);
    return true;
  };
  await new Promise<void>((resolve) => {
    const loop = (): void => {
      collect();
      if (performance.now() >= end) {
        if (answered === sent) {
          resolve();
          return;
        }
      } else {
        fill();
      }
      const seen = Atomics.load(repH, 2);
      if (collect()) {
        setImmediate(loop);
        return;
      }
      const wait = waitAsync(repH, 2, seen);
      if (wait.async) void wait.value.then(loop);
      else setImmediate(loop);
    };
    loop();
  });
  const { seconds: s, busyMs } = clock.done();
  const ownerMs = await ownerBusy(worker);
  await worker.terminate();
  return result('sab', batch, commands, s, busyMs, ownerMs);
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function render(
  at: string,
  mode: string,
  load: readonly number[],
  cases: readonly CaseResult[],
): string {
  const lines = [
    '# Forwarding between worker threads',
    '',
    `${at} (${mode} run), ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, load average at start ${JSON.stringify(load.map((l) => round(l)))}. \`npm run bench:forwarding\`.`,
    '',
    '| channel | batch (commands per message) | commands/s | sender µs/command | owner µs/command | forwarding µs/command (both threads, minus inline) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of cases) {
    const base = cases.find((b) => b.channel === 'inline');
    const extra =
      c.channel === 'inline' || base === undefined
        ? ''
        : String(round(c.senderUs + c.ownerUs - base.senderUs, 3));
    lines.push(
      `| ${c.channel} | ${c.channel === 'inline' ? '–' : c.batch} | ${c.perSecond.toLocaleString('en')} | ${c.senderUs} | ${c.channel === 'inline' ? '' : c.ownerUs} | ${extra} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const plan = quick ? QUICK : FULL;
  const at = new Date().toISOString();
  const load = os.loadavg();
  const cases: CaseResult[] = [await inline(plan.seconds, plan.window)];
  for (const batch of plan.batches) {
    cases.push(await port(batch, plan.seconds, plan.window));
    cases.push(await sab(batch, plan.seconds, plan.window));
    console.log(cases.slice(-2).map((c) => `${c.channel}/${c.batch}: ${c.perSecond}/s`));
  }
  const markdown = render(at, quick ? 'quick' : 'full', load, cases);
  if (!quick) {
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    const json = {
      at,
      node: process.version,
      cpus: os.cpus().length,
      loadAverageAtStart: load,
      plan,
      cases,
    };
    await writeFile(new URL('forwarding.json', dir), `${JSON.stringify(json, null, 2)}\n`);
    await writeFile(new URL('forwarding.md', dir), markdown);
  }
  console.log(`\n${markdown}`);
}

await main();
