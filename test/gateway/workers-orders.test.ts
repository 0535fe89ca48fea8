import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../gateway/shards/layout.ts';
import { startServer, waitFor, type ServerHandle } from '../persistence/server-process.ts';
import { Client, KEYS, type Message } from './harness.ts';
import {
  available,
  clientOn,
  discard,
  http,
  PinnedHttp,
  snapshot,
  workersConfig,
} from './workers-kit.ts';

// Orders on workers (server.workers: 2) through the real server (gateway/main.ts as a child
// process). An order route or WebSocket order op may land on either worker, whichever worker
// keeps the order; an order's lines are SKUs of both shards, read and allocated across workers;
// a location's pushes go to whichever worker holds its socket. None of that may show: the
// semantics are those of server.workers: 1, so the HTTP test places the same orders on a
// one-worker server and compares every answer. Nothing here assumes which worker keeps an order.
// Issue #12.
//
// Where a request lands matters, so the tests choose it: PinnedHttp and clientOn (workers-kit)
// keep a connection that /readyz said is worker 0's or worker 1's.

const WORKERS = 2;
const SKUS = Array.from({ length: 32 }, (_, i) => `w-${i}`);
const BY_SHARD = [0, 1].map((k) => SKUS.filter((s) => shardOf(s, WORKERS) === k));
/** SKUs of each test, some of each shard (every order has lines on both). */
const HTTP_SKUS = [0, 1].map((k) => BY_SHARD[k]!.slice(0, 3));
const WS_SKUS = [0, 1].map((k) => BY_SHARD[k]!.slice(3, 5));
const PUSH_SKUS = [0, 1].map((k) => BY_SHARD[k]!.slice(5, 7));
const KEYED_SKUS = [0, 1].map((k) => BY_SHARD[k]!.slice(7, 8));

/** Deepest stock first, up to two shipments (as the harness's order service sources). */
const ORDERS = {
  profiles: [
    {
      name: 'deepest',
      criteria: [{ criterion: 'stockDepth', weight: 1 }],
      typePreference: ['dc', 'store'],
      capacity: 'penalise',
      split: { policy: 'maxShipments', max: 2 },
    },
  ],
  defaultProfile: 'deepest',
  // A push whose socket closed is sent again after this backoff (the default is 250 ms).
  outbox: { backoffBaseMs: 50, backoffMaxMs: 500 },
};

/** workersConfig with the location keys of dc1 and store1, and the order settings above. */
function config(
  dir: string,
  workers: number,
  skus: readonly string[] = SKUS,
): Record<string, unknown> {
  const base = workersConfig(workers, skus, { store: 'file', dir: join(dir, 'data') });
  const auth = base.auth as { apiKeys: unknown[] };
  return {
    ...base,
    auth: {
      ...auth,
      apiKeys: [
        ...auth.apiKeys,
        { key: KEYS.dc1, name: 'dc1-wms', role: 'location', location: 'dc1' },
        { key: KEYS.store1, name: 'store1-pos', role: 'location', location: 'store1' },
      ],
    },
    orders: ORDERS,
  };
}

type Line = readonly [string, number];

/** An order body: lines are [sku, qty] at 1000 minor units each, shipped to Paris. */
function order(orderId: string, lines: readonly Line[]): Record<string, unknown> {
  return {
    orderId,
    channel: 'web',
    customer: { id: 'c-1', name: 'Ada', email: 'ada@example.com' },
    lines: lines.map(([sku, qty]) => ({ sku, qty, unitPrice: 1000 })),
    delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
    payment: { amount: lines.reduce((n, [, qty]) => n + qty * 1000, 0), currency: 'EUR' },
  };
}

/** A storefront request over a fresh fetch (any worker). */
async function web(
  s: ServerHandle,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await http(s, path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${KEYS.web}`,
      'content-type': 'application/json',
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const TIMES = new Set(['at', 'createdAt', 'updatedAt', 'requestedAt', 'dueBy']);

/** A JSON value without its timestamps (two servers never answer at the same milliseconds). */
function timeless(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(timeless);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).flatMap(([k, v]) => (TIMES.has(k) ? [] : [[k, timeless(v)]])),
  );
}

interface FulfilmentView {
  fulfilmentId: string;
  location: string;
  status: string;
  lines: { sku: string; qty: number }[];
}

interface OrderView {
  orderId: string;
  status: string;
  version: number;
  lines: { lineId: string; sku: string; qty: number; unitPrice: number; cancelled: number }[];
  backordered: { sku: string; qty: number }[];
  fulfilments: FulfilmentView[];
  pendingMessages: number;
}

/** Fulfilment statuses that hold their lines' stock allocated (orders/fulfilment-machine.ts). */
const HOLDING = new Set(['requested', 'accepted', 'picked']);

/** What an order holds allocated, as sku@location -> units. */
function holds(view: OrderView): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of view.fulfilments) {
    if (!HOLDING.has(f.status)) continue;
    for (const l of f.lines) {
      const key = `${l.sku}@${f.location}`;
      out.set(key, (out.get(key) ?? 0) + l.qty);
    }
  }
  return out;
}

/** Units per SKU over all locations of `held`. */
function bySku(held: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, qty] of held) {
    const sku = key.split('@')[0]!;
    out.set(sku, (out.get(sku) ?? 0) + qty);
  }
  return out;
}

describe('orders on server.workers: 2', () => {
  let dir: string;
  let server: ServerHandle;
  /** The same config on one worker: what every answer is compared with. */
  let single: ServerHandle;
  /** One HTTP connection on each worker. */
  let on: PinnedHttp[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stockflow-workers-orders-'));
    [server, single] = await Promise.all([
      startServer(config(join(dir, 'two'), WORKERS), dir),
      startServer(config(join(dir, 'one'), 1), dir),
    ]);
    on = await Promise.all([0, 1].map((k) => PinnedHttp.open(server, k)));
  }, 60_000);

  afterAll(async () => {
    for (const p of on) p.close();
    for (const s of [server, single]) s.process.kill('SIGTERM');
    await Promise.all([server.exited(), single.exited()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('places cross-shard orders over HTTP on either worker exactly as one worker does', async () => {
    const [a, b] = HTTP_SKUS as [string[], string[]];
    const skus = [...a, ...b];
    const dc1 = Object.fromEntries(skus.map((s) => [s, 12]));
    const store2 = Object.fromEntries(skus.map((s) => [s, 10]));
    for (const s of [server, single]) {
      await snapshot(s, 'dc1', dc1, 1);
      await snapshot(s, 'store2', store2, 1);
    }
    const ordered = new Map<string, number>();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const lines: Line[] = [
        [a[i % 3]!, 1 + (i % 2)],
        [a[(i + 1) % 3]!, 2],
        [b[i % 3]!, 1 + (i % 3)],
        [b[(i + 2) % 3]!, 1],
      ];
      for (const [sku, qty] of lines) ordered.set(sku, (ordered.get(sku) ?? 0) + qty);
      const body = order(`h-${i}`, lines);
      ids.push(`h-${i}`);
      // Alternately on worker 0 and worker 1.
      const two = await on[i % 2]!.request('/v1/orders', { key: KEYS.web, body });
      const one = await web(single, '/v1/orders', body);
      expect(one.status, JSON.stringify(one.body)).toBe(201);
      expect(two.status, JSON.stringify(two.body)).toBe(201);
      // The same order, fulfilments and sourcing explanation: the stock of both shards was read.
      expect(timeless(two.body)).toEqual(timeless(one.body));
    }
    // Some orders went to store2 once dc1 ran shallower: decisions read the stock as it stood.
    const views = ids.map(async (id) => (await web(single, `/v1/orders/${id}`)).body as unknown);
    const locations = new Set(
      (await Promise.all(views)).flatMap((v) =>
        (v as OrderView).fulfilments.map((f) => f.location),
      ),
    );
    expect(locations).toEqual(new Set(['dc1', 'store2']));

    // Read back from both workers, one by one and listed, as the one worker answers them.
    for (const id of ids) {
      const one = await web(single, `/v1/orders/${id}`);
      expect(one.status).toBe(200);
      for (const p of on) {
        const two = await p.request(`/v1/orders/${id}`, { key: KEYS.web });
        expect(two.status).toBe(200);
        expect(timeless(two.body)).toEqual(timeless(one.body));
      }
    }
    const list = await web(single, '/v1/orders?limit=200');
    expect((list.body.orders as OrderView[]).map((o) => o.orderId)).toEqual([...ids].reverse());
    for (const p of on) {
      const two = await p.request('/v1/orders?limit=200');
      expect(two.status).toBe(200);
      expect(timeless(two.body)).toEqual(timeless(list.body));
    }

    // Availability of every SKU dropped by exactly what was ordered, at each location as on one.
    for (const sku of skus) {
      expect(await available(server, sku)).toBe(22 - ordered.get(sku)!);
      for (const location of ['dc1', 'store2']) {
        expect(await available(server, sku, location)).toBe(await available(single, sku, location));
      }
    }

    // Cancel one, on worker 1: its units come back.
    const victim = (await web(single, '/v1/orders/h-5')).body as unknown as OrderView;
    const back = bySku(holds(victim));
    const cancelTwo = await on[1]!.request('/v1/orders/h-5/cancel', {
      key: KEYS.web,
      body: { reason: 'changed mind' },
    });
    const cancelOne = await web(single, '/v1/orders/h-5/cancel', { reason: 'changed mind' });
    expect(cancelOne.status).toBe(200);
    expect(cancelTwo.status).toBe(200);
    expect(cancelTwo.body).toMatchObject({ status: 'cancelled', duplicate: false });
    expect(timeless(cancelTwo.body)).toEqual(timeless(cancelOne.body));
    for (const sku of skus) {
      expect(await available(server, sku)).toBe(22 - ordered.get(sku)! + (back.get(sku) ?? 0));
    }
    const again = await on[0]!.request('/v1/orders/h-5/cancel', { key: KEYS.web, body: {} });
    expect(again.body).toMatchObject({ status: 'cancelled', duplicate: true });
  });

  it('serialises ten identical HTTP placements under one Idempotency-Key across workers', async () => {
    const [a, b] = KEYED_SKUS as [string[], string[]];
    await snapshot(server, 'dc1', Object.fromEntries([...a, ...b].map((s) => [s, 100])), 1);
    const body = order('idem-1', [
      [a[0]!, 1],
      [b[0]!, 1],
    ]);
    // Ten connections, five on each worker, all sending at once.
    const pins = await Promise.all(
      Array.from({ length: 10 }, (_, i) => PinnedHttp.open(server, i % 2)),
    );
    const answers = await Promise.all(
      pins.map((p) =>
        p.request('/v1/orders', {
          key: KEYS.web,
          body,
          headers: { 'idempotency-key': 'checkout-idem' },
        }),
      ),
    );
    for (const p of pins) p.close();
    expect(answers.map((x) => x.status).sort()).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 200, 201,
    ]);
    const bodies = answers.map((x) => x.body as { orderId: string; duplicate: boolean });
    expect(new Set(bodies.map((x) => x.orderId))).toEqual(new Set(['idem-1']));
    expect(bodies.filter((x) => !x.duplicate)).toHaveLength(1);
    expect(await available(server, a[0]!)).toBe(99);
    expect(await available(server, b[0]!)).toBe(99);
    // The key with other orders, whatever their ids (wherever an order of that id may be kept).
    for (let i = 0; i < 8; i++) {
      const other = await on[i % 2]!.request('/v1/orders', {
        key: KEYS.web,
        body: order(`idem-other-${i}`, [[a[0]!, 1]]),
        headers: { 'idempotency-key': 'checkout-idem' },
      });
      expect(other.status, `idem-other-${i}`).toBe(409);
      expect(other.body).toMatchObject({ code: 'CONFLICT', reason: 'ID_REUSED' });
    }
    expect(await available(server, a[0]!)).toBe(99);
    // Cancelled from the other worker: the units come back.
    const cancel = await on[0]!.request('/v1/orders/idem-1/cancel', { key: KEYS.web, body: {} });
    expect(cancel.status).toBe(200);
    expect(await available(server, a[0]!)).toBe(100);
  });

  it('places orders over WebSockets on both workers; a repeat on another worker is a duplicate', async () => {
    const [a, b] = WS_SKUS as [string[], string[]];
    await snapshot(server, 'dc1', Object.fromEntries([...a, ...b].map((s) => [s, 100])), 1);
    // Four connections on each worker, JSON and msgpack.
    const clients = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        clientOn(server, i % 2, { key: KEYS.web, binary: i % 4 < 2 }),
      ),
    );
    const ordered = new Map<string, number>();
    const bodies: Record<string, unknown>[][] = clients.map((_, ci) =>
      Array.from({ length: 3 }, (__, j) => {
        const lines: Line[] = [
          [a[(ci + j) % 2]!, 1 + (j % 2)],
          [b[ci % 2]!, 1 + ((ci + j) % 3)],
        ];
        for (const [sku, qty] of lines) ordered.set(sku, (ordered.get(sku) ?? 0) + qty);
        return order(`ws-${ci}-${j}`, lines);
      }),
    );
    const placed = await Promise.all(
      clients.map((c, ci) =>
        Promise.all(bodies[ci]!.map((body) => c.request({ op: 'placeOrder', order: body }))),
      ),
    );
    placed.forEach((replies, ci) => {
      replies.forEach((reply, j) => {
        const body = bodies[ci]![j]!;
        expect(reply).toMatchObject({
          op: 'placeOrder',
          ok: true,
          duplicate: false,
          order: {
            orderId: body.orderId,
            status: 'fulfilment_requested',
            lines: (body.lines as object[]).map((l) => expect.objectContaining(l) as unknown),
          },
        });
      });
    });
    for (const sku of [...a, ...b]) {
      expect(await available(server, sku)).toBe(100 - ordered.get(sku)!);
    }

    // Each order again, from a connection on the other worker: the order as it stands.
    const repeats = await Promise.all(
      clients.flatMap((_, ci) =>
        bodies[ci]!.map((body) =>
          clients[(ci + 1) % 8]!.request({ op: 'placeOrder', order: body }),
        ),
      ),
    );
    const firsts = placed.flat();
    repeats.forEach((reply, i) => {
      const first = firsts[i]!.order as OrderView;
      expect(reply).toMatchObject({
        op: 'placeOrder',
        ok: true,
        duplicate: true,
        order: { orderId: first.orderId, version: first.version },
      });
    });
    // One new order sent at once from all eight: one placement, seven duplicates.
    const storm = order('ws-storm', [
      [a[0]!, 1],
      [b[1]!, 1],
    ]);
    const stormed = await Promise.all(
      clients.map((c) => c.request({ op: 'placeOrder', order: storm })),
    );
    expect(stormed.map((m) => m.op)).toEqual(clients.map(() => 'placeOrder'));
    expect(stormed.filter((m) => m.duplicate === false)).toHaveLength(1);
    ordered.set(a[0]!, ordered.get(a[0]!)! + 1);
    ordered.set(b[1]!, ordered.get(b[1]!)! + 1);

    // An idempotency key used on worker 1, repeated and reused on worker 0.
    const keyed = order('ws-keyed', [
      [a[1]!, 2],
      [b[0]!, 2],
    ]);
    const k1 = await clients[1]!.request({
      op: 'placeOrder',
      order: keyed,
      idempotencyKey: 'ck-9',
    });
    expect(k1).toMatchObject({ op: 'placeOrder', ok: true, duplicate: false });
    const k0 = await clients[0]!.request({
      op: 'placeOrder',
      order: keyed,
      idempotencyKey: 'ck-9',
    });
    expect(k0).toMatchObject({ op: 'placeOrder', duplicate: true, order: { orderId: 'ws-keyed' } });
    // The key with other orders, whatever their ids, from connections on both workers.
    const reused = await Promise.all(
      clients.map((c, ci) =>
        c.request({
          op: 'placeOrder',
          order: order(`ws-other-${ci}`, [[a[1]!, 1]]),
          idempotencyKey: 'ck-9',
        }),
      ),
    );
    for (const r of reused) {
      expect(r).toMatchObject({ op: 'error', code: 'CONFLICT', reason: 'ID_REUSED' });
    }
    ordered.set(a[1]!, ordered.get(a[1]!)! + 2);
    ordered.set(b[0]!, ordered.get(b[0]!)! + 2);
    // Nothing was allocated twice.
    for (const sku of [...a, ...b]) {
      expect(await available(server, sku)).toBe(100 - ordered.get(sku)!);
    }

    // Cancelled from a connection on the other worker: the units come back.
    const cancelled = await clients[0]!.request({ op: 'cancelOrder', orderId: 'ws-keyed' });
    expect(cancelled).toMatchObject({
      op: 'cancelOrder',
      ok: true,
      duplicate: false,
      order: { status: 'cancelled' },
    });
    const twice = await clients[3]!.request({ op: 'cancelOrder', orderId: 'ws-keyed' });
    expect(twice).toMatchObject({ op: 'cancelOrder', duplicate: true });
    expect(await available(server, a[1]!)).toBe(100 - ordered.get(a[1]!)! + 2);
    expect(await available(server, b[0]!)).toBe(100 - ordered.get(b[0]!)! + 2);
    await Promise.all(clients.map((c) => c.close()));
  });

  describe('a location’s pushes, acks and answers across workers', () => {
    const [a, b] = PUSH_SKUS as [string[], string[]];
    const STORE1 = 50;
    /** What each test shipped from store1 (onHand went down) and still holds there. */
    const shipped = new Map<string, number>();
    const holding = new Map<string, number>();
    let n = 0;

    beforeAll(async () => {
      // Only store1 has these: every order here is one fulfilment at store1.
      await snapshot(server, 'store1', Object.fromEntries([...a, ...b].map((s) => [s, STORE1])), 1);
    });

    /** Places an order (any worker) with a line on each shard, all sourced to store1. */
    async function placeAtStore1(): Promise<{ id: string; lines: Line[] }> {
      const i = n++;
      const id = `p-${i}`;
      const lines: Line[] = [
        [a[i % 2]!, 2],
        [b[i % 2]!, 1],
      ];
      const res = await web(server, '/v1/orders', order(id, lines));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      for (const [sku, qty] of lines) holding.set(sku, (holding.get(sku) ?? 0) + qty);
      return { id, lines };
    }

    function release(lines: readonly Line[], into: Map<string, number> | null): void {
      for (const [sku, qty] of lines) {
        holding.set(sku, holding.get(sku)! - qty);
        if (into !== null) into.set(sku, (into.get(sku) ?? 0) + qty);
      }
    }

    function isPush(orderId: string): (m: Message) => boolean {
      return (m) => m.op === 'fulfilment' && m.orderId === orderId;
    }

    async function pushedTo(c: Client, orderId: string): Promise<Pushed> {
      return (await c.next(isPush(orderId), 5_000, `the push of ${orderId}`)) as Pushed;
    }

    /** The first of `clients` the order's push came on, and the push. */
    async function pushedToAny(clients: Client[], orderId: string): Promise<[number, Pushed]> {
      return Promise.race(
        clients.map(async (c, i) => [i, await pushedTo(c, orderId)] as [number, Pushed]),
      );
    }

    function pushes(clients: Client[]): Message[] {
      return clients.flatMap((c) => c.received.filter((m) => m.op === 'fulfilment'));
    }

    async function view(id: string): Promise<OrderView> {
      return (await web(server, `/v1/orders/${id}`)).body as unknown as OrderView;
    }

    /** The location sockets a test opened: closed after it, whether it passed or not. */
    let opened: Client[] = [];
    afterEach(async () => {
      await Promise.all(opened.map((c) => c.close()));
      opened = [];
    });

    /** A store1 location socket on worker `shard`. */
    async function locationOn(shard: number, binary = false): Promise<Client> {
      const c = await clientOn(server, shard, { key: KEYS.store1, binary });
      opened.push(c);
      return c;
    }

    function answer(c: Client, fulfilmentId: string, body: Record<string, unknown>) {
      return c.request({ op: 'fulfilmentAnswer', fulfilmentId, answer: body });
    }

    it('pushes to the location’s socket on worker 1 and takes its ack and answers there, as on one worker', async () => {
      const far = await locationOn(1);
      const placed = await placeAtStore1();
      const push = await pushedTo(far, placed.id);
      expect(push).toMatchObject({
        op: 'fulfilment',
        type: 'fulfilment.requested',
        orderId: placed.id,
        data: {
          location: 'store1',
          lines: expect.arrayContaining(
            placed.lines.map(([sku, qty]) => ({ sku, qty })),
          ) as unknown,
        },
      });
      expect(push.data.lines).toHaveLength(2);
      const fid = push.data.fulfilmentId;
      expect(await far.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
        op: 'ack',
        acked: 1,
      });
      // Acknowledged once: a repeat acknowledges nothing.
      expect(await far.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
        acked: 0,
      });
      await waitFor(
        async () => (await view(placed.id)).pendingMessages === 0,
        5_000,
        'the ack to reach the order',
      );
      const waiting = await on[1]!.request('/v1/fulfilments?location=store1', {
        key: KEYS.store1,
      });
      expect(waiting.status).toBe(200);
      const listed = (waiting.body as { messages: { messageId: string }[] }).messages;
      expect(listed.map((m) => m.messageId)).not.toContain(push.messageId);

      // accepted, picked (over HTTP on worker 1), shipped, delivered: the order follows.
      expect(await answer(far, fid, { type: 'accepted' })).toMatchObject({
        op: 'fulfilmentAnswer',
        orderId: placed.id,
        fulfilment: { fulfilmentId: fid, status: 'accepted' },
        duplicate: false,
      });
      expect((await view(placed.id)).status).toBe('accepted');
      expect(await answer(far, fid, { type: 'accepted' })).toMatchObject({ duplicate: true });
      const picked = await on[1]!.request(`/v1/fulfilments/${fid}/answers`, {
        key: KEYS.store1,
        body: { type: 'picked' },
      });
      expect(picked.status).toBe(200);
      expect(picked.body).toMatchObject({ fulfilment: { status: 'picked' }, duplicate: false });
      expect((await view(placed.id)).status).toBe('picked');
      expect(
        await answer(far, fid, { type: 'shipped', carrier: 'DHL', tracking: 'JD0001' }),
      ).toMatchObject({ fulfilment: { status: 'shipped', carrier: 'DHL', tracking: 'JD0001' } });
      release(placed.lines, shipped);
      expect((await view(placed.id)).status).toBe('shipped');
      // Answers that no longer fit are refused with the fulfilment as it stands.
      expect(await answer(far, fid, { type: 'rejected', reason: 'too late' })).toMatchObject({
        op: 'error',
        code: 'CONFLICT',
        reason: 'ORDER_STATE',
        orderId: placed.id,
        fulfilment: { status: 'shipped' },
      });
      expect(await answer(far, fid, { type: 'delivered' })).toMatchObject({
        fulfilment: { status: 'delivered' },
      });
      expect(await view(placed.id)).toMatchObject({ status: 'delivered', pendingMessages: 0 });
      const detail = await on[0]!.request(`/v1/fulfilments/${fid}`, { key: KEYS.store1 });
      expect(detail.body).toMatchObject({
        orderId: placed.id,
        fulfilment: { status: 'delivered' },
      });
    });

    it('pushes to the newest of the location’s sockets, whichever worker holds it', async () => {
      const far = await locationOn(1);
      const home = await locationOn(0);
      const first = await placeAtStore1();
      const [at1, push1] = await pushedToAny([home, far], first.id);
      expect(at1, 'the push went to the older socket, on worker 1').toBe(0);
      expect(await home.request({ op: 'ack', messageIds: [push1.messageId] })).toMatchObject({
        acked: 1,
      });
      const newest = await locationOn(1);
      const second = await placeAtStore1();
      const [at2, push2] = await pushedToAny([newest, home, far], second.id);
      expect(at2, 'the push went to an older socket').toBe(0);
      expect(await newest.request({ op: 'ack', messageIds: [push2.messageId] })).toMatchObject({
        acked: 1,
      });
      expect(pushes([far, home, newest])).toEqual([]);
    });

    it('counts an ack on any socket of the location, on the other worker too', async () => {
      const sockets: [Client, number][] = [
        [await locationOn(0), 0],
        [await locationOn(1, true), 1],
      ];
      for (let round = 0; round < 2; round++) {
        const placed = await placeAtStore1();
        const [at, push] = await pushedToAny(
          sockets.map(([c]) => c),
          placed.id,
        );
        const worker = sockets[at]![1];
        const other = sockets.find(([, w]) => w !== worker)![0];
        // Acknowledged on a socket on the other worker than the one it was pushed on.
        expect(await other.request({ op: 'ack', messageIds: [push.messageId] })).toMatchObject({
          op: 'ack',
          acked: 1,
        });
        expect(
          await sockets[at]![0].request({ op: 'ack', messageIds: [push.messageId] }),
        ).toMatchObject({ acked: 0 });
        await waitFor(
          async () => (await view(placed.id)).pendingMessages === 0,
          2_000,
          'the ack to reach the order',
        );
        // A newer socket on the worker the push was not on, for the next round.
        if (round === 0) sockets.push([await locationOn(1 - worker), 1 - worker]);
      }
    });

    it('pushes again, on worker 0, what a socket on worker 1 closed without acknowledging', async () => {
      const far = await locationOn(1);
      const placed = await placeAtStore1();
      const first = await pushedTo(far, placed.id);
      await far.close();
      const home = await locationOn(0);
      const again = await pushedTo(home, placed.id);
      expect(again.messageId).toBe(first.messageId);
      expect(await home.request({ op: 'ack', messageIds: [again.messageId] })).toMatchObject({
        acked: 1,
      });
      const rejected = await on[1]!.request(`/v1/fulfilments/${again.data.fulfilmentId}/answers`, {
        key: KEYS.store1,
        body: { type: 'rejected', reason: 'no staff' },
      });
      expect(rejected.body).toMatchObject({ fulfilment: { status: 'rejected' } });
      // Only store1 had the stock: released there, nowhere else to go.
      release(placed.lines, null);
      expect((await view(placed.id)).fulfilments.filter((f) => HOLDING.has(f.status))).toEqual([]);

      // store1 as every answer left it: shipped units gone, rejected ones back, the rest held.
      for (const sku of [...a, ...b]) {
        expect(await available(server, sku, 'store1')).toBe(
          STORE1 - (shipped.get(sku) ?? 0) - (holding.get(sku) ?? 0),
        );
      }
    });
  });
});

type Pushed = Message & {
  messageId: string;
  data: { fulfilmentId: string; location: string; lines: { sku: string; qty: number }[] };
};

describe('orders on server.workers: 2 under SIGKILL', () => {
  const KILLS = 10;
  const skus = Array.from({ length: 8 }, (_, i) => `c-${i}`);
  const [ca, cb] = [0, 1].map((k) => skus.filter((s) => shardOf(s, WORKERS) === k)) as [
    string[],
    string[],
  ];
  // Little enough that it runs out half way: later orders are refused, some after a line on one
  // shard was allocated and another on the other shard could not be (it is given back).
  const STOCK: Record<string, number> = { dc1: 80, store2: 50 };
  const dir = mkdtempSync(join(tmpdir(), 'stockflow-workers-orders-crash-'));
  let server: ServerHandle | null = null;

  afterAll(async () => {
    await discard(server, dir);
  });

  const start = (): Promise<ServerHandle> => startServer(config(dir, WORKERS, skus), dir);

  /** Every order sent, by what its placement was answered. */
  const sent = new Map<string, Line[]>();
  const acked = new Set<string>();
  const refused = new Set<string>();
  /** Answers that were neither (none are expected: a live server places or refuses). */
  const odd: string[] = [];

  const answers = (): number => acked.size + refused.size + odd.length;

  function answered(id: string, status: number, body: Record<string, unknown>): void {
    if (status === 201) acked.add(id);
    else if (status === 409 && body.reason === 'NOT_SOURCEABLE') refused.add(id);
    else odd.push(`${id}: ${status} ${String(body.code)}`);
  }

  /** Places orders over 3 WebSockets and 3 HTTP loops until the server dies. */
  async function loadUntilKilled(s: ServerHandle, round: number): Promise<void> {
    const clients = await Promise.all(
      [0, 1, 2].map((i) => Client.connect(s.port, { key: KEYS.web, binary: i === 1 })),
    );
    let alive = true;
    let n = 0;
    const next = (pump: number): [string, Record<string, unknown>] => {
      const i = n++;
      const id = `k${round}-${pump}-${i}`;
      const lines: Line[] = [
        [ca[i % ca.length]!, 1 + (i % 2)],
        [cb[(i * 3) % cb.length]!, 1],
      ];
      sent.set(id, lines);
      return [id, order(id, lines)];
    };
    const pace = () => new Promise((resolve) => setTimeout(resolve, 8));
    const overWs = async (c: Client, pump: number): Promise<void> => {
      while (alive) {
        const [id, body] = next(pump);
        try {
          // A killed server's socket closes: nothing answers what was in flight on it.
          const m = await Promise.race([
            c.request({ op: 'placeOrder', order: body }, 2_000),
            c.closed.then(() => Promise.reject(new Error('closed'))),
          ]);
          if (m.op === 'placeOrder' && m.ok === true) answered(id, 201, m);
          else if (m.code === 'INSUFFICIENT_STOCK') answered(id, 409, m);
          else answered(id, 0, m);
        } catch {
          alive = false;
        }
        await pace();
      }
    };
    const overHttp = async (pump: number): Promise<void> => {
      while (alive) {
        const [id, body] = next(pump);
        try {
          const res = await fetch(`${s.base}/v1/orders`, {
            method: 'POST',
            headers: { authorization: `Bearer ${KEYS.web}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(2_000),
          });
          answered(id, res.status, (await res.json()) as Record<string, unknown>);
        } catch {
          alive = false;
        }
        await pace();
      }
    };
    const pumps = [...clients.map((c, i) => overWs(c, i)), ...[3, 4, 5].map((p) => overHttp(p))];
    // Kill after a number of answers, not a time, so a slower machine sells the same stock:
    // mid-stream, with placements in flight on both transports.
    const base = answers();
    await waitFor(() => answers() - base >= 40 + 4 * round, 10_000, 'orders to be answered');
    s.process.kill('SIGKILL');
    await s.exited();
    alive = false;
    await Promise.all(pumps);
    await Promise.all(clients.map((c) => c.closed));
  }

  /** Every order sent, as the server has it now (null: it does not know it). */
  async function views(s: ServerHandle): Promise<Map<string, OrderView | null>> {
    const out = new Map<string, OrderView | null>();
    const ids = [...sent.keys()];
    for (let i = 0; i < ids.length; i += 64) {
      await Promise.all(
        ids.slice(i, i + 64).map(async (id) => {
          const res = await http(s, `/v1/orders/${id}`);
          expect([200, 404]).toContain(res.status);
          out.set(id, res.status === 200 ? ((await res.json()) as OrderView) : null);
        }),
      );
    }
    return out;
  }

  /** The invariants, as [what must hold always, what holds once recovery has settled]. */
  async function check(s: ServerHandle): Promise<[string[], string[]]> {
    const safety: string[] = [];
    const settle: string[] = [];
    const all = await views(s);
    const held = new Map<string, number>();
    /** Orders sent, never answered and unknown to the server (it lost them, or never had them). */
    const absent: string[] = [];
    for (const [id, view] of all) {
      const lines = sent.get(id)!;
      if (view === null) {
        if (acked.has(id) || refused.has(id)) safety.push(`${id} was answered and is gone`);
        else absent.push(id);
        continue;
      }
      const same = view.lines.map((l) => [l.sku, l.qty]);
      if (JSON.stringify(same) !== JSON.stringify(lines)) safety.push(`${id} has other lines`);
      const has = holds(view);
      for (const [key, qty] of has) held.set(key, (held.get(key) ?? 0) + qty);
      const units = bySku(has);
      const whole = lines.every(([sku, qty]) => units.get(sku) === qty) && units.size === 2;
      if (acked.has(id) && !whole)
        safety.push(`${id} acknowledged holds ${JSON.stringify([...has])}`);
      if (refused.has(id) && (has.size > 0 || view.status !== 'cancelled')) {
        safety.push(`${id} refused is ${view.status} holding ${JSON.stringify([...has])}`);
      }
      if (has.size > 0 && !whole) safety.push(`${id} holds ${JSON.stringify([...has])}`);
      if (view.backordered.length > 0) safety.push(`${id} backordered`);
      if (view.status === 'received') settle.push(`${id} not sourced yet`);
    }
    for (const sku of skus) {
      for (const [location, stock] of Object.entries(STOCK)) {
        const h = held.get(`${sku}@${location}`) ?? 0;
        const now = await available(s, sku, location);
        if (h > stock) safety.push(`${sku}@${location} oversold: ${h} held of ${stock}`);
        if (now < 0) safety.push(`${sku}@${location} available ${now}`);
        if (now !== stock - h) {
          // Which lost orders had the SKU: an allocation kept for one of them is held by nobody.
          const lost = absent.filter((id) => sent.get(id)!.some(([x]) => x === sku));
          settle.push(
            `${sku}@${location} available ${now} of ${stock}, orders hold ${h}; ` +
              `unanswered orders of it the server does not know: ${lost.join(' ') || 'none'}`,
          );
        }
      }
    }
    return [safety, settle];
  }

  /** The invariants after a restart: safety at once, the rest within 5 s (recovery resumes). */
  async function verify(s: ServerHandle): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const [safety, settle] = await check(s);
      expect(safety).toEqual([]);
      if (settle.length === 0) return;
      if (Date.now() > deadline) expect(settle).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** `work`, failing with what the server logged, for a crash or an error it logged. */
  async function withOutput(s: ServerHandle, when: string, work: Promise<void>): Promise<void> {
    try {
      await work;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${when}: ${message}\n--- the server's output ---\n${s.output().slice(-6_000)}`,
        {
          cause: error,
        },
      );
    }
  }

  it(`loses no acknowledged order and oversells nothing over ${KILLS} kills`, async () => {
    server = await start();
    for (const [location, stock] of Object.entries(STOCK)) {
      await snapshot(server, location, Object.fromEntries(skus.map((s) => [s, stock])), 1);
    }
    for (let round = 0; round < KILLS; round++) {
      await loadUntilKilled(server, round);
      server = await start();
      await withOutput(server, `after kill ${round + 1}`, verify(server));
    }
    expect(odd).toEqual([]);
    // Orders were placed, and the stock ran out on the way (refusals, too).
    expect(acked.size).toBeGreaterThan(250);
    expect(refused.size).toBeGreaterThan(100);

    // A graceful restart answers every order and every availability the same.
    const before = await views(server);
    const stock = await Promise.all(skus.map((sku) => available(server!, sku)));
    server.process.kill('SIGTERM');
    expect(await server.exited()).toBe(0);
    server = await start();
    expect(await views(server)).toEqual(before);
    expect(await Promise.all(skus.map((sku) => available(server!, sku)))).toEqual(stock);
  }, 120_000);
});
