import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../persistence/redis-server.ts';
import { waitFor } from '../persistence/server-process.ts';
import {
  ADMIN,
  CrashServer,
  expectSameContentPerId,
  firstArrivals,
  FlakyReceiver,
  SKUS,
  WEB,
} from './crash-kit.ts';

const KEY = 'test:settlement';
const ORDERS = 30;

/** A settlement event's body, as the webhook (`data`) and the stream (`body`) carry it. */
interface Settlement {
  readonly eventId: string;
  readonly type: string;
  readonly orderId: string;
  readonly seq: number;
  readonly occurredAt: string;
  readonly location: string | null;
  readonly amount: number;
  readonly lines: readonly { readonly qty: number }[];
  readonly dispositions?: readonly { readonly restock: number }[];
}

interface Arrival {
  readonly id: string;
  readonly raw: string;
  readonly event: Settlement;
}

// The receiver of crash-kit.ts; settlement events (path /erp) are kept, the rest only
// acknowledged.
const receiver = new FlakyReceiver();
let redis: RedisHandle;
let reader: Redis;
const server = new CrashServer(receiver, (hook) => ({
  erp: {
    settlement: {
      webhook: hook('/erp'),
      redisStream: { url: redis.url, key: KEY, trimEverySeconds: 1, commandTimeoutMs: 500 },
    },
  },
}));

/** The settlement events the webhook receiver accepted (answered 200). */
function fromWebhook(): Arrival[] {
  return receiver.accepted
    .filter((a) => a.path === '/erp')
    .map((a) => {
      const m = JSON.parse(a.raw) as { id: string; data: Settlement };
      return { id: m.data.eventId, raw: JSON.stringify(m.data), event: m.data };
    });
}

function orderBody(i: number): unknown {
  return {
    orderId: `ord-${i}`,
    channel: 'web',
    customer: { id: `cust-${i}` },
    lines: [{ sku: SKUS[i % SKUS.length] as string, qty: 2, unitPrice: 500 }],
    delivery: { type: 'ship', address: { lat: 48.9, lon: 2.3 } },
    payment: { amount: 1100, currency: 'EUR', reference: `pay-${i}` },
    shippingAmount: 100,
  };
}

/** Every third order is cancelled, every third shipped and partly returned, the rest shipped. */
function plan(i: number): 'cancel' | 'return' | 'ship' {
  return i % 3 === 0 ? 'cancel' : i % 3 === 1 ? 'return' : 'ship';
}

const EXPECTED = {
  cancel: ['order.placed', 'order.cancelled'],
  ship: ['order.placed', 'fulfilment.shipped'],
  return: ['order.placed', 'fulfilment.shipped', 'return.received', 'credit_note.issued'],
};

/** The step that ships or cancels order i (a retried step repeats nothing: ids are stable). */
function settle(i: number, fulfilmentId: string): Promise<{ status: number }> {
  return plan(i) === 'cancel'
    ? server.call('POST', `/v1/orders/ord-${i}/cancel`, WEB, { reason: 'changed mind' })
    : server.call('POST', `/v1/fulfilments/${fulfilmentId}/answers`, ADMIN, {
        type: 'shipped',
        tracking: `T-${fulfilmentId}`,
      });
}

beforeAll(async () => {
  await receiver.start();
  redis = await startRedis();
  reader = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  reader.on('error', () => undefined);
  await reader.xgroup('CREATE', KEY, 'erp', '0', 'MKSTREAM');
  await server.start();
});

afterAll(async () => {
  server.cleanup();
  reader.disconnect();
  await redis.stop();
  await receiver.close();
});

describe('settlement events across a SIGKILL of the server and a Redis restart', () => {
  it('the webhook and the stream each get every event of every order, in sequence, none lost', async () => {
    await server.stockUp();
    const fulfilments = await server.placeOrders(ORDERS, orderBody);
    // Under load: the first half's steps all at once, and the server killed while they run.
    const half = ORDERS / 2;
    let answered = 0;
    const burst = fulfilments.slice(0, half).map((fid, i) =>
      settle(i, fid).then(
        () => answered++,
        () => undefined,
      ),
    );
    await waitFor(() => answered >= 4, 30_000, 'some steps of the burst to be answered');
    await server.kill();
    await Promise.all(burst);
    await server.start();
    // The senders repeat what may not have been answered (duplicates change nothing).
    for (let i = 0; i < half; i++) {
      expect((await settle(i, fulfilments[i] as string)).status).toBe(200);
    }
    for (let i = half; i < ORDERS; i++) {
      if (i === half + 5) await redis.restart(); // Redis goes away while events are sent
      expect((await settle(i, fulfilments[i] as string)).status).toBe(200);
    }
    for (let i = 0; i < ORDERS; i++) {
      if (plan(i) !== 'return') continue;
      const returnId = `rma-${i}`;
      // One after the other: requests on different connections may reach different workers.
      const steps = [
        () =>
          server.call('POST', `/v1/orders/ord-${i}/returns`, WEB, {
            returnId,
            lines: [{ lineId: '1', qty: 1, reason: 'damaged' }],
          }),
        () =>
          server.call('POST', `/v1/returns/${returnId}/receipts`, ADMIN, {
            receiptId: `rc-${i}`,
            location: 'lyon',
            lines: [{ lineId: '1', disposition: 'restock', qty: 1 }],
          }),
        () =>
          server.call('POST', `/v1/returns/${returnId}/refunds`, WEB, { creditNoteId: `cn-${i}` }),
      ];
      for (const step of steps) expect((await step()).status).toBeLessThan(300);
    }
    await server.allAcknowledged(ORDERS, 90_000);
    expect(receiver.badSignatures).toBe(0);

    const webhook = fromWebhook();
    const fromStream = await readGroup();
    for (const [sink, arrivals] of [
      ['webhook', webhook],
      ['stream', fromStream],
    ] as const) {
      expectSameContentPerId(arrivals, sink);
      for (let i = 0; i < ORDERS; i++) {
        const mine = firstArrivals(arrivals.filter((a) => a.event.orderId === `ord-${i}`));
        const expected = EXPECTED[plan(i)];
        expect(
          mine.map((a) => [a.event.seq, a.event.type]),
          `${sink} ord-${i}`,
        ).toEqual(expected.map((type, n) => [n + 1, type]));
      }
    }
    // Both sinks got the same events.
    const hook = new Map(webhook.map((a) => [a.id, JSON.parse(a.raw) as unknown]));
    expect(new Map(fromStream.map((a) => [a.id, JSON.parse(a.raw) as unknown]))).toEqual(hook);

    // The reconciliation is the sum of what the events said, per day and location.
    const events = firstArrivals(webhook).map((a) => a.event);
    const days = [...new Set(events.map((e) => e.occurredAt.slice(0, 10)))];
    for (const day of days) {
      const r = await server.call('GET', `/v1/erp/reconciliation?day=${day}`, ADMIN);
      expect(r.status).toBe(200);
      expect(r.json.rows).toEqual(expectedRows(events.filter((e) => e.occurredAt.startsWith(day))));
    }
  });
});

/** Every entry the consumer group gets, acknowledged batch by batch. */
async function readGroup(): Promise<Arrival[]> {
  const out: Arrival[] = [];
  for (;;) {
    const reply = (await reader.xreadgroup(
      'GROUP',
      'erp',
      'connector',
      'COUNT',
      50,
      'STREAMS',
      KEY,
      '>',
    )) as [string, [string, string[]][]][] | null;
    const batch = reply?.[0]?.[1] ?? [];
    if (batch.length === 0) return out;
    for (const [, flat] of batch) {
      const at = flat.indexOf('body');
      const raw = flat[at + 1] as string;
      const event = JSON.parse(raw) as Settlement;
      expect(flat[flat.indexOf('id') + 1]).toBe(event.eventId);
      out.push({ id: event.eventId, raw, event });
    }
    await reader.xack(KEY, 'erp', ...batch.map(([id]) => id));
  }
}

interface Row {
  location: string;
  currency: string;
  unitsShipped: number;
  unitsReturned: number;
  unitsRestocked: number;
  amountInvoiced: number;
  amountCredited: number;
}

function expectedRows(events: readonly Settlement[]): Row[] {
  const rows = new Map<string, Row>();
  const units = (e: Settlement): number => e.lines.reduce((n, l) => n + l.qty, 0);
  for (const e of events) {
    if (e.location === null) continue;
    let r = rows.get(e.location);
    if (r === undefined) {
      r = {
        location: e.location,
        currency: 'EUR',
        unitsShipped: 0,
        unitsReturned: 0,
        unitsRestocked: 0,
        amountInvoiced: 0,
        amountCredited: 0,
      };
      rows.set(e.location, r);
    }
    if (e.type === 'fulfilment.shipped') {
      r.unitsShipped += units(e);
      r.amountInvoiced += e.amount;
    } else if (e.type === 'return.received') {
      r.unitsReturned += units(e);
      r.unitsRestocked += (e.dispositions ?? []).reduce((n, d) => n + d.restock, 0);
    } else if (e.type === 'credit_note.issued') {
      r.amountCredited += e.amount;
    }
  }
  return [...rows.values()].sort((a, b) => (a.location < b.location ? -1 : 1));
}
