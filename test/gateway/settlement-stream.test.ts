import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import { SettlementStreamTransport } from '../../gateway/settlement-stream.ts';
import { oldestNeeded, SettlementTrimmer } from '../../gateway/settlement-trim.ts';
import type { OutboxMessage } from '../../orders/index.ts';
import { order, orderHarness, type OrderHarness } from '../orders/order-fixture.ts';
import { startRedis, type RedisHandle } from '../persistence/redis-server.ts';

const log = pino({ level: 'silent' });
let redis: RedisHandle;
let admin: Redis;
let keys = 0;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
});

afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});

interface Entry {
  readonly entryId: string;
  readonly id: string;
  readonly type: string;
  readonly orderId: string;
  readonly seq: number;
  readonly body: { eventId: string; seq: number; type: string };
}

function entry(entryId: string, flat: string[]): Entry {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] as string, flat[i + 1] as string);
  return {
    entryId,
    id: f.get('id') ?? '',
    type: f.get('type') ?? '',
    orderId: f.get('orderId') ?? '',
    seq: Number(f.get('seq')),
    body: JSON.parse(f.get('body') ?? 'null') as Entry['body'],
  };
}

/** Reads the group's new entries, COUNT at a time, acknowledging each batch after reading it. */
async function readAll(key: string, group: string, consumer: string, ack = true): Promise<Entry[]> {
  const out: Entry[] = [];
  for (;;) {
    const reply = (await admin.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      7,
      'STREAMS',
      key,
      '>',
    )) as [string, [string, string[]][]][] | null;
    const batch = reply?.[0]?.[1] ?? [];
    if (batch.length === 0) return out;
    for (const [entryId, flat] of batch) out.push(entry(entryId, flat));
    if (ack) await admin.xack(key, group, ...batch.map(([entryId]) => entryId));
  }
}

/** Per order: its events in stream order must be seq 1, 2, 3... with nothing missing. */
function bySeq(entries: readonly Entry[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of entries) {
    const list = out.get(e.orderId) ?? [];
    list.push(e.seq);
    out.set(e.orderId, list);
  }
  return out;
}

function harness(transport: SettlementStreamTransport, clock: ManualClock): OrderHarness {
  return orderHarness({
    clock,
    service: {
      settlementStreams: ['erp:redis'],
      transportFor: (stream) => (stream === 'erp:redis' ? transport : null),
    },
  });
}

/**
 * Lets the outbox reach Redis and back; retries need the clock moved past their backoff, and a
 * reconnect after a Redis restart takes real time (ioredis's own retry timer).
 */
async function drain(h: OrderHarness): Promise<void> {
  for (let i = 0; i < 1_000 && h.orders.pendingFor('erp:redis').length > 0; i++) {
    await h.idle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    h.clock.advance(1_000);
  }
}

async function life(h: OrderHarness, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const placed = await h.placed(
      order([['A', 2]], { shippingAmount: 100, payment: { amount: 2100, currency: 'EUR' } }),
    );
    ids.push(placed.order.orderId);
    for (const f of placed.order.fulfilments) {
      await h.orders.fulfilmentAnswer(
        f.fulfilmentId,
        { type: 'shipped', tracking: `t-${f.fulfilmentId}` },
        null,
      );
    }
  }
  return ids;
}

describe('settlement events on a Redis Stream', () => {
  it('a consumer group gets every event of every order once, in order, with no gap', async () => {
    const key = `test:settlement:${++keys}`;
    await admin.xgroup('CREATE', key, 'erp', '0', 'MKSTREAM');
    const clock = new ManualClock();
    const transport = new SettlementStreamTransport(
      { url: redis.url, key, commandTimeoutMs: 2_000 },
      log,
    );
    const h = harness(transport, clock);
    await h.stock('A', { paris: 1_000 });
    const ids = await life(h, 12);
    await drain(h);
    const got = await readAll(key, 'erp', 'c1');
    expect(got).toHaveLength(24);
    const seqs = bySeq(got);
    for (const id of ids) expect(seqs.get(id)).toEqual([1, 2]);
    for (const e of got) {
      expect(e.id).toBe(`${e.orderId}:erp:${String(e.seq)}`);
      expect(e.body).toMatchObject({ eventId: e.id, seq: e.seq, type: e.type });
    }
    expect(got.filter((e) => e.type === 'order.placed')).toHaveLength(12);
    await h.orders.stop();
    await transport.close();
  });

  it('appends an event sent again (a lost reply, a retry) only once', async () => {
    const key = `test:settlement:${++keys}`;
    const transport = new SettlementStreamTransport(
      { url: redis.url, key, commandTimeoutMs: 2_000 },
      log,
    );
    const message = (seq: number): OutboxMessage => ({
      messageId: `o-x:m${String(seq)}`,
      orderId: 'o-x',
      stream: 'erp:redis',
      type: 'order.placed',
      body: { eventId: `o-x:erp:${String(seq)}`, seq },
      createdAt: 0,
    });
    for (const seq of [1, 1, 2, 1, 2, 3]) {
      expect(await transport.send(message(seq))).toEqual({ ok: true, status: null });
    }
    const entries = (await admin.xrange(key, '-', '+')).map(([id, flat]) => entry(id, flat));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    await transport.close();
  });

  it('keeps the events while Redis restarts and delivers them after, each once', async () => {
    const key = `test:settlement:${++keys}`;
    await admin.xgroup('CREATE', key, 'erp', '0', 'MKSTREAM');
    const clock = new ManualClock();
    const transport = new SettlementStreamTransport(
      { url: redis.url, key, commandTimeoutMs: 1_000 },
      log,
    );
    const h = harness(transport, clock);
    await h.stock('A', { paris: 1_000 });
    const first = await life(h, 3);
    await drain(h);
    await redis.kill('SIGKILL');
    const during = await life(h, 3);
    await h.idle();
    expect(h.orders.pendingFor('erp:redis').length).toBeGreaterThan(0);
    await redis.restart();
    await drain(h);
    const got = await readAll(key, 'erp', 'c1');
    const seqs = bySeq(got);
    for (const id of [...first, ...during]) expect(seqs.get(id)).toEqual([1, 2]);
    expect(h.orders.pendingFor('erp:redis')).toEqual([]);
    await h.orders.stop();
    await transport.close();
  });

  it('trims only what every consumer group acknowledged', async () => {
    const key = `test:settlement:${++keys}`;
    const transport = new SettlementStreamTransport(
      { url: redis.url, key, commandTimeoutMs: 2_000 },
      log,
    );
    for (let seq = 1; seq <= 10; seq++) {
      await transport.send({
        messageId: `o-t:m${String(seq)}`,
        orderId: 'o-t',
        stream: 'erp:redis',
        type: 'order.placed',
        body: { eventId: `o-t:erp:${String(seq)}`, seq },
        createdAt: 0,
      });
    }
    const clock = new ManualClock();
    const trimmer = new SettlementTrimmer(admin, key, 1_000, clock, log);
    // No group yet: nobody has read anything, nothing goes.
    expect(await trimmer.trim()).toBe(0);
    await admin.xgroup('CREATE', key, 'fast', '0');
    await admin.xgroup('CREATE', key, 'slow', '0');
    expect(await trimmer.trim()).toBe(0);
    // fast reads and acks all; slow reads 6 and acks only the first 4.
    expect(await readAll(key, 'fast', 'f')).toHaveLength(10);
    const reply = (await admin.xreadgroup(
      'GROUP',
      'slow',
      's',
      'COUNT',
      6,
      'STREAMS',
      key,
      '>',
    )) as [string, [string, string[]][]][];
    const slow = (reply[0]?.[1] ?? []).map(([id]) => id);
    await admin.xack(key, 'slow', ...slow.slice(0, 4));
    expect(await oldestNeeded(admin, key)).toBe(slow[4]);
    expect(await trimmer.trim()).toBe(4);
    expect(await admin.xlen(key)).toBe(6);
    // The unacknowledged ones are still there for the slow group to claim again.
    const pending = (await admin.xrange(key, '-', '+')).map(([id]) => id);
    expect(pending.slice(0, 2)).toEqual(slow.slice(4, 6));
    await admin.xack(key, 'slow', ...slow.slice(4));
    expect(await readAll(key, 'slow', 's')).toHaveLength(4);
    expect(await trimmer.trim()).toBe(6);
    expect(await admin.xlen(key)).toBe(0);
    // Periodic: the clock drives it.
    await transport.send({
      messageId: 'o-t:m11',
      orderId: 'o-t',
      stream: 'erp:redis',
      type: 'order.placed',
      body: { eventId: 'o-t:erp:11', seq: 11 },
      createdAt: 0,
    });
    await readAll(key, 'fast', 'f');
    await readAll(key, 'slow', 's');
    trimmer.start();
    clock.advance(1_000);
    for (let i = 0; i < 100 && (await admin.xlen(key)) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await admin.xlen(key)).toBe(0);
    trimmer.stop();
    await transport.close();
  });
});
