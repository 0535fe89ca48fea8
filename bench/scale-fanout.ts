/**
 * The fan-out generator of the scale benchmark (bench/scale.ts forks it as `--child fanout`):
 * `connections` raw WebSockets (raw-ws.ts) each subscribed (msgpack) to `topicsPerConnection`
 * network availability topics over `skus` SKUs, and in the same process a driver that changes
 * the stock of those SKUs round-robin at a steady rate (POST /v1/inventory/adjustments, one
 * request per 20 ms tick on one of a few keep-alive sockets). Both sides share one clock: a
 * delta's delay is its arrival minus the send time of the change it is the first delta of, per
 * subscription.
 */
import net from 'node:net';
import { pack, unpack } from 'msgpackr';
import { serveGenerator } from './child-ipc.ts';
import { LOCATION, spreadSku, CHANNEL } from './durable-load.ts';
import { LatencyHistogram, clientFrame, wallMs } from './gateway-wire.ts';
import { connectRaw, onFrames } from './raw-ws.ts';

export interface FanoutJob {
  readonly port: number;
  readonly key: string;
  readonly adminKey: string;
  readonly connections: number;
  readonly topicsPerConnection: number;
  readonly skus: number;
  readonly changesPerSecond: number;
  readonly durationMs: number;
  /** How long to wait after the last change for its deltas. */
  readonly graceMs: number;
  readonly tag: string;
}

export interface FanoutResult {
  readonly subscriptions: number;
  readonly changes: number;
  readonly changeErrors: number;
  /** Deltas that were the first for a change on their subscription (timed). */
  readonly deltas: number;
  /** Deltas with no new change behind them (e.g. a second delta for one change). */
  readonly extraDeltas: number;
  /** Subscriptions whose SKU's latest change brought them no delta by the end of the grace time. */
  readonly missed: number;
  readonly latency: [number, number][];
  readonly maxMs: number;
  readonly seconds: number;
  readonly cpuMicros: number;
}

const TICK_MS = 20;
const POSTERS = 4;

function topic(sku: number): string {
  return `availability:${CHANNEL}:${spreadSku(sku)}`;
}

/** The SKUs connection `c` subscribes to. */
function skusOf(job: FanoutJob, c: number): number[] {
  return Array.from(
    { length: job.topicsPerConnection },
    (_, j) => (c * job.topicsPerConnection + j) % job.skus,
  );
}

class Deliveries {
  readonly latency = new LatencyHistogram();
  /** Wall ms each SKU's latest change was sent (0: never changed). */
  readonly changedAt: Float64Array;
  deltas = 0;
  extra = 0;
  maxMs = 0;

  constructor(skus: number) {
    this.changedAt = new Float64Array(skus);
  }

  /** A delta for `sku` on a subscription whose last timed change is `counted[sku]`. */
  record(sku: number, counted: Float64Array): void {
    const at = this.changedAt[sku] as number;
    if (at === 0 || counted[sku] === at) {
      this.extra++;
      return;
    }
    counted[sku] = at;
    const ms = wallMs() - at;
    this.latency.recordMs(ms);
    if (ms > this.maxMs) this.maxMs = ms;
    this.deltas++;
  }
}

// A msgpack delta starts {op: "availability", topic: "availability:web:s00123", ...}: a map
// header, the key "op" (3 bytes), "availability" (13), the key "topic" (6), then the topic as a
// fixstr whose last 5 bytes are the SKU's digits (spreadSku).
const TOPIC_AT = 1 + 3 + 13 + 6;

/** The SKU number of a msgpack availability delta at `start`, read in place; -1 for another frame. */
function deltaSku(buf: Buffer, start: number): number {
  // 0xac: a 12-byte fixstr ("availability") right after the "op" key.
  if (buf[start + 4] !== 0xac || buf[start + 5] !== 0x61) return -1;
  const head = buf[start + TOPIC_AT] as number;
  if ((head & 0xe0) !== 0xa0) return -1;
  const end = start + TOPIC_AT + 1 + (head & 0x1f);
  let n = 0;
  for (let i = end - 5; i < end; i++) n = n * 10 + (buf[i] as number) - 0x30;
  return n;
}

/** Subscribes one connection; resolves once the subscribe is answered. */
function subscribe(
  socket: net.Socket,
  skus: readonly number[],
  deliveries: Deliveries,
  counted: Float64Array,
): Promise<void> {
  return new Promise((resolve, reject) => {
    onFrames(socket, (buf, start, end) => {
      const sku = deltaSku(buf, start);
      if (sku >= 0) {
        deliveries.record(sku, counted);
        return;
      }
      const m = unpack(buf.subarray(start, end)) as { op: string };
      if (m.op === 'subscribe') resolve();
      else reject(new Error(`subscribe answered ${JSON.stringify(m)}`));
    });
    socket.resume();
    socket.write(clientFrame(pack({ op: 'subscribe', id: 1, topics: skus.map(topic) }), true));
  });
}

/**
 * POSTs over a keep-alive socket with hand-written HTTP/1.1 (fetch costs the generator about a
 * millisecond of CPU a request), one request at a time (the server closes a connection that
 * pipelines a request behind one it has not answered yet); reads answers by their status lines.
 */
class RawPoster {
  private tail = '';
  private pending = 0;
  busy = false;
  /** Changes in requests not answered 200. */
  errors = 0;

  private constructor(
    private readonly socket: net.Socket,
    private readonly head: string,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      const text = this.tail + chunk;
      for (let at = text.indexOf('HTTP/1.1 '); at !== -1; at = text.indexOf('HTTP/1.1 ', at + 1)) {
        if (!text.startsWith('200', at + 9)) this.errors += this.pending;
        this.busy = false;
      }
      this.tail = text.slice(-8);
    });
  }

  static async open(port: number, path: string, key: string): Promise<RawPoster> {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const head =
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${key}\r\n` +
      'Content-Type: application/json\r\n';
    return new RawPoster(socket, head);
  }

  /** Sends `body` holding `changes` changes (only when not busy). */
  post(body: string, changes: number): void {
    this.busy = true;
    this.pending = changes;
    this.socket.write(`${this.head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  async close(): Promise<number> {
    while (this.busy && !this.socket.destroyed) await new Promise((r) => setTimeout(r, 5));
    if (this.busy) this.errors += this.pending;
    this.socket.destroy();
    return this.errors;
  }
}

/**
 * Sends `changesPerSecond` adjustments round-robin over the SKUs until `durationMs` is up: every
 * tick, the changes due so far go out in one request on an idle connection of POSTERS.
 */
async function drive(job: FanoutJob, deliveries: Deliveries): Promise<[number, number]> {
  const posters = await Promise.all(
    Array.from({ length: POSTERS }, () =>
      RawPoster.open(job.port, '/v1/inventory/adjustments', job.adminKey),
    ),
  );
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < job.durationMs) {
    const due = Math.floor(((performance.now() - t0) * job.changesPerSecond) / 1_000) - sent;
    const poster = posters.find((p) => !p.busy);
    if (due > 0 && poster !== undefined) {
      const body = [];
      const now = wallMs();
      for (let k = 0; k < due; k++, sent++) {
        const sku = sent % job.skus;
        const delta = Math.floor(sent / job.skus) % 2 === 0 ? 1 : -1;
        const adjustmentId = `${job.tag}-${sent}`;
        body.push({ adjustmentId, sku: spreadSku(sku), location: LOCATION, delta });
        deliveries.changedAt[sku] = now;
      }
      poster.post(JSON.stringify(body), due);
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  const errors = await Promise.all(posters.map((p) => p.close()));
  return [sent, errors.reduce((a, b) => a + b, 0)];
}

async function runFanout(job: FanoutJob, ready: () => Promise<void>): Promise<FanoutResult> {
  const deliveries = new Deliveries(job.skus);
  const sockets = await connectRaw(job.port, job.key, job.connections);
  const counted = sockets.map(() => new Float64Array(job.skus));
  await Promise.all(
    sockets.map((s, c) => subscribe(s, skusOf(job, c), deliveries, counted[c] as Float64Array)),
  );
  await ready();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const [changes, changeErrors] = await drive(job, deliveries);
  const seconds = (performance.now() - t0) / 1_000;
  await new Promise((r) => setTimeout(r, job.graceMs));
  const cpu = process.cpuUsage(cpu0);
  let missed = 0;
  sockets.forEach((s, c) => {
    const seen = counted[c] as Float64Array;
    for (const sku of skusOf(job, c)) {
      if (deliveries.changedAt[sku] !== 0 && seen[sku] !== deliveries.changedAt[sku]) missed++;
    }
    s.destroy();
  });
  return {
    subscriptions: job.connections * job.topicsPerConnection,
    changes,
    changeErrors,
    deltas: deliveries.deltas,
    extraDeltas: deliveries.extra,
    missed,
    latency: deliveries.latency.toPairs(),
    maxMs: deliveries.maxMs,
    seconds,
    cpuMicros: cpu.user + cpu.system,
  };
}

export function serveFanoutLoad(): void {
  serveGenerator(runFanout);
}
