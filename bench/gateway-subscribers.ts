/**
 * Fan-out subscribers (bench/gateway.ts forks several): `connections` raw WebSockets, each
 * subscribed to one topic as a JSON client, recording when each delta arrives. At the end the
 * parent hands over the server's publish time of every sequence number, and the worker reports
 * delivery latencies and each connection's last value and when it came.
 */
import {
  clientFrame,
  FrameReader,
  LatencyHistogram,
  openSocket,
  pongFrame,
  wallMs,
} from './gateway-wire.ts';
import { sendToParent } from './child-ipc.ts';
import type net from 'node:net';

export interface SubscribersJob {
  readonly port: number;
  readonly key: string;
  readonly connections: number;
  readonly topic: string;
}

export interface SubscribersReport {
  readonly deltas: number;
  readonly latency: [number, number][];
  /** Per connection: the last value seen and when (wall ms). */
  readonly lastValues: number[];
  readonly lastAt: number[];
  /** Connections that closed before the end. */
  readonly closed: number;
}

export type SubscribersMessage =
  { readonly type: 'ready' } | { readonly type: 'report'; readonly report: SubscribersReport };

export interface PublishLog {
  readonly seq: number[];
  readonly at: number[];
}

class Subscriber {
  lastValue = -1;
  lastAt = 0;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    seqs: number[],
    times: number[],
  ) {
    const reader = new FrameReader((buf, start, end, opcode) => {
      if (opcode === 0x9) {
        socket.write(pongFrame(Buffer.from(buf.subarray(start, end))));
        return;
      }
      if (opcode !== 0x1) return;
      const m = JSON.parse(buf.toString('utf8', start, end)) as {
        op: string;
        available?: number;
        seq?: number;
        snapshots?: { available: number; seq: number }[];
      };
      const now = wallMs();
      if (m.op === 'availability' && m.seq !== undefined && m.available !== undefined) {
        seqs.push(m.seq);
        times.push(now);
        this.lastValue = m.available;
        this.lastAt = now;
      } else if (m.op === 'subscribe' && m.snapshots?.[0] !== undefined && this.lastAt === 0) {
        this.lastValue = m.snapshots[0].available;
        this.lastAt = now;
      }
    });
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.resume();
  }
}

async function runSubscribers(job: SubscribersJob): Promise<void> {
  const seqs: number[] = [];
  const times: number[] = [];
  const subs: Subscriber[] = [];
  const subscribe = clientFrame(
    Buffer.from(JSON.stringify({ op: 'subscribe', id: 1, topics: [job.topic] })),
    false,
  );
  for (let c = 0; c < job.connections; c++) {
    const { socket } = await openSocket(job.port, '/v1/ws', {
      authorization: `Bearer ${job.key}`,
    });
    subs.push(new Subscriber(socket, seqs, times));
    socket.write(subscribe);
  }
  // Every connection has its snapshot before the writer starts.
  while (subs.some((s) => s.lastAt === 0)) await new Promise((r) => setImmediate(r));
  process.send?.({ type: 'ready' } satisfies SubscribersMessage);
  const log = await new Promise<PublishLog>((resolve) => {
    process.once('message', (m: PublishLog) => {
      resolve(m);
    });
  });
  const published = new Map<number, number>();
  log.seq.forEach((s, i) => published.set(s, log.at[i] as number));
  const latency = new LatencyHistogram();
  seqs.forEach((s, i) => {
    const at = published.get(s);
    if (at !== undefined) latency.recordMs((times[i] as number) - at);
  });
  const report: SubscribersReport = {
    deltas: seqs.length,
    latency: latency.toPairs(),
    lastValues: subs.map((s) => s.lastValue),
    lastAt: subs.map((s) => s.lastAt),
    closed: subs.filter((s) => s.closed).length,
  };
  for (const s of subs) s.socket.destroy();
  await sendToParent({ type: 'report', report } satisfies SubscribersMessage);
}

/** Runs as a forked child: the job comes as the first IPC message. */
export function serveSubscribers(): void {
  process.once('message', (job: SubscribersJob) => {
    runSubscribers(job).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
