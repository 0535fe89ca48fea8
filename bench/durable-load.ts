/**
 * The load generator of the durable benchmark (bench/durable.ts forks it, one process per run):
 * raw WebSockets (gateway-wire.ts), `window` reserves in flight per connection for a fixed time.
 * Frames are hand-built msgpack from one template per connection: each request is the template
 * copied and patched in place (request id, reservation id digits, SKU digits), so building one
 * costs a copy of ~100 bytes and no msgpack encoding. Replies are read without decoding
 * (readReply: op, id and error code only). The same process also preloads the reservations a
 * case starts with, by the same reserve frames, as fast as the server takes them.
 */
import type net from 'node:net';
import { sendToParent } from './child-ipc.ts';
import {
  clientFrame,
  FrameReader,
  LatencyHistogram,
  openSocket,
  pongFrame,
  prng,
  readReply,
  reply,
  wallMs,
} from './gateway-wire.ts';

/** Every SKU name is 6 characters: `s` + 5 digits for the spread range, or one of these. */
export const HOT_SKU = 'hot-00';
export const EMPTY_SKU = 'nil-00';
export const WARM_SKU = 'wrm-00';
export const LOCATION = 'dc-0';
export const CHANNEL = 'web';

export function spreadSku(i: number): string {
  return `s${String(i).padStart(5, '0')}`;
}

/** Where a run's reserves go: all on one SKU, or uniformly over spreadSku(0 .. skus-1). */
export type Target =
  | { readonly kind: 'one'; readonly sku: string }
  | { readonly kind: 'spread'; readonly skus: number };

export interface MeasureJob {
  readonly mode: 'measure';
  readonly port: number;
  readonly key: string;
  readonly connections: number;
  readonly window: number;
  readonly durationMs: number;
  readonly target: Target;
  /** Warm-up before `ready` (JIT, buffers), on WARM_SKU; 0 for none. */
  readonly warmupMs: number;
  /** Up to 8 characters, unique per run on one server: reservation ids are `${tag}${conn}${n}`. */
  readonly tag: string;
  readonly seed: number;
}

export interface PreloadJob {
  readonly mode: 'preload';
  readonly port: number;
  readonly key: string;
  readonly connections: number;
  /** Reserves in flight per connection. */
  readonly window: number;
  readonly reservations: number;
  /** Spread uniformly over spreadSku(0 .. skus-1). */
  readonly skus: number;
  readonly tag: string;
}

export type LoadJob = MeasureJob | PreloadJob;

export interface MeasureResult {
  /** Reserves granted during the warm-up (they stay held). */
  readonly warmGranted: number;
  readonly replies: number;
  /** Replies by outcome: `granted` for a reservation, else the error code (or `unreadable`). */
  readonly outcomes: Record<string, number>;
  readonly latency: [number, number][];
  readonly maxMs: number;
  readonly startMs: number;
  readonly endMs: number;
  /** CPU this process used during the run (µs). */
  readonly cpuMicros: number;
}

export interface PreloadResult {
  readonly reservations: number;
  readonly outcomes: Record<string, number>;
  readonly seconds: number;
  readonly cpuMicros: number;
}

export type LoadMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly result: MeasureResult | PreloadResult };

// ---- the reserve frame template ---------------------------------------------------------------

const RID_DIGITS = 10;

/**
 * One client frame `{op, id, reservationId, channel, sku, qty, location}` as msgpack, with the
 * offsets of the parts a request changes. The id is a uint32 (0xce), the reservation id a fixstr
 * of fixed length, so every request has the same length.
 */
export class ReserveTemplate {
  readonly bytes: Buffer;
  readonly idAt: number;
  readonly ridDigitsAt: number;
  /** Where the 5 digits of a spread SKU start. */
  readonly skuDigitsAt: number;

  constructor(ridPrefix: string, sku: string) {
    const parts: number[] = [];
    const str = (s: string): void => {
      if (s.length > 31) throw new Error(`fixstr too long: ${s}`);
      parts.push(0xa0 | s.length, ...Buffer.from(s, 'latin1'));
    };
    parts.push(0x87);
    str('op');
    str('reserve');
    str('id');
    parts.push(0xce);
    const idAt = parts.length;
    parts.push(0, 0, 0, 0);
    str('reservationId');
    const ridAt = parts.length + 1;
    str(ridPrefix + '0'.repeat(RID_DIGITS));
    str('channel');
    str(CHANNEL);
    str('sku');
    const skuAt = parts.length + 1;
    if (sku.length !== 6) throw new Error(`SKU names are 6 characters: ${sku}`);
    str(sku);
    str('qty');
    parts.push(1);
    str('location');
    str(LOCATION);
    const payload = Buffer.from(parts);
    const frame = clientFrame(payload, true);
    const head = frame.length - payload.length;
    this.bytes = frame;
    this.idAt = head + idAt;
    this.ridDigitsAt = head + ridAt + ridPrefix.length;
    this.skuDigitsAt = head + skuAt + 1;
  }

  get length(): number {
    return this.bytes.length;
  }
}

/** Writes `n` as `width` decimal digits (zero-padded) at `at`. */
function writeDigits(buf: Buffer, at: number, width: number, n: number): void {
  let v = n;
  for (let i = width - 1; i >= 0; i--) {
    buf[at + i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

// ---- a measured run ----------------------------------------------------------------------------

const RING = 1 << 16;

/** Replies by outcome, their latency and the slowest (bench/raw-ws.ts counts with it too). */
export class Stats {
  readonly latency = new LatencyHistogram();
  readonly outcomes = new Map<string, number>();
  maxMs = 0;
  count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
}

class MeasureConnection {
  private seq = 0;
  private answered = 0;
  private stopAt = 0;
  private left = 0;
  private stats: Stats | null = null;
  private readonly sent = new Float64Array(RING);
  private readonly reader: FrameReader;
  private template: ReserveTemplate;
  private onIdle: (() => void) | null = null;
  private onFail: ((error: Error) => void) | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly window: number,
    private readonly ridPrefix: string,
    private target: Target,
    private readonly random: () => number,
  ) {
    this.template = this.templateFor(target, ridPrefix);
    this.reader = new FrameReader((buf, start, end, opcode) => {
      if (opcode === 0x9) {
        this.socket.write(pongFrame(Buffer.from(buf.subarray(start, end))));
        return;
      }
      if (opcode !== 0x2 && opcode !== 0x1) return;
      this.onReply(buf, start);
    });
    socket.on('data', (chunk: Buffer) => {
      const before = this.answered;
      this.reader.push(chunk);
      const k = this.answered - before;
      if (k > 0 && performance.now() < this.stopAt) this.send(k);
      if (this.answered === this.seq && this.onIdle !== null) {
        const idle = this.onIdle;
        this.onIdle = null;
        this.onFail = null;
        idle();
      }
    });
    // A server that dies or hangs up would otherwise leave the run waiting for its replies.
    const fail = (why: string): void => {
      const onFail = this.onFail;
      this.onIdle = null;
      this.onFail = null;
      onFail?.(new Error(`${why} after ${this.answered} of ${this.seq} replies`));
    };
    socket.once('close', () => {
      fail('the server closed the connection');
    });
    socket.on('error', (error) => {
      fail(`connection error (${error.message})`);
    });
    socket.resume();
  }

  private templateFor(target: Target, ridPrefix: string): ReserveTemplate {
    return new ReserveTemplate(ridPrefix, target.kind === 'one' ? target.sku : spreadSku(0));
  }

  /** Runs until `ms` have passed (or `count` were sent) and every request sent is answered. */
  run(
    limit: { readonly ms: number } | { readonly count: number },
    stats: Stats,
    target: Target,
    ridPrefix: string,
  ): Promise<void> {
    this.stats = stats;
    this.target = target;
    this.template = this.templateFor(target, ridPrefix);
    this.stopAt = 'ms' in limit ? performance.now() + limit.ms : Infinity;
    this.left = 'count' in limit ? limit.count : Infinity;
    if (this.socket.destroyed) return Promise.reject(new Error('the connection is closed'));
    return new Promise((resolve, reject) => {
      this.onIdle = resolve;
      this.onFail = reject;
      this.send(this.window);
      if (this.answered === this.seq) {
        this.onIdle = null;
        this.onFail = null;
        resolve();
      }
    });
  }

  private send(wanted: number): void {
    const k = Math.min(wanted, this.left);
    if (k <= 0) return;
    this.left -= k;
    const t = this.template;
    const len = t.length;
    const out = Buffer.allocUnsafe(k * len);
    const now = performance.now();
    const spread = this.target.kind === 'spread' ? this.target.skus : 0;
    for (let j = 0; j < k; j++) {
      const at = j * len;
      t.bytes.copy(out, at);
      const n = this.seq++;
      out.writeUInt32BE(n, at + t.idAt);
      writeDigits(out, at + t.ridDigitsAt, RID_DIGITS, n);
      if (spread > 0) writeDigits(out, at + t.skuDigitsAt, 5, Math.floor(this.random() * spread));
      this.sent[n & (RING - 1)] = now;
    }
    this.socket.write(out);
  }

  private onReply(buf: Buffer, start: number): void {
    this.answered++;
    const stats = this.stats;
    if (stats === null) return;
    if (!readReply(buf, start) || reply.id < 0 || reply.id >= this.seq) {
      stats.count('unreadable');
      return;
    }
    const ms = performance.now() - (this.sent[reply.id & (RING - 1)] as number);
    stats.latency.recordMs(ms);
    if (ms > stats.maxMs) stats.maxMs = ms;
    // 0x72 'r': a reservation (the reserve reply); 0x65 'e': an error with its code.
    stats.count(reply.op === 0x72 ? 'granted' : reply.op === 0x65 ? reply.code : 'other');
  }
}

async function connect(job: { port: number; key: string; connections: number }) {
  const sockets: net.Socket[] = [];
  for (let c = 0; c < job.connections; c++) {
    const { socket, rest } = await openSocket(job.port, '/v1/ws', {
      authorization: `Bearer ${job.key}`,
    });
    if (rest.length > 0) throw new Error('unexpected bytes after the 101');
    sockets.push(socket);
  }
  return sockets;
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    process.once('message', () => {
      resolve();
    });
  });
}

async function runMeasure(job: MeasureJob): Promise<MeasureResult> {
  const sockets = await connect(job);
  const random = prng(job.seed);
  const conns = sockets.map(
    (s, c) => new MeasureConnection(s, job.window, `${job.tag}${c}`, job.target, random),
  );
  let warmGranted = 0;
  if (job.warmupMs > 0) {
    const warm = new Stats();
    await Promise.all(
      conns.map((c, i) =>
        c.run({ ms: job.warmupMs }, warm, { kind: 'one', sku: WARM_SKU }, `${job.tag}w${i}`),
      ),
    );
    warmGranted = warm.outcomes.get('granted') ?? 0;
    if (warmGranted !== warm.latency.total) {
      throw new Error(
        `warm-up not all granted: ${JSON.stringify(Object.fromEntries(warm.outcomes))}`,
      );
    }
  }
  process.send?.({ type: 'ready' } satisfies LoadMessage);
  await waitForGo();
  const stats = new Stats();
  const cpu0 = process.cpuUsage();
  const startMs = wallMs();
  await Promise.all(
    conns.map((c, i) => c.run({ ms: job.durationMs }, stats, job.target, `${job.tag}${i}`)),
  );
  const endMs = wallMs();
  const cpu = process.cpuUsage(cpu0);
  for (const s of sockets) s.destroy();
  let replies = 0;
  for (const v of stats.outcomes.values()) replies += v;
  return {
    warmGranted,
    replies,
    outcomes: Object.fromEntries(stats.outcomes),
    latency: stats.latency.toPairs(),
    maxMs: stats.maxMs,
    startMs,
    endMs,
    cpuMicros: cpu.user + cpu.system,
  };
}

// ---- preloading held reservations --------------------------------------------------------------

/** Reserves `reservations` on SKUs spread uniformly over spreadSku(0 .. skus-1), as fast as it goes. */
async function runPreload(job: PreloadJob): Promise<PreloadResult> {
  const sockets = await connect(job);
  const random = prng(7_777);
  const target: Target = { kind: 'spread', skus: job.skus };
  const conns = sockets.map(
    (s, c) => new MeasureConnection(s, job.window, `${job.tag}${c}`, target, random),
  );
  process.send?.({ type: 'ready' } satisfies LoadMessage);
  await waitForGo();
  const stats = new Stats();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const each = Math.ceil(job.reservations / conns.length);
  await Promise.all(
    conns.map((c, i) =>
      c.run(
        { count: Math.min(each, job.reservations - i * each) },
        stats,
        target,
        `${job.tag}${i}`,
      ),
    ),
  );
  const seconds = (performance.now() - t0) / 1_000;
  const cpu = process.cpuUsage(cpu0);
  for (const s of sockets) s.destroy();
  return {
    reservations: job.reservations,
    outcomes: Object.fromEntries(stats.outcomes),
    seconds,
    cpuMicros: cpu.user + cpu.system,
  };
}

/** Runs as a forked child: the job comes as the first IPC message, `go` as the second. */
export function serveDurableLoad(): void {
  process.once('message', (job: LoadJob) => {
    const run = job.mode === 'measure' ? runMeasure(job) : runPreload(job);
    run
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
