/**
 * A light raw-socket WebSocket client for load generators (bench/scale.ts uses it): node:net
 * sockets with the hand-written upgrade of gateway-wire.ts (the API key in the Authorization
 * header, as servers and apps send it), requests pre-built as one FrameBatch per connection before
 * the clock starts (frame i carries request id i, so a write is a view of the pool, no encoding
 * and no copy), a fixed number in flight per connection, and replies classified from their first
 * bytes (readReply: op, id, error code) without decoding them.
 */
import type net from 'node:net';
import { Stats } from './durable-load.ts';
import {
  FrameBatch,
  FrameReader,
  openSocket,
  pongFrame,
  readReply,
  reply,
  wallMs,
} from './gateway-wire.ts';

/** Opens `count` WebSockets to /v1/ws on `port` with `key`. */
export async function connectRaw(port: number, key: string, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let c = 0; c < count; c++) {
    const { socket, rest } = await openSocket(port, '/v1/ws', { authorization: `Bearer ${key}` });
    if (rest.length > 0) throw new Error('unexpected bytes after the 101');
    sockets.push(socket);
  }
  return sockets;
}

/** Calls `onMessage` for each data frame on `socket` and answers pings. */
export function onFrames(
  socket: net.Socket,
  onMessage: (buf: Buffer, start: number, end: number) => void,
): FrameReader {
  const reader = new FrameReader((buf, start, end, opcode) => {
    if (opcode === 0x9) socket.write(pongFrame(Buffer.from(buf.subarray(start, end))));
    else if (opcode === 0x1 || opcode === 0x2) onMessage(buf, start, end);
  });
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
  });
  return reader;
}

/** Requests built ahead of time: `count` frames, frame i with request id i. */
export function buildPool(count: number, payload: (i: number) => Uint8Array): FrameBatch {
  return FrameBatch.build(count, payload, true);
}

/** What a pipelined run saw, over all its connections. */
class PipelineStats extends Stats {
  /** Connections that ran out of pre-built requests before the time was up. */
  exhausted = 0;
}

/**
 * One connection sending its pool in order with `window` requests in flight; a reply whose op
 * starts with `okOp` counts as `ok`, an error as its code.
 */
class PipelinedConnection {
  private seq = 0;
  private answered = 0;
  private stopAt = 0;
  private ranOut = false;
  private readonly sent: Float64Array;
  private done: (() => void) | null = null;
  private failed: ((error: Error) => void) | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly pool: FrameBatch,
    private readonly window: number,
    private readonly okOp: number,
    private readonly stats: PipelineStats,
  ) {
    this.sent = new Float64Array(pool.count);
    onFrames(socket, (buf, start) => {
      this.onReply(buf, start);
    });
    socket.on('data', () => {
      this.afterChunk();
    });
    socket.once('close', () => {
      this.failed?.(new Error(`connection closed after ${this.answered} of ${this.seq} replies`));
    });
    socket.resume();
  }

  run(ms: number): Promise<void> {
    this.stopAt = performance.now() + ms;
    return new Promise((resolve, reject) => {
      this.done = resolve;
      this.failed = reject;
      this.send(this.window);
    });
  }

  private send(wanted: number): void {
    const k = Math.min(wanted, this.pool.count - this.seq);
    if (k < wanted && !this.ranOut) {
      this.ranOut = true;
      this.stats.exhausted++;
    }
    if (k <= 0) return;
    const now = performance.now();
    for (let i = this.seq; i < this.seq + k; i++) this.sent[i] = now;
    this.socket.write(this.pool.slice(this.seq, this.seq + k));
    this.seq += k;
  }

  private afterChunk(): void {
    const inFlight = this.seq - this.answered;
    if (performance.now() < this.stopAt && inFlight < this.window) {
      this.send(this.window - inFlight);
    }
    if (this.answered === this.seq && this.done !== null) {
      const done = this.done;
      this.done = null;
      this.failed = null;
      done();
    }
  }

  private onReply(buf: Buffer, start: number): void {
    this.answered++;
    if (!readReply(buf, start) || reply.id < 0 || reply.id >= this.seq) {
      this.stats.count('unreadable');
      return;
    }
    const ms = performance.now() - (this.sent[reply.id] as number);
    this.stats.latency.recordMs(ms);
    if (ms > this.stats.maxMs) this.stats.maxMs = ms;
    const op = reply.op;
    this.stats.count(op === this.okOp ? 'ok' : op === 0x65 ? reply.code : 'other');
  }
}

export interface PipelinedRun {
  readonly outcomes: Record<string, number>;
  readonly replies: number;
  readonly latency: [number, number][];
  readonly maxMs: number;
  readonly exhausted: number;
  readonly startMs: number;
  readonly endMs: number;
  /** CPU this process used during the run (µs). */
  readonly cpuMicros: number;
}

/**
 * Sends pools[c] on sockets[c] for `ms` (then waits for every reply), `window` in flight per
 * connection. `okOp` is the first byte of the op a success echoes (e.g. 0x70 for placeOrder).
 */
export async function runPipelined(
  sockets: readonly net.Socket[],
  pools: readonly FrameBatch[],
  window: number,
  ms: number,
  okOp: number,
): Promise<PipelinedRun> {
  const stats = new PipelineStats();
  const conns = sockets.map(
    (s, c) => new PipelinedConnection(s, pools[c] as FrameBatch, window, okOp, stats),
  );
  const cpu0 = process.cpuUsage();
  const startMs = wallMs();
  await Promise.all(conns.map((c) => c.run(ms)));
  const endMs = wallMs();
  const cpu = process.cpuUsage(cpu0);
  let replies = 0;
  for (const v of stats.outcomes.values()) replies += v;
  return {
    outcomes: Object.fromEntries(stats.outcomes),
    replies,
    latency: stats.latency.toPairs(),
    maxMs: stats.maxMs,
    exhausted: stats.exhausted,
    startMs,
    endMs,
    cpuMicros: cpu.user + cpu.system,
  };
}
