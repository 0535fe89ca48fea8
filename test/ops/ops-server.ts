import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, waitFor, type ServerHandle } from '../persistence/server-process.ts';

export const OPS_KEYS = {
  admin: 'ops-admin-key-000000000000',
  web: 'ops-web-key-00000000000000',
  dc1: 'ops-dc1-key-00000000000000',
  burst: 'ops-burst-key-000000000000',
} as const;

export const SKUS = ['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4'] as const;

/**
 * A webhook receiver that refuses everything with 400, so that every customer notification is
 * dead-lettered (a failure a retry cannot fix): the outbox's dead-letter path, for real.
 */
export async function refusingReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('refused by the test receiver');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * A server process (what `npm start` runs) with two locations, four SKUs, two channels, an order
 * service whose customer notifications go to `notifyUrl`, the file store in `dir`/data with a snapshot
 * every second, a rate limit low enough for the `burst` key to run into it, and the console served
 * from `dir`/console.
 */
export function startOpsServer(dir: string, notifyUrl: string): Promise<ServerHandle> {
  return startServer(
    {
      // Empty until a test writes files there: /console says it is not built.
      server: { consoleDir: join(dir, 'console') },
      auth: {
        apiKeys: [
          { key: OPS_KEYS.admin, name: 'ops', role: 'admin' },
          { key: OPS_KEYS.web, name: 'web-shop', role: 'storefront', channel: 'web' },
          { key: OPS_KEYS.dc1, name: 'dc1-wms', role: 'location', location: 'dc1' },
          { key: OPS_KEYS.burst, name: 'burst', role: 'storefront', channel: 'web' },
        ],
        rateLimit: { perSecond: 100, burst: 200 },
      },
      rules: {
        channels: [
          { id: 'web', priority: 1 },
          { id: 'marketplace', priority: 2 },
        ],
      },
      locations: [
        { id: 'dc1', type: 'dc', lat: 51.5, lon: -0.12 },
        { id: 'store1', type: 'store', lat: 53.8, lon: -1.55 },
      ],
      products: SKUS.map((sku) => ({ sku })),
      orders: {
        notifications: { webhook: { url: notifyUrl, secret: 'ops-test-secret-0000' } },
        outbox: { backoffBaseMs: 50, backoffMaxMs: 200, pushAckTimeoutMs: 200 },
      },
      persistence: {
        store: 'file',
        dir: join(dir, 'data'),
        snapshotEverySeconds: 1,
        fsync: 'never',
      },
      log: { level: 'warn' },
    },
    dir,
  );
}

export interface Api {
  request(
    method: string,
    path: string,
    key: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
}

export function api(base: string): Api {
  return {
    request: (method, path, key, body, headers = {}) => {
      const h: Record<string, string> = { ...headers };
      if (key !== null) h.authorization = `Bearer ${key}`;
      let payload: string | undefined;
      if (typeof body === 'string') payload = body;
      else if (body !== undefined) {
        payload = JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      return fetch(`${base}${path}`, { method, headers: h, body: payload ?? null });
    },
  };
}

export function order(orderId: string, sku: string, qty: number): Record<string, unknown> {
  return {
    orderId,
    channel: 'web',
    customer: { id: `cust-${orderId}`, name: 'Ada' },
    lines: [{ sku, qty, unitPrice: 1_000 }],
    delivery: { type: 'ship', address: { city: 'Leeds', lat: 53.8, lon: -1.5 } },
    payment: { amount: qty * 1_000, currency: 'GBP' },
  };
}

function openSocket(port: number, key: string | null): Promise<WebSocket> {
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`upgrade refused with ${res.statusCode ?? 0}`));
    });
    ws.once('error', reject);
  });
}

/** Sends JSON frames on one socket and resolves once every one of them has a reply. */
async function exchange(ws: WebSocket, frames: Record<string, unknown>[]): Promise<unknown[]> {
  const replies: unknown[] = [];
  const onMessage = (data: Buffer): void => {
    const msg = JSON.parse(data.toString('utf8')) as { id?: unknown };
    if (msg.id !== undefined) replies.push(msg);
  };
  ws.on('message', onMessage);
  for (const f of frames) ws.send(JSON.stringify(f));
  await waitFor(() => replies.length >= frames.length, 10_000, 'websocket replies');
  ws.off('message', onMessage);
  return replies;
}

/**
 * A little of everything an operator's dashboard shows: stock feeds (applied, stale and
 * rejected), WebSocket subscribers with deltas, reserves granted and refused, a frame refused,
 * an upgrade refused, orders placed and answered (their notifications dead-lettered, their
 * fulfilment pushes retried while the location has no socket), and a burst over the rate limit.
 * Returns the open subscriber socket (close it when done).
 */
export async function driveLoad(server: ServerHandle, round: number): Promise<WebSocket> {
  const a = api(server.base);
  const asOf = 1_000 + round * 10;
  const feed = SKUS.map((sku) => JSON.stringify({ sku, onHand: 500 })).join('\n');
  const ndjson = { 'content-type': 'application/x-ndjson' };
  await ok(
    a.request(
      'POST',
      `/v1/inventory/snapshots?location=dc1&asOf=${asOf}`,
      OPS_KEYS.dc1,
      feed,
      ndjson,
    ),
  );
  // The same snapshot again is not newer: counted stale. A broken one is refused whole.
  await ok(
    a.request(
      'POST',
      `/v1/inventory/snapshots?location=dc1&asOf=${asOf}`,
      OPS_KEYS.dc1,
      feed,
      ndjson,
    ),
  );
  await a.request(
    'POST',
    `/v1/inventory/snapshots?location=dc1&asOf=${asOf + 1}`,
    OPS_KEYS.dc1,
    'not json',
    ndjson,
  );
  await ok(
    a.request('POST', '/v1/inventory/adjustments', OPS_KEYS.dc1, [
      { adjustmentId: `adj-${round}`, sku: 'SKU-1', location: 'dc1', delta: 5, asOf: asOf + 2 },
    ]),
  );

  const ws = await openSocket(server.port, OPS_KEYS.web);
  await exchange(ws, [
    { op: 'subscribe', id: 's', topics: SKUS.map((sku) => `availability:web:${sku}`) },
  ]);
  const reserves = SKUS.map((sku, i) => ({
    op: 'reserve',
    id: `r${i}`,
    reservationId: `cart-${round}-${i}`,
    channel: 'web',
    sku,
    qty: 2,
  }));
  await exchange(ws, [
    ...reserves,
    {
      op: 'reserve',
      id: 'too-many',
      reservationId: `big-${round}`,
      channel: 'web',
      sku: 'SKU-4',
      qty: 100_000,
    },
  ]);
  ws.send('this is not a frame');
  await openSocket(server.port, null).then(
    (s) => {
      s.close();
    },
    () => undefined,
  );

  await ok(a.request('GET', '/v1/availability?channel=web&sku=SKU-1', OPS_KEYS.web));
  await a.request('GET', '/v1/availability?channel=web&sku=SKU-1', null);
  await ok(
    a.request('POST', '/v1/reservations', OPS_KEYS.web, {
      reservationId: `http-${round}`,
      channel: 'web',
      sku: 'SKU-2',
      qty: 1,
    }),
  );
  await ok(a.request('DELETE', `/v1/reservations/http-${round}`, OPS_KEYS.web));

  for (let i = 0; i < 3; i++) {
    const id = `ord-${round}-${i}`;
    const placed = await ok(a.request('POST', '/v1/orders', OPS_KEYS.web, order(id, 'SKU-3', 1)));
    const body = (await placed.json()) as { fulfilments: { fulfilmentId: string }[] };
    const f = body.fulfilments[0];
    if (f !== undefined && i === 0) {
      await ok(
        a.request(
          'POST',
          `/v1/fulfilments/${encodeURIComponent(f.fulfilmentId)}/answers`,
          OPS_KEYS.admin,
          {
            type: 'accepted',
          },
        ),
      );
    }
  }
  // Over the rate limit: the bucket holds 200 tokens.
  await Promise.all(
    Array.from({ length: 260 }, () =>
      a.request('GET', '/v1/availability?channel=web&sku=SKU-1', OPS_KEYS.burst),
    ),
  );
  return ws;
}

async function ok(pending: Promise<Response>): Promise<Response> {
  const res = await pending;
  if (res.status >= 300) {
    throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  }
  return res;
}
