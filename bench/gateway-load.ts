/**
 * A load generator worker (bench/gateway.ts forks several): opens `connections` raw WebSockets,
 * builds every request frame before the clock starts, then keeps `window` requests in flight per
 * connection, topping each connection up with one write per batch of replies. Replies are read
 * without decoding (gateway-wire.ts readReply), latencies go into a histogram.
 */
import { Packr } from 'msgpackr';
import type net from 'node:net';
import {
  FrameBatch,
  FrameReader,
  LatencyHistogram,
  openSocket,
  pongFrame,
  readReply,
  reply,
  wallMs,
  prng,
} from './gateway-wire.ts';
import { sendToParent } from './child-ipc.ts';

export interface LoadJob {
  readonly port: number;
  readonly key: string;
  readonly connections: number;
  readonly window: number;
  /** Requests per connection. */
  readonly requests: number;
  /** `hot`: every reserve on sku-{hotSku}@loc-0. `spread`: uniformly over skus × locations. */
  readonly workload: 'hot' | 'spread';
  readonly hotSku: number;
  readonly skus: number;
  readonly locations: number;
  /** Makes reservation ids unique across workers and runs. */
  readonly idPrefix: string;
  readonly seed: number;
}

export interface LoadResult {
  readonly replies: number;
  readonly unreadable: number;
  /** Replies by outcome: `ok` for reserve/echo, else the error code. */
  readonly outcomes: Record<string, number>;
  readonly latency: [number, number][];
  readonly startMs: number;
  readonly endMs: number;
  /** CPU this generator process used during the run (µs). */
  readonly cpuMicros: number;
}

export type LoadMessage =
  { readonly type: 'ready' } | { readonly type: 'result'; readonly result: LoadResult };

const packr = new Packr({ useRecords: false, variableMapSize: true });

class LoadConnection {
  next = 0;
  answered = 0;
  readonly sent: Float64Array;
  private readonly reader: FrameReader;

  constructor(
    readonly socket: net.Socket,
    readonly frames: FrameBatch,
    private readonly window: number,
    private readonly stats: Stats,
    private readonly done: () => void,
  ) {
    this.sent = new Float64Array(frames.count);
    this.reader = new FrameReader((buf, start, end, opcode) => {
      if (opcode === 0x9) {
        this.socket.write(pongFrame(Buffer.from(buf.subarray(start, end))));
        return;
      }
      if (opcode !== 0x2 && opcode !== 0x1) return;
      this.onReply(buf, start);
    });
  }

  start(): void {
    this.socket.on('data', (chunk: Buffer) => {
      const before = this.answered;
      this.reader.push(chunk);
      const k = this.answered - before;
      if (k > 0) this.send(k);
      if (this.answered === this.frames.count) this.done();
    });
    this.socket.resume();
    this.send(this.window);
  }

  private send(k: number): void {
    const from = this.next;
    const to = Math.min(this.frames.count, from + k);
    if (to <= from) return;
    const now = performance.now();
    for (let i = from; i < to; i++) this.sent[i] = now;
    this.next = to;
    this.socket.write(this.frames.slice(from, to));
  }

  private onReply(buf: Buffer, start: number): void {
    this.answered++;
    const stats = this.stats;
    if (!readReply(buf, start) || reply.id < 0 || reply.id >= this.sent.length) {
      stats.unreadable++;
      return;
    }
    stats.latency.recordMs(performance.now() - (this.sent[reply.id] as number));
    const outcome = reply.op === 0x65 ? reply.code : 'ok';
    stats.outcomes.set(outcome, (stats.outcomes.get(outcome) ?? 0) + 1);
  }
}

class Stats {
  readonly latency = new LatencyHistogram();
  readonly outcomes = new Map<string, number>();
  unreadable = 0;
}

function buildFrames(job: LoadJob, conn: number): FrameBatch {
  const random = prng(job.seed * 7_919 + conn);
  return FrameBatch.build(
    job.requests,
    (i) => {
      const sku = job.workload === 'hot' ? job.hotSku : Math.floor(random() * job.skus);
      const location = job.workload === 'hot' ? 0 : Math.floor(random() * job.locations);
      return packr.pack({
        op: 'reserve',
        id: i,
        reservationId: `${job.idPrefix}-${conn}-${i}`,
        channel: 'web',
        sku: `sku-${sku}`,
        qty: 1,
        location: `loc-${location}`,
      });
    },
    true,
  );
}

async function runJob(job: LoadJob): Promise<void> {
  const stats = new Stats();
  const frames = Array.from({ length: job.connections }, (_, c) => buildFrames(job, c));
  let finished = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const conns: LoadConnection[] = [];
  for (let c = 0; c < job.connections; c++) {
    const { socket, rest } = await openSocket(job.port, '/v1/ws', {
      authorization: `Bearer ${job.key}`,
    });
    if (rest.length > 0) throw new Error('unexpected bytes after the 101');
    const conn = new LoadConnection(socket, frames[c] as FrameBatch, job.window, stats, () => {
      finished++;
      if (finished === job.connections) resolveAll();
    });
    conns.push(conn);
  }
  process.send?.({ type: 'ready' } satisfies LoadMessage);
  await new Promise<void>((resolve) => {
    process.once('message', () => {
      resolve();
    });
  });
  const cpu0 = process.cpuUsage();
  const startMs = wallMs();
  for (const c of conns) c.start();
  await all;
  const endMs = wallMs();
  const cpu = process.cpuUsage(cpu0);
  for (const c of conns) c.socket.destroy();
  const result: LoadResult = {
    replies: stats.latency.total + stats.unreadable,
    unreadable: stats.unreadable,
    outcomes: Object.fromEntries(stats.outcomes),
    latency: stats.latency.toPairs(),
    startMs,
    endMs,
    cpuMicros: cpu.user + cpu.system,
  };
  await sendToParent({ type: 'result', result } satisfies LoadMessage);
}

/** Runs as a forked child: the job comes as the first IPC message. */
export function serveLoad(): void {
  process.once('message', (job: LoadJob) => {
    runJob(job).then(
      () => {
        process.exit(0);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
