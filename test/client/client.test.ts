import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  StockflowClient,
  StockflowError,
  type AvailabilityValue,
  type ClientOptions,
  type ConnectionState,
  type FulfilmentMessage,
  type WebSocketConstructor,
} from '../../client/index.ts';
import { KEYS, loadStock, orderService, start, within, type Running } from '../gateway/harness.ts';
import { waitFor } from '../persistence/server-process.ts';
import { StandardOnly } from './standard-websocket.ts';
import { TcpProxy } from './tcp-proxy.ts';

const FAST_RECONNECT = { minDelayMs: 10, maxDelayMs: 100 };

let r: Running;
let proxy: TcpProxy;
const clients: StockflowClient[] = [];

beforeAll(async () => {
  r = await start({ orders: orderService });
  await loadStock(r, 'dc1', { 'sku-1': 100, 'sku-2': 100, 'sku-3': 5 }, 1);
  await loadStock(r, 'store1', { 'sku-4': 5 }, 1);
  proxy = await TcpProxy.start(r.port);
});
afterEach(async () => {
  proxy.up();
  proxy.release();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await proxy.close();
  await r.stop();
});

function client(options: Partial<ClientOptions> & { viaProxy?: boolean } = {}): StockflowClient {
  const { viaProxy = false, ...rest } = options;
  const port = viaProxy ? proxy.port : r.port;
  const c = new StockflowClient({
    url: `ws://127.0.0.1:${port}/v1/ws`,
    apiKey: KEYS.web,
    reconnect: FAST_RECONNECT,
    ...rest,
  });
  clients.push(c);
  return c;
}

function states(c: StockflowClient): ConnectionState[] {
  const seen: ConnectionState[] = [];
  c.on('state', (s) => seen.push(s.state));
  return seen;
}

async function rejection(promise: Promise<unknown>): Promise<StockflowError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StockflowError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

async function httpAvailable(sku: string, location?: string): Promise<number> {
  const q = location === undefined ? '' : `&location=${location}`;
  const res = await r.http(`/v1/availability?channel=web&sku=${sku}${q}`);
  return ((await res.json()) as { available: number }).available;
}

for (const encoding of ['msgpack', 'json'] as const) {
  describe(`requests (${encoding})`, () => {
    it('reserves, releases and confirms, matching replies by id', async () => {
      const c = client({ encoding });
      await c.connected();
      const [a, b] = await Promise.all([
        c.reserve({ channel: 'web', sku: 'sku-1', qty: 2, reservationId: `${encoding}-a` }),
        c.reserve({ channel: 'web', sku: 'sku-2', qty: 1 }),
      ]);
      expect(a).toMatchObject({
        reservationId: `${encoding}-a`,
        sku: 'sku-1',
        qty: 2,
        state: 'held',
        lines: [{ location: 'dc1', qty: 2 }],
        duplicate: false,
      });
      expect(b.reservationId).toMatch(/^r-[0-9a-f]{32}$/);
      expect((await c.release(b.reservationId)).state).toBe('released');
      const confirmed = await c.confirm(a.reservationId, `${encoding}-order`);
      expect(confirmed).toMatchObject({ state: 'confirmed', orderId: `${encoding}-order` });
      // the same reserve again is an idempotent repeat
      const again = await c.reserve({
        channel: 'web',
        sku: 'sku-1',
        qty: 2,
        reservationId: `${encoding}-a`,
      });
      expect(again).toMatchObject({ duplicate: true, state: 'confirmed' });
    });

    it('types refusals by code and reason, with available on INSUFFICIENT_STOCK', async () => {
      const c = client({ encoding });
      const short = await rejection(c.reserve({ channel: 'web', sku: 'sku-3', qty: 50 }));
      expect(short).toMatchObject({ code: 'INSUFFICIENT_STOCK', available: 5 });
      expect(short.name).toBe('StockflowError');
      const unknown = await rejection(c.reserve({ channel: 'web', sku: 'nope', qty: 1 }));
      expect(unknown).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_SKU', available: null });
      const other = await rejection(c.reserve({ channel: 'app', sku: 'sku-1', qty: 1 }));
      expect(other.code).toBe('FORBIDDEN');
    });

    it('answers a batch with one result per operation', async () => {
      const c = client({ encoding });
      const results = await c.batch([
        { op: 'reserve', reservationId: `${encoding}-b1`, channel: 'web', sku: 'sku-2', qty: 1 },
        { op: 'reserve', channel: 'web', sku: 'sku-3', qty: 99 },
        { op: 'release', reservationId: `${encoding}-b1` },
        { op: 'release', reservationId: 'never-made' },
      ]);
      expect(results.map((x) => (x.ok ? x.reservation.state : x.error.code))).toEqual([
        'held',
        'INSUFFICIENT_STOCK',
        expect.stringMatching(/^(released|NOT_FOUND)$/), // operations of a batch run concurrently
        'NOT_FOUND',
      ]);
      const short = results[1];
      expect(short?.ok === false && short.error.available).toBe(5);
    });

    it('places and cancels an order, and a location handles and acks its fulfilment', async () => {
      const handled: FulfilmentMessage[] = [];
      const location = client({
        encoding,
        apiKey: KEYS.dc1,
        onFulfilment: (m) => {
          handled.push(m);
        },
      });
      await location.connected();
      const c = client({ encoding });
      const orderId = `${encoding}-order-1`;
      const placed = await c.placeOrder(
        {
          orderId,
          channel: 'web',
          customer: { id: 'c-1', name: 'Ada' },
          lines: [{ sku: 'sku-1', qty: 1, unitPrice: 1000 }],
          delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
          payment: { amount: 1000, currency: 'EUR' },
        },
        { idempotencyKey: `${encoding}-checkout-1` },
      );
      expect(placed.order).toMatchObject({ orderId, status: 'fulfilment_requested' });
      expect(placed.duplicate).toBe(false);
      await waitFor(() => handled.some((m) => m.orderId === orderId), 5_000, 'the fulfilment push');
      const push = handled.find((m) => m.orderId === orderId)!;
      expect(push.type).toBe('fulfilment.requested');
      // acknowledged: nothing waits in the order's outbox
      await waitFor(
        async () => {
          const res = await r.http(`/v1/orders/${orderId}`);
          return ((await res.json()) as { pendingMessages: number }).pendingMessages === 0;
        },
        5_000,
        'the ack',
      );
      const cancelled = await c.cancelOrder({ orderId, reason: 'changed mind' });
      expect(cancelled.order.status).toBe('cancelled');
      const again = await c.cancelOrder({ orderId });
      expect(again.duplicate).toBe(true);
      const missing = await rejection(c.cancelOrder({ orderId: 'no-such-order' }));
      expect(missing).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_ORDER' });
    });
  });
}

describe('subscriptions', () => {
  it('shows the snapshot and then each change; unsubscribing stops the values', async () => {
    const c = client();
    const seen: AvailabilityValue[] = [];
    const topic = 'availability:web:sku-2';
    const sub = c.subscribe([topic], (v) => seen.push(v));
    await sub.ready;
    const start = await httpAvailable('sku-2');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ topic, available: start, resynced: false });
    const held = await c.reserve({ channel: 'web', sku: 'sku-2', qty: 3 });
    await waitFor(() => seen.at(-1)?.available === start - 3, 5_000, 'the delta');
    expect(sub.values().get(topic)?.available).toBe(start - 3);
    sub.unsubscribe();
    const count = seen.length;
    await c.release(held.reservationId);
    // a second subscriber sees the release; the first one saw nothing more
    const other: AvailabilityValue[] = [];
    await c.subscribe([topic], (v) => other.push(v)).ready;
    await waitFor(() => other.at(-1)?.available === start, 5_000, 'the release');
    expect(seen).toHaveLength(count);
  });

  it('refuses another channel or an unknown SKU through ready, and keeps working', async () => {
    const c = client();
    const forbidden = c.subscribe(['availability:app:sku-1'], () => undefined);
    expect(await rejection(forbidden.ready)).toMatchObject({ code: 'FORBIDDEN' });
    const unknown = c.subscribe(['availability:web:nope'], () => undefined);
    expect(await rejection(unknown.ready)).toMatchObject({ code: 'NOT_FOUND' });
    await c.subscribe(['availability:web:sku-1'], () => undefined).ready;
  });

  it('resubscribes by itself after a cut, showing a resynced value', async () => {
    const c = client({ viaProxy: true });
    const seen: AvailabilityValue[] = [];
    const topic = 'availability:web:sku-2@dc1';
    await c.subscribe([topic], (v) => seen.push(v)).ready;
    const connections = proxy.connections;
    proxy.down();
    await waitFor(() => c.state === 'disconnected', 5_000, 'the drop');
    // changed while the client is away
    const res = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ reservationId: 'away-1', channel: 'web', sku: 'sku-2', qty: 4 }),
    });
    expect(res.status).toBe(201);
    proxy.up();
    const expected = await httpAvailable('sku-2', 'dc1');
    await waitFor(() => seen.at(-1)?.available === expected, 5_000, 'the resync');
    expect(seen.at(-1)?.resynced).toBe(true);
    expect(proxy.connections).toBeGreaterThan(connections);
  });
});

describe('the connection', () => {
  it('reports connecting, connected, disconnected and closed', async () => {
    const c = client({ viaProxy: true });
    const seen = states(c);
    await c.connected();
    proxy.cut();
    await waitFor(() => seen.includes('disconnected'), 5_000, 'disconnected');
    await c.connected();
    await c.close();
    expect(seen).toEqual(['connected', 'disconnected', 'connecting', 'connected', 'closed']);
    expect(await rejection(c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 }))).toMatchObject({
      code: 'CLOSED',
    });
  });

  it('never reconnects after a 401, and says so (key in a header)', async () => {
    const c = client({ apiKey: 'wrong-key-000000000000000000', viaProxy: true });
    const seen = states(c);
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const refused = await rejection(c.connected());
    expect(refused).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(seen).toEqual(['closed']);
    expect(errors).toEqual([refused]);
    expect(await rejection(c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 }))).toBe(refused);
  });

  it('never reconnects after a 401 where the status is hidden (subprotocol, HTTP probe)', async () => {
    const c = client({
      apiKey: 'wrong-key-000000000000000000',
      WebSocket: StandardOnly as unknown as WebSocketConstructor,
      reconnect: { minDelayMs: 10, maxDelayMs: 10 },
    });
    const seen = states(c);
    expect(await rejection(c.connected())).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(seen).toEqual(['disconnected', 'closed']);
  });

  it('works with the subprotocol key on a standard WebSocket', async () => {
    const c = client({ WebSocket: StandardOnly as unknown as WebSocketConstructor });
    expect((await c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 })).state).toBe('held');
  });

  it('never reconnects after a 403 (a location key where there is no order service)', async () => {
    const bare = await start();
    try {
      const c = new StockflowClient({
        url: `http://127.0.0.1:${bare.port}`,
        apiKey: KEYS.dc1,
        reconnect: FAST_RECONNECT,
      });
      clients.push(c);
      expect(await rejection(c.connected())).toMatchObject({ code: 'FORBIDDEN', status: 403 });
      expect(c.state).toBe('closed');
    } finally {
      await bare.stop();
    }
  });

  it('fails fast while disconnected when told to', async () => {
    const c = client({ viaProxy: true, whileDisconnected: 'fail' });
    await c.connected();
    proxy.down();
    await waitFor(() => c.state !== 'connected', 5_000, 'the drop');
    expect(await rejection(c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 }))).toMatchObject({
      code: 'DISCONNECTED',
    });
  });

  it('in flight at a drop: fail mode rejects with CONNECTION_LOST', async () => {
    const c = client({ viaProxy: true, whileDisconnected: 'fail' });
    await c.connected();
    proxy.hold();
    const pending = c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 });
    proxy.cut();
    expect(await rejection(pending)).toMatchObject({ code: 'CONNECTION_LOST' });
  });

  it('waits while disconnected, then sends', async () => {
    proxy.down();
    const c = client({ viaProxy: true });
    const seen = states(c);
    const pending = c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 });
    await waitFor(() => seen.filter((s) => s === 'disconnected').length >= 2, 5_000, 'retries');
    proxy.up();
    expect((await pending).state).toBe('held');
  });

  it('times out a request whose reply does not come', async () => {
    const c = client({ viaProxy: true });
    await c.connected();
    proxy.hold();
    const late = await rejection(
      c.reserve({ channel: 'web', sku: 'sku-1', qty: 1 }, { timeoutMs: 200 }),
    );
    expect(late).toMatchObject({ code: 'TIMEOUT' });
  });

  it('sends a reserve whose reply a drop lost again with the same id: held once', async () => {
    const c = client({ viaProxy: true });
    await c.connected();
    const before = r.engine.position('sku-2', 'dc1')!.reserved;
    proxy.hold(); // the reserve reaches the server; its reply does not come back
    const pending = c.reserve({ channel: 'web', sku: 'sku-2', qty: 2, location: 'dc1' });
    await waitFor(
      () => r.engine.position('sku-2', 'dc1')!.reserved === before + 2,
      5_000,
      'the reserve applied',
    );
    proxy.cut();
    proxy.release();
    const reservation = await within(pending, 10_000, 'the resent reserve');
    expect(reservation).toMatchObject({ state: 'held', duplicate: true });
    expect(r.engine.position('sku-2', 'dc1')!.reserved).toBe(before + 2);
  });
});

describe('fulfilment pushes', () => {
  it('a repeat of a handled push is acked, not handled again', async () => {
    const handled: string[] = [];
    let cutOnFirst = true;
    const location = client({
      viaProxy: true,
      apiKey: KEYS.dc1,
      onFulfilment: (m) => {
        handled.push(m.messageId);
        if (cutOnFirst) {
          // the connection dies before the ack can go: the server pushes it again
          cutOnFirst = false;
          proxy.cut();
        }
      },
    });
    await location.connected();
    const c = client();
    const orderId = 'repeat-order-1';
    await c.placeOrder({
      orderId,
      channel: 'web',
      customer: { id: 'c-2' },
      lines: [{ sku: 'sku-1', qty: 1, unitPrice: 500 }],
      delivery: { type: 'ship', address: { lat: 48.86, lon: 2.35 } },
      payment: { amount: 500, currency: 'EUR' },
    });
    await waitFor(
      async () => {
        const res = await r.http(`/v1/orders/${orderId}`);
        return ((await res.json()) as { pendingMessages: number }).pendingMessages === 0;
      },
      15_000,
      'the repeat acknowledged',
    );
    expect(cutOnFirst).toBe(false);
    expect(handled.filter((id) => id.startsWith(orderId))).toHaveLength(1);
  });
});
