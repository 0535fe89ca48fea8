import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  KEYS,
  loadStock,
  orderService,
  start,
  unpackr,
  UpgradeRefused,
  type Message,
  type Running,
} from './harness.ts';

/**
 * Every gateway here stocks sku-1 and sku-2 plenty at dc1, sku-3 five units at dc1, and sku-4
 * only at store1. The HTTP and storefront tests share one; the location tests get their own, so
 * no location starts with a backlog of pushes it never acknowledges (each waits out the ack
 * timeout in one of the outbox's in-flight slots).
 */
async function stocked(push?: { ackTimeoutMs: number }): Promise<Running> {
  const run = await start(
    push === undefined ? { orders: orderService } : { orders: orderService, push },
  );
  await loadStock(run, 'dc1', { 'sku-1': 100, 'sku-2': 100, 'sku-3': 5 }, 1);
  await loadStock(run, 'store1', { 'sku-4': 5 }, 1);
  return run;
}

let r: Running;
beforeAll(async () => {
  r = await stocked();
});
afterAll(async () => {
  await r.stop();
});

let nextOrder = 1;

/** An order body: lines are [sku, qty] at 1000 minor units each, shipped to Paris. */
function order(
  lines: readonly (readonly [string, number])[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    orderId: `ord-${nextOrder++}`,
    channel: 'web',
    customer: { id: 'c-1', name: 'Ada', email: 'ada@example.com' },
    lines: lines.map(([sku, qty]) => ({ sku, qty, unitPrice: 1000 })),
    delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
    payment: { amount: lines.reduce((n, [, qty]) => n + qty * 1000, 0), currency: 'EUR' },
    ...extra,
  };
}

function place(
  body: unknown,
  options: { key?: string; idempotencyKey?: string; on?: Running } = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  return (options.on ?? r).http('/v1/orders', {
    method: 'POST',
    key: options.key ?? KEYS.web,
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function post(
  path: string,
  body: unknown,
  key: string = KEYS.admin,
  on: Running = r,
): Promise<Response> {
  return on.http(path, { method: 'POST', key, body: JSON.stringify(body) });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

interface Pushed extends Message {
  messageId: string;
  type: string;
  orderId: string;
  createdAt: string;
  data: { fulfilmentId: string; location: string; lines: { sku: string; qty: number }[] };
}

/** The next fulfilment message pushed to a location client for an order. */
async function pushed(client: Client, orderId: string, ms = 5_000): Promise<Pushed> {
  return (await client.next(
    (m) => m.op === 'fulfilment' && m.orderId === orderId,
    ms,
    `a push for ${orderId}`,
  )) as Pushed;
}

describe('orders over HTTP', () => {
  it('creates an order (201), answers the same body again (200), refuses another body under the key (409)', async () => {
    const body = order([['sku-1', 2]]);
    const first = await place(body, { idempotencyKey: 'checkout-1' });
    expect(first.status).toBe(201);
    const created = await json(first);
    expect(created).toMatchObject({
      orderId: body.orderId,
      channel: 'web',
      status: 'fulfilment_requested',
      duplicate: false,
    });
    expect(r.engine.position('sku-1', 'dc1')?.allocated).toBe(2);

    const again = await place(body, { idempotencyKey: 'checkout-1' });
    expect(again.status).toBe(200);
    expect(await json(again)).toMatchObject({
      orderId: body.orderId,
      version: created.version,
      duplicate: true,
    });

    const other = await place(order([['sku-1', 1]]), { idempotencyKey: 'checkout-1' });
    expect(other.status).toBe(409);
    expect(await json(other)).toMatchObject({
      code: 'CONFLICT',
      reason: 'ID_REUSED',
      order: null,
    });
    // The same order id with other content is refused the same way, with or without a key.
    const reused = await place(order([['sku-1', 3]], { orderId: body.orderId }));
    expect(reused.status).toBe(409);
    expect(await json(reused)).toMatchObject({ code: 'CONFLICT', reason: 'ID_REUSED' });
    expect(r.engine.position('sku-1', 'dc1')?.allocated).toBe(2);

    // Keys are scoped per channel: the app storefront may use the same key for its own order.
    const app = await place(order([['sku-1', 1]], { channel: 'app' }), {
      key: KEYS.app,
      idempotencyKey: 'checkout-1',
    });
    expect(app.status).toBe(201);
  });

  it('creates exactly one order from 10 identical concurrent requests', async () => {
    const before = r.orders!.stats().placed;
    const body = order([['sku-2', 1]]);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => place(body, { idempotencyKey: 'storm-1' })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const bodies = await Promise.all(answers.map(json));
    expect(new Set(bodies.map((b) => b.orderId))).toEqual(new Set([body.orderId]));
    expect(bodies.filter((b) => b.duplicate === false)).toHaveLength(1);
    expect(r.orders!.stats().placed).toBe(before + 1);
    expect(r.engine.position('sku-2', 'dc1')?.allocated).toBe(1);
  });

  it('shows an order to its channel and admin only', async () => {
    const body = order([['sku-1', 1]]);
    expect((await place(body)).status).toBe(201);
    const id = String(body.orderId);
    const own = await r.http(`/v1/orders/${id}`, { key: KEYS.web });
    expect(own.status).toBe(200);
    const view = await json(own);
    expect(view).toMatchObject({ orderId: id, channel: 'web', status: 'fulfilment_requested' });
    expect(view.fulfilments).toHaveLength(1);
    expect(view.history).toEqual(expect.arrayContaining([expect.any(Object)]));
    expect((await r.http(`/v1/orders/${id}`)).status).toBe(200);

    const other = await r.http(`/v1/orders/${id}`, { key: KEYS.app });
    expect(other.status).toBe(403);
    expect(await json(other)).toMatchObject({ code: 'FORBIDDEN', reason: 'OTHER_CHANNEL' });
    expect((await r.http(`/v1/orders/${id}`, { key: KEYS.dc1 })).status).toBe(403);
    const unknown = await r.http('/v1/orders/no-such-order', { key: KEYS.web });
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_ORDER' });
  });

  it('cancels a line, then the whole order, giving the stock back', async () => {
    const allocated = r.engine.position('sku-1', 'dc1')?.allocated ?? 0;
    const body = order([
      ['sku-1', 3],
      ['sku-2', 1],
    ]);
    expect((await place(body)).status).toBe(201);
    const id = String(body.orderId);
    expect(r.engine.position('sku-1', 'dc1')?.allocated).toBe(allocated + 3);

    const foreign = await post(`/v1/orders/${id}/cancel`, {}, KEYS.app);
    expect(foreign.status).toBe(403);
    expect(await json(foreign)).toMatchObject({ code: 'FORBIDDEN', reason: 'OTHER_CHANNEL' });

    const line = await post(
      `/v1/orders/${id}/cancel`,
      { lines: [{ lineId: '1', qty: 2 }], reason: 'changed mind' },
      KEYS.web,
    );
    expect(line.status).toBe(200);
    const partly = await json(line);
    expect(partly).toMatchObject({ orderId: id, duplicate: false });
    expect((partly.lines as { cancelled: number }[])[0]?.cancelled).toBe(2);
    expect(r.engine.position('sku-1', 'dc1')?.allocated).toBe(allocated + 1);

    // No body: the whole order.
    const all = await r.http(`/v1/orders/${id}/cancel`, { method: 'POST', key: KEYS.web });
    expect(all.status).toBe(200);
    expect(await json(all)).toMatchObject({ status: 'cancelled', duplicate: false });
    expect(r.engine.position('sku-1', 'dc1')?.allocated).toBe(allocated);
    const again = await post(`/v1/orders/${id}/cancel`, {}, KEYS.web);
    expect(await json(again)).toMatchObject({ status: 'cancelled', duplicate: true });
    const unknown = await post('/v1/orders/no-such-order/cancel', {});
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ reason: 'UNKNOWN_ORDER' });
  });

  it('answers an order that cannot be sourced with 409 and the cancelled order', async () => {
    const body = order([['sku-3', 50]]);
    const res = await place(body);
    expect(res.status).toBe(409);
    const error = await json(res);
    expect(error).toMatchObject({ code: 'INSUFFICIENT_STOCK', reason: 'NOT_SOURCEABLE' });
    expect(error.order).toMatchObject({ orderId: body.orderId, status: 'cancelled' });
    expect(r.engine.position('sku-3', 'dc1')?.allocated).toBe(0);
    // A retry gets the same answer.
    expect((await place(body)).status).toBe(409);
  });

  it('answers malformed requests with 400 and what is wrong', async () => {
    const notJson = await place('{"orderId":');
    expect(notJson.status).toBe(400);
    expect(await json(notJson)).toMatchObject({ code: 'BAD_REQUEST', reason: null });

    const noCustomer = { ...order([['sku-1', 1]]), customer: undefined };
    const missing = await json(await place(noCustomer));
    expect(missing).toMatchObject({ code: 'BAD_REQUEST', reason: null });

    const mismatch = await json(
      await place(order([['sku-1', 1]], { payment: { amount: 1, currency: 'EUR' } })),
    );
    expect(mismatch).toMatchObject({ code: 'BAD_REQUEST', reason: 'PAYMENT_MISMATCH' });

    const badKey = await place(order([['sku-1', 1]]), { idempotencyKey: 'k'.repeat(256) });
    expect(badKey.status).toBe(400);
    expect(await json(badKey)).toMatchObject({ code: 'BAD_REQUEST' });

    const badCancel = await post('/v1/orders/ord-1/cancel', { lines: [] });
    expect(badCancel.status).toBe(400);
    expect(await json(badCancel)).toMatchObject({ code: 'BAD_REQUEST' });

    const badType = await post('/v1/fulfilments/ord-1-F1/answers', { type: 'lost' });
    expect(badType.status).toBe(400);
    expect(await json(badType)).toMatchObject({ code: 'BAD_REQUEST' });
    const extra = await post('/v1/fulfilments/ord-1-F1/answers', {
      type: 'shipped',
      trackingNo: 'X',
    });
    expect(extra.status).toBe(400);
    expect(await json(extra)).toMatchObject({ code: 'BAD_REQUEST' });

    const unknown = await post('/v1/fulfilments/nope/answers', { type: 'accepted' });
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_FULFILMENT' });
  });

  it('keeps location keys out of orders and storefronts out of fulfilments', async () => {
    const fromLocation = await place(order([['sku-1', 1]]), { key: KEYS.dc1 });
    expect(fromLocation.status).toBe(403);
    expect((await json(fromLocation)).code).toBe('FORBIDDEN');
    const otherChannel = await place(order([['sku-1', 1]], { channel: 'app' }));
    expect(otherChannel.status).toBe(403);
    expect(await json(otherChannel)).toMatchObject({ reason: 'OTHER_CHANNEL' });
    const storefront = await r.http('/v1/fulfilments?location=dc1', { key: KEYS.web });
    expect(storefront.status).toBe(403);
    const answer = await post('/v1/fulfilments/ord-1-F1/answers', { type: 'accepted' }, KEYS.web);
    expect(answer.status).toBe(403);
  });
});

describe('fulfilment at a location over the WebSocket', () => {
  let f: Running;
  beforeAll(async () => {
    f = await stocked();
  });
  afterAll(async () => {
    await f.stop();
  });

  it('pushes the request, takes the ack and the answers; the order ends up shipped', async () => {
    const onHand = f.engine.position('sku-2', 'dc1')?.onHand ?? 0;
    const dc1 = await Client.connect(f.port, { key: KEYS.dc1 });
    const body = order([['sku-2', 3]]);
    const id = String(body.orderId);
    expect((await place(body, { on: f })).status).toBe(201);

    const push = await pushed(dc1, id);
    expect(push).toMatchObject({
      op: 'fulfilment',
      type: 'fulfilment.requested',
      orderId: id,
      data: { location: 'dc1', lines: [{ sku: 'sku-2', qty: 3 }] },
    });
    expect(new Date(push.createdAt).toISOString()).toBe(push.createdAt);
    const fulfilmentId = push.data.fulfilmentId;

    expect(await dc1.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
      op: 'ack',
      acked: 1,
    });
    // Acknowledged once: a repeat acknowledges nothing.
    expect(await dc1.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
      acked: 0,
    });
    await f.orders!.settled();
    const waiting = await json(await f.http('/v1/fulfilments?location=dc1', { key: KEYS.dc1 }));
    expect(waiting.location).toBe('dc1');
    expect((waiting.messages as Pushed[]).map((m) => m.messageId)).not.toContain(push.messageId);

    const accepted = await dc1.request({
      op: 'fulfilmentAnswer',
      fulfilmentId,
      answer: { type: 'accepted' },
    });
    expect(accepted).toMatchObject({
      op: 'fulfilmentAnswer',
      orderId: id,
      fulfilment: { fulfilmentId, status: 'accepted' },
      duplicate: false,
    });
    const repeat = await dc1.request({
      op: 'fulfilmentAnswer',
      fulfilmentId,
      answer: { type: 'accepted' },
    });
    expect(repeat).toMatchObject({ op: 'fulfilmentAnswer', duplicate: true });
    const shipped = await dc1.request({
      op: 'fulfilmentAnswer',
      fulfilmentId,
      answer: { type: 'shipped', carrier: 'DHL', tracking: 'JD0001' },
    });
    expect(shipped).toMatchObject({
      fulfilment: { status: 'shipped', carrier: 'DHL', tracking: 'JD0001' },
    });
    // Answers that no longer fit are refused with the fulfilment as it stands.
    const late = await dc1.request({
      op: 'fulfilmentAnswer',
      fulfilmentId,
      answer: { type: 'rejected', reason: 'too late' },
    });
    expect(late).toMatchObject({
      op: 'error',
      code: 'CONFLICT',
      reason: 'ORDER_STATE',
      orderId: id,
      fulfilment: { status: 'shipped' },
    });

    const view = await json(await f.http(`/v1/orders/${id}`, { key: KEYS.web }));
    expect(view).toMatchObject({ status: 'shipped', pendingMessages: 0 });
    expect(view.fulfilments).toEqual([
      expect.objectContaining({ fulfilmentId, location: 'dc1', status: 'shipped' }),
    ]);
    expect(f.engine.position('sku-2', 'dc1')?.onHand).toBe(onHand - 3);

    const read = await f.http(`/v1/fulfilments/${fulfilmentId}`, { key: KEYS.dc1 });
    expect(read.status).toBe(200);
    const detail = await json(read);
    expect(Object.keys(detail)).toEqual(['orderId', 'fulfilment', 'delivery', 'customer']);
    expect(detail).toMatchObject({
      orderId: id,
      fulfilment: { fulfilmentId, status: 'shipped' },
      delivery: body.delivery,
      customer: { id: 'c-1', name: 'Ada' },
    });
    await dc1.close();
  });

  it('answers over HTTP too, and keeps each location to its own fulfilments', async () => {
    const dc1 = await Client.connect(f.port, { key: KEYS.dc1 });
    const store1 = await Client.connect(f.port, { key: KEYS.store1 });
    const body = order([['sku-1', 1]]);
    const id = String(body.orderId);
    expect((await place(body, { on: f })).status).toBe(201);
    const push = await pushed(dc1, id);
    const fulfilmentId = push.data.fulfilmentId;
    expect(store1.received.filter((m) => m.op === 'fulfilment')).toEqual([]);

    // Another location's acks, reads and answers are refused or ignored.
    expect(await store1.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
      acked: 0,
    });
    const foreign = await store1.request({
      op: 'fulfilmentAnswer',
      fulfilmentId,
      answer: { type: 'rejected' },
    });
    expect(foreign).toMatchObject({
      op: 'error',
      code: 'FORBIDDEN',
      reason: 'OTHER_LOCATION',
      fulfilment: null,
    });
    const foreignHttp = await post(
      `/v1/fulfilments/${fulfilmentId}/answers`,
      { type: 'rejected' },
      KEYS.store1,
      f,
    );
    expect(foreignHttp.status).toBe(403);
    expect((await f.http(`/v1/fulfilments/${fulfilmentId}`, { key: KEYS.store1 })).status).toBe(
      403,
    );
    expect((await f.http('/v1/fulfilments?location=dc1', { key: KEYS.store1 })).status).toBe(403);
    expect(await store1.request({ op: 'placeOrder', order: order([['sku-1', 1]]) })).toMatchObject({
      op: 'error',
      code: 'FORBIDDEN',
    });
    expect(
      await store1.request({ op: 'subscribe', topics: ['availability:web:sku-1'] }),
    ).toMatchObject({ op: 'error', code: 'FORBIDDEN' });

    const ok = await post(
      `/v1/fulfilments/${fulfilmentId}/answers`,
      { type: 'picked' },
      KEYS.dc1,
      f,
    );
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({
      orderId: id,
      fulfilment: { fulfilmentId, status: 'picked' },
      duplicate: false,
    });
    expect(await dc1.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
      acked: 1,
    });
    await dc1.close();
    await store1.close();
  });

  it('lets a location that was offline catch up: listed while it waits, pushed on connect', async () => {
    const body = order([['sku-4', 2]]);
    const id = String(body.orderId);
    expect((await place(body, { on: f })).status).toBe(201);
    const list = await f.http('/v1/fulfilments', { key: KEYS.store1 });
    expect(list.status).toBe(200);
    const waiting = await json(list);
    expect(waiting.location).toBe('store1');
    const listed = (waiting.messages as Pushed[]).find((m) => m.orderId === id);
    expect(listed).toMatchObject({ op: 'fulfilment', type: 'fulfilment.requested' });

    const store1 = await Client.connect(f.port, { key: KEYS.store1 });
    const push = await pushed(store1, id);
    expect(push.messageId).toBe(listed?.messageId);
    expect(await store1.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
      acked: 1,
    });
    await store1.close();
  });

  it('opens the WebSocket to location keys only where the gateway runs orders', async () => {
    const plain = await start();
    try {
      await expect(Client.connect(plain.port, { key: KEYS.dc1 })).rejects.toBeInstanceOf(
        UpgradeRefused,
      );
      const web = await Client.connect(plain.port, { key: KEYS.web });
      expect(await web.request({ op: 'placeOrder', order: {} })).toMatchObject({
        op: 'error',
        code: 'NOT_FOUND',
      });
      await web.close();
      expect((await plain.http('/v1/orders/x')).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});

describe('redelivery to locations', () => {
  let q: Running;
  beforeAll(async () => {
    q = await stocked({ ackTimeoutMs: 150 });
  });
  afterAll(async () => {
    await q.stop();
  });

  async function placeOn(run: Running): Promise<string> {
    const body = order([['sku-1', 1]]);
    expect((await place(body, { on: run })).status).toBe(201);
    return String(body.orderId);
  }

  it('pushes again, with the same id, what was not acknowledged in time', async () => {
    const dc1 = await Client.connect(q.port, { key: KEYS.dc1 });
    const id = await placeOn(q);
    const first = await pushed(dc1, id);
    const second = await pushed(dc1, id);
    expect(second.messageId).toBe(first.messageId);
    expect(await dc1.request({ op: 'ack', messageIds: [second.messageId] })).toMatchObject({
      acked: 1,
    });
    await dc1.close();
  });

  it('sends to the newest socket of a location, and again on another when it closes unacknowledged', async () => {
    const older = await Client.connect(q.port, { key: KEYS.dc1, binary: true });
    const newer = await Client.connect(q.port, { key: KEYS.dc1 });
    // Pushes come in the encoding of the last frame a socket sent (JSON before any).
    const encodings: boolean[] = [];
    older.ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString())) as Message;
      if (m.op === 'fulfilment') encodings.push(isBinary);
    });
    expect(await older.request({ op: 'ack', messageIds: [] })).toMatchObject({ acked: 0 });
    const id = await placeOn(q);
    const first = await pushed(newer, id);
    expect(older.received.filter((m) => m.op === 'fulfilment')).toEqual([]);
    await newer.close();
    const again = await pushed(older, id);
    expect(again.messageId).toBe(first.messageId);
    expect(new Set(encodings)).toEqual(new Set([true]));
    expect(await older.request({ op: 'ack', messageIds: [again.messageId] })).toMatchObject({
      acked: 1,
    });
    await older.close();
  });
});

describe.each([
  ['JSON', false],
  ['msgpack', true],
])('orders over the WebSocket (%s client)', (name, binary) => {
  it('places, repeats and cancels an order; refusals carry the order', async () => {
    const web = await Client.connect(r.port, { key: KEYS.web, binary });
    const body = order([['sku-1', 1]]);
    const key = `ws-${name}`;
    const placed = await web.request({ op: 'placeOrder', order: body, idempotencyKey: key });
    expect(placed).toMatchObject({
      op: 'placeOrder',
      ok: true,
      order: { orderId: body.orderId, status: 'fulfilment_requested' },
      duplicate: false,
    });
    const again = await web.request({ op: 'placeOrder', order: body, idempotencyKey: key });
    expect(again).toMatchObject({ op: 'placeOrder', duplicate: true });
    const other = await web.request({
      op: 'placeOrder',
      order: order([['sku-1', 1]]),
      idempotencyKey: key,
    });
    expect(other).toMatchObject({ op: 'error', code: 'CONFLICT', reason: 'ID_REUSED' });

    const cancelled = await web.request({ op: 'cancelOrder', orderId: body.orderId });
    expect(cancelled).toMatchObject({
      op: 'cancelOrder',
      ok: true,
      order: { status: 'cancelled' },
      duplicate: false,
    });

    const scarce = order([['sku-3', 9]]);
    const refused = await web.request({ op: 'placeOrder', order: scarce });
    expect(refused).toMatchObject({
      op: 'error',
      code: 'INSUFFICIENT_STOCK',
      reason: 'NOT_SOURCEABLE',
      order: { orderId: scarce.orderId, status: 'cancelled' },
    });
    const missing = await web.request({ op: 'placeOrder' });
    expect(missing).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    const invalid = await web.request({ op: 'placeOrder', order: { orderId: 'x' } });
    expect(invalid).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    const ack = await web.request({ op: 'ack', messageIds: [] });
    expect(ack).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    await web.close();
  });
});
