import { randomBytes } from 'node:crypto';
import net from 'node:net';

/**
 * The load generator's side of the WebSocket protocol, kept lean: a hand-written upgrade, client
 * frames built ahead of time (masked with a zero key, which RFC 6455 allows and which makes the
 * masked payload equal the plain one), and a frame reader that hands out payload views without
 * copying. A Node `ws` client tops out near 120k messages/s; this does several times that.
 */

/** Opens a WebSocket by hand; resolves with the socket (paused) and any bytes after the 101. */
export async function openSocket(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ socket: net.Socket; rest: Buffer }> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      `${extra.join('')}\r\n`,
  );
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.pause();
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!status.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${status}`));
        return;
      }
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** A client frame (FIN, masked with a zero key) around `payload`. */
export function clientFrame(payload: Uint8Array, binary: boolean): Buffer {
  const len = payload.length;
  const opcode = binary ? 0x82 : 0x81;
  let header: Buffer;
  if (len < 126) header = Buffer.from([opcode, 0x80 | len, 0, 0, 0, 0]);
  else if (len < 65_536) {
    header = Buffer.from([opcode, 0x80 | 126, len >> 8, len & 0xff, 0, 0, 0, 0]);
  } else {
    header = Buffer.alloc(14);
    header[0] = opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Many frames in one buffer, with the offset of each, so k frames go out in one write. */
export class FrameBatch {
  constructor(
    readonly bytes: Buffer,
    /** offsets[i] is where frame i starts; offsets[count] is the end. */
    readonly offsets: Uint32Array,
  ) {}

  get count(): number {
    return this.offsets.length - 1;
  }

  /** Frames [from, to) as one view. */
  slice(from: number, to: number): Buffer {
    return this.bytes.subarray(this.offsets[from], this.offsets[to]);
  }

  static build(count: number, payload: (i: number) => Uint8Array, binary: boolean): FrameBatch {
    const frames: Buffer[] = [];
    const offsets = new Uint32Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const f = clientFrame(payload(i), binary);
      frames.push(f);
      offsets[i] = at;
      at += f.length;
    }
    offsets[count] = at;
    return new FrameBatch(Buffer.concat(frames, at), offsets);
  }
}

/**
 * Reads server frames (never masked) from a byte stream, calling `onMessage(buf, start, end,
 * opcode)` for each data frame with the payload's range in `buf` (valid only during the call).
 * Control frames (ping, close) are reported with their opcode; the caller answers pings.
 */
export class FrameReader {
  private carry: Buffer | null = null;

  constructor(
    private readonly onMessage: (buf: Buffer, start: number, end: number, opcode: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let pos = 0;
    const len = buf.length;
    while (pos + 2 <= len) {
      const opcode = (buf[pos] as number) & 0x0f;
      let size = (buf[pos + 1] as number) & 0x7f;
      let head = 2;
      if (size === 126) {
        if (pos + 4 > len) break;
        size = buf.readUInt16BE(pos + 2);
        head = 4;
      } else if (size === 127) {
        if (pos + 10 > len) break;
        size = Number(buf.readBigUInt64BE(pos + 2));
        head = 10;
      }
      if (pos + head + size > len) break;
      this.onMessage(buf, pos + head, pos + head + size, opcode);
      pos += head + size;
    }
    if (pos < len) this.carry = buf.subarray(pos);
  }
}

/** A client pong frame answering a ping's payload. */
export function pongFrame(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

// ---- replies, read without decoding the whole message -----------------------------------------

/** The `op` of the last reply read: 'r' reserve/release, 'e' error, ... (first letter). */
export const reply = { op: 0, id: -1, code: '' };

function readUint(buf: Buffer, at: number): [number, number] {
  const b = buf[at] as number;
  if (b <= 0x7f) return [b, at + 1];
  switch (b) {
    case 0xcc:
      return [buf[at + 1] as number, at + 2];
    case 0xcd:
      return [buf.readUInt16BE(at + 1), at + 3];
    case 0xce:
      return [buf.readUInt32BE(at + 1), at + 5];
    case 0xcb:
      return [buf.readDoubleBE(at + 1), at + 9];
    default:
      return [-1, at + 1];
  }
}

/**
 * Reads `op`, `id` (a number) and, for errors, `code` of a msgpack reply whose first keys are
 * `op`, `id` (and `code`), as the gateway writes them (and as the generator's own requests are,
 * for the echo baseline). Fills `reply`; false when the layout is not that.
 */
export function readReply(buf: Buffer, start: number): boolean {
  let at = start;
  const m = buf[at] as number;
  if (m >= 0x80 && m <= 0x8f) at += 1;
  else if (m === 0xde) at += 3;
  else return false;
  // "op" key (a2 6f 70), then a fixstr value
  if (buf[at] !== 0xa2 || buf[at + 1] !== 0x6f || buf[at + 2] !== 0x70) return false;
  at += 3;
  const opLen = (buf[at] as number) & 0x1f;
  reply.op = buf[at + 1] as number;
  at += 1 + opLen;
  // "id" key (a2 69 64), then an unsigned int
  if (buf[at] !== 0xa2 || buf[at + 1] !== 0x69 || buf[at + 2] !== 0x64) return false;
  const [id, next] = readUint(buf, at + 3);
  reply.id = id;
  reply.code = '';
  if (reply.op === 0x65 /* e */) {
    // "code" key (a4 ...), then a fixstr
    const codeAt = next + 5;
    const codeLen = (buf[codeAt] as number) & 0x1f;
    reply.code = buf.toString('latin1', codeAt + 1, codeAt + 1 + codeLen);
  }
  return true;
}

// ---- latency ------------------------------------------------------------------------------------

/** Latencies in 10 µs buckets up to 2 s (then one overflow bucket). */
export class LatencyHistogram {
  static readonly BUCKET_US = 10;
  static readonly BUCKETS = 200_001;
  readonly counts = new Uint32Array(LatencyHistogram.BUCKETS);
  total = 0;

  recordMs(ms: number): void {
    let i = Math.floor((ms * 1_000) / LatencyHistogram.BUCKET_US);
    if (i < 0) i = 0;
    if (i >= LatencyHistogram.BUCKETS) i = LatencyHistogram.BUCKETS - 1;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.total++;
  }

  /** Sparse [bucket, count] pairs (for IPC). */
  toPairs(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c > 0) out.push([i, c]);
    });
    return out;
  }

  addPairs(pairs: readonly [number, number][]): void {
    for (const [i, c] of pairs) {
      this.counts[i] = (this.counts[i] as number) + c;
      this.total += c;
    }
  }

  /** The q-quantile in ms (upper edge of its bucket). */
  quantileMs(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return ((i + 1) * LatencyHistogram.BUCKET_US) / 1_000;
    }
    return Infinity;
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A small deterministic PRNG (mulberry32), so runs are repeatable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
