import { queryObjects } from 'node:v8';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BatchCollector, Connection, Pending } from '../../gateway/connection.ts';
import { BatchReply, ErrorReply, ReservationReply } from '../../gateway/ws-protocol.ts';
import { Client, KEYS, packr, start, within, type Running } from './harness.ts';

const MAX_PAYLOAD = 16 * 1024;
let r: Running;
beforeAll(async () => {
  r = await start({ gateway: { maxPayloadBytes: MAX_PAYLOAD } });
});
afterAll(async () => {
  await r.stop();
});

/** One hostile frame: bytes, and whether it goes as a binary (msgpack) or text (JSON) frame. */
interface Frame {
  readonly data: Buffer | string;
  readonly binary: boolean;
}

const OPS = ['reserve', 'release', 'confirm', 'subscribe', 'unsubscribe', 'batch', 'ping', ''];

const nearMessage = fc.record(
  {
    op: fc.oneof(fc.constantFrom(...OPS), fc.anything()),
    id: fc.oneof(fc.integer(), fc.string(), fc.anything()),
    reservationId: fc.oneof(fc.string({ maxLength: 140 }), fc.anything()),
    channel: fc.oneof(fc.constantFrom('web', 'app', 'x:y', ''), fc.anything()),
    sku: fc.oneof(fc.constantFrom('sku-1', 'sku-2', 'a@b', ''), fc.anything()),
    qty: fc.oneof(fc.integer(), fc.double(), fc.anything()),
    topics: fc.oneof(fc.array(fc.string(), { maxLength: 5 }), fc.anything()),
    ops: fc.oneof(fc.array(fc.anything(), { maxLength: 5 }), fc.anything()),
  },
  { requiredKeys: [] },
);

const nested = fc.integer({ min: 1, max: 40 }).chain((depth) =>
  fc.constantFrom<Frame>(
    { data: '['.repeat(depth) + ']'.repeat(depth), binary: false },
    { data: `{"op":"reserve","id":1,"x":${'['.repeat(depth)}${']'.repeat(depth)}}`, binary: false },
    { data: Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]), binary: true },
    {
      data: Buffer.concat([
        Buffer.alloc(depth, 0x81).map((_, i) => (i % 2 ? 0xa1 : 0x81)),
        Buffer.from([0x61, 0xc0]),
      ]),
      binary: true,
    },
  ),
);

/** Declared lengths far beyond the frame: array32, map32, str32, bin32, ext32 and friends. */
const hugeLength = fc
  .tuple(
    fc.constantFrom(0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9),
    fc.uint8Array({ minLength: 4, maxLength: 4 }),
    fc.uint8Array({ maxLength: 16 }),
    fc.boolean(),
  )
  .map(([type, len, rest, wrapped]): Frame => {
    const inner = Buffer.concat([Buffer.from([type]), Buffer.from(len), Buffer.from(rest)]);
    // Either bare, or as the value of `op` inside a map.
    const data = wrapped
      ? Buffer.concat([Buffer.from([0x82, 0xa2, 0x69, 0x64, 0x01, 0xa2, 0x6f, 0x70]), inner])
      : inner;
    return { data, binary: true };
  });

const protoKeys = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.boolean(), fc.boolean())
  .map(([key, binary, deep]): Frame => {
    const text = deep
      ? `{"op":"batch","id":1,"ops":[{"op":"reserve","${key}":{"polluted":true}}]}`
      : `{"op":"reserve","id":1,"${key}":{"polluted":true}}`;
    if (!binary) return { data: text, binary: false };
    return { data: packr.pack(JSON.parse(text) as unknown), binary: true };
  });

const escapedProto: fc.Arbitrary<Frame> = fc.constant({
  data: '{"op":"reserve","id":1,"\\u005f_proto__":{"polluted":true}}',
  binary: false,
});

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }).map((b): Frame => ({ data: Buffer.from(b), binary: true })),
  fc.string({ maxLength: 200 }).map((s): Frame => ({ data: s, binary: false })),
  fc.jsonValue({ maxDepth: 12 }).map((v): Frame => ({ data: JSON.stringify(v), binary: false })),
  fc.jsonValue({ maxDepth: 12 }).map((v): Frame => ({ data: packr.pack(v), binary: true })),
  fc
    .tuple(nearMessage, fc.boolean())
    .map(([m, binary]): Frame =>
      binary ? { data: packr.pack(m), binary } : { data: JSON.stringify(m), binary },
    ),
  nested,
  hugeLength,
  protoKeys,
  escapedProto,
);

/** Sends frames pipelined and counts replies; resolves when every frame is answered. */
class Counter {
  replies = 0;
  private target = 0;
  private wake: (() => void) | null = null;
  private fail: ((error: Error) => void) | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('message', () => {
      this.replies++;
      if (this.replies >= this.target && this.wake !== null) this.wake();
    });
    // One close listener for the connection's life (one per sendAll piled up past Node's limit).
    ws.once('close', (code) => {
      this.fail?.(
        new Error(`connection closed (${code}) with ${this.target - this.replies} unanswered`),
      );
    });
  }

  async sendAll(frames: readonly Frame[]): Promise<void> {
    this.target += frames.length;
    const done = new Promise<void>((resolve, reject) => {
      this.wake = resolve;
      this.fail = reject;
    });
    for (const f of frames) this.ws.send(f.data, { binary: f.binary });
    if (this.replies >= this.target) return;
    await within(done, 30_000, 'replies to every frame');
  }
}

/**
 * Live instances of every kind of object the gateway makes per request (queryObjects collects
 * garbage first). Counted, not weighed: a byte threshold on the heap depends on what else the
 * machine and the collector are doing, a count of leftovers does not.
 */
function leftovers(): Record<string, number> {
  const kinds = { Pending, BatchCollector, ErrorReply, ReservationReply, BatchReply };
  return Object.fromEntries(
    Object.entries(kinds).map(([name, kind]) => [name, queryObjects(kind, { format: 'count' })]),
  );
}

describe('hostile input', () => {
  it('answers 100k malformed JSON and msgpack frames without crashing or holding on to any of them', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/v1/ws`, {
      headers: { authorization: `Bearer ${KEYS.admin}` },
    });
    await within(
      new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
      5_000,
      'open',
    );
    const counter = new Counter(ws);
    const total = 100_000;
    const chunk = 2_000;
    for (let sent = 0, seed = 1; sent < total; sent += chunk, seed++) {
      await counter.sendAll(fc.sample(frame, { numRuns: chunk, seed }));
    }
    expect(counter.replies).toBe(total);
    // Every frame answered, nothing of any of them is still held: no request, no reply object,
    // and one Connection (this one).
    expect(leftovers()).toEqual({
      Pending: 0,
      BatchCollector: 0,
      ErrorReply: 0,
      ReservationReply: 0,
      BatchReply: 0,
    });
    expect(queryObjects(Connection, { format: 'count' })).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');

    // The connection still works normally afterwards.
    ws.close();
    const c = await Client.connect(r.port, { key: KEYS.admin, binary: true });
    const ok = await c.request({ op: 'subscribe', topics: ['availability:web:sku-1'] });
    expect(ok.op).toBe('subscribe');
    await c.close();
  });

  it('closes with 1009 on a frame beyond maxPayloadBytes, as docs/api.md says, and keeps serving others', async () => {
    const sizes = fc.sample(fc.integer({ min: MAX_PAYLOAD + 1, max: 4 * MAX_PAYLOAD }), {
      numRuns: 20,
      seed: 7,
    });
    for (const [i, size] of [MAX_PAYLOAD + 1, 4 * MAX_PAYLOAD, ...sizes].entries()) {
      const binary = i % 2 === 0;
      const c = await Client.connect(r.port, { key: KEYS.web, binary });
      c.ws.send(binary ? Buffer.alloc(size, 0x91) : 'x'.repeat(size), { binary });
      const closed = await within(c.closed, 5_000, 'close after an oversized frame');
      expect(closed).toEqual({ code: 1009, reason: `frame larger than ${MAX_PAYLOAD} bytes` });
    }
    // A frame exactly at the limit is read and answered (here: not a message).
    const atLimit = await Client.connect(r.port, { key: KEYS.web });
    atLimit.ws.send(' '.repeat(MAX_PAYLOAD - 2) + '{}');
    const reply = await atLimit.next((m) => m.op === 'error');
    expect(reply).toMatchObject({ code: 'BAD_REQUEST', id: null });
    await atLimit.close();
  });

  it('drops a connection without a close frame where uWS refuses the frame itself (1006), and stays up', async () => {
    // Over four times the limit, uWS refuses the frame at its header, before reading it.
    const huge = await Client.connect(r.port, { key: KEYS.web, binary: true });
    huge.ws.send(Buffer.alloc(4 * MAX_PAYLOAD + 1, 0x91));
    expect((await within(huge.closed, 5_000, 'close after a huge frame')).code).toBe(1006);
    // Invalid UTF-8 in a text frame: uWS checks it before the gateway sees the frame.
    const bad = await Client.connect(r.port, { key: KEYS.web });
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await within(bad.closed, 5_000, 'close after invalid UTF-8')).code).toBe(1006);
    const c = await Client.connect(r.port, { key: KEYS.web });
    const ok = await c.request({ op: 'subscribe', topics: ['availability:web:sku-2'] });
    expect(ok.op).toBe('subscribe');
    await c.close();
  });
});
