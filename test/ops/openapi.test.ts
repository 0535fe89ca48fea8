import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerHandle } from '../persistence/server-process.ts';
import { ROOT } from './ops-files.ts';
import { METHODS, OpenApiSpec, type Method } from './openapi-spec.ts';
import { api, order, OPS_KEYS, refusingReceiver, startOpsServer } from './ops-server.ts';

const spec = new OpenApiSpec();

/** One request and what came back, checked against the spec. */
interface Seen {
  method: Method;
  template: string;
  status: number;
}

/**
 * Path literals in the gateway's sources: the routes it registers (`app.get('/v1/...')`, a route
 * table's `path: '/v1/...'`, a template such as `/v1/config/${what}`), with `:param` written as
 * OpenAPI's `{param}` and a template's `${...}` as a wildcard segment.
 */
function sourceRoutes(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(ROOT, 'gateway'));
  const routes = new Set<string>();
  const literal =
    /(?:\.(?:get|post|put|del|delete|patch|any|ws)\(\s*|path:\s*)(['"`])(\/[^'"`\s]*)\1|(['"`])(\/(?:v1\/[^'"`\s]*|healthz|readyz|metrics|console[^'"`\s]*))\3/g;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(literal)) {
      const route = m[2] ?? m[4] ?? '';
      if (route === '/*' || route === '/') continue;
      routes.add(route.replace(/:(\w+)/g, '{$1}').replace(/\$\{[^}]*\}/g, '*'));
    }
  }
  return [...routes].sort();
}

/** A spec path that a source route names: equal, `{x}` for `{y}`, `*` for any one segment. */
function covers(specPath: string, route: string): boolean {
  const a = specPath.split('/');
  const b = route.split('/');
  if (a.length !== b.length) return false;
  return a.every((seg, i) => {
    const other = b[i] ?? '';
    if (seg === other || other === '*') return true;
    return /^\{\w+\}$/.test(seg) && /^\{\w+\}$/.test(other);
  });
}

/** What the catch-all answers for a method and path the server does not serve. */
function isNoRoute(status: number, body: string): boolean {
  return status === 404 && body.includes('"message":"no route ');
}

/** A WebSocket upgrade's answer: 101, or the refusal's status and body. */
function upgrade(port: number, key: string | null): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', reject);
  });
}

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 with responses for every operation and every schema compiling', () => {
    expect(spec.spec.openapi).toMatch(/^3\.1\.\d+$/);
    for (const { method, path, op } of spec.operations()) {
      expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
      for (const status of Object.keys(op.responses)) {
        const r = spec.response(op, Number(status));
        expect(r, `${method} ${path} ${status}`).not.toBeNull();
        for (const media of Object.values(r?.content ?? {})) spec.validator(media.schema);
      }
    }
  });

  it('documents every route the gateway’s sources register', () => {
    const routes = sourceRoutes();
    expect(routes).toContain('/v1/orders');
    const paths = Object.keys(spec.spec.paths);
    const missing = routes.filter((r) => !paths.some((p) => covers(p, r)));
    expect(missing, 'routes in gateway/ without a path in docs/openapi.yaml').toEqual([]);
  });

  describe('against the running server', () => {
    let dir = '';
    let server: ServerHandle | null = null;
    let receiver: Awaited<ReturnType<typeof refusingReceiver>> | null = null;
    const seen: Seen[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'stockflow-openapi-'));
      receiver = await refusingReceiver();
      server = await startOpsServer(dir, receiver.url);
    });

    afterAll(async () => {
      if (server !== null) {
        server.process.kill('SIGTERM');
        await server.exited();
      }
      await receiver?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /**
     * Sends a request, checks the request body (JSON) against the spec's request schema and the
     * response (status, content type, body) against the spec's response, and returns the body.
     */
    async function call(
      method: Method,
      path: string,
      key: string | null,
      expected: number,
      body?: unknown,
      headers?: Record<string, string>,
    ): Promise<unknown> {
      if (server === null) throw new Error('no server');
      const template = spec.template(path.split('?')[0] ?? '');
      expect(template, `${path} has a path in the spec`).not.toBeNull();
      const op = spec.operation(method, template ?? '');
      expect(op, `${method.toUpperCase()} ${template ?? ''} in the spec`).not.toBeNull();
      if (op === null || template === null) return null;
      const requestSchema = op.requestBody?.content['application/json']?.schema;
      // A request meant to succeed must itself match the spec (bad ones are sent on purpose).
      if (
        expected < 300 &&
        requestSchema !== undefined &&
        typeof body !== 'string' &&
        body !== undefined
      ) {
        expect(spec.check(requestSchema, body), `${method} ${path} request`).toBeNull();
      }
      const res = await api(server.base).request(method.toUpperCase(), path, key, body, headers);
      return answered(method, path, template, expected, res);
    }

    /** Checks a response against the spec's response for its status; returns the body. */
    async function answered(
      method: Method,
      path: string,
      template: string,
      expected: number,
      res: Response,
    ): Promise<unknown> {
      const op = spec.operation(method, template);
      if (op === null) throw new Error(`no ${method} ${template}`);
      const text = await res.text();
      const where = `${method.toUpperCase()} ${path} → ${res.status} ${text.slice(0, 300)}`;
      expect(res.status, where).toBe(expected);
      const documented = spec.response(op, res.status);
      expect(documented, `${where}: status not documented`).not.toBeNull();
      const type = (res.headers.get('content-type') ?? '').split(';')[0] ?? '';
      const media = documented?.content?.[type];
      expect(media, `${where}: content type ${type} not documented`).toBeDefined();
      const value: unknown = type === 'application/json' ? JSON.parse(text) : text;
      expect(spec.check(media?.schema, value), where).toBeNull();
      seen.push({ method, template, status: res.status });
      return value;
    }

    it('answers every documented route as documented', async () => {
      if (server === null) throw new Error('no server');
      const { admin, web, dc1, burst } = OPS_KEYS;
      await call('get', '/healthz', null, 200);
      await call('get', '/readyz', null, 200);
      await call('get', '/metrics', null, 200);

      // The console's files (a stand-in build: the real one is tested in test/console).
      await call('get', '/console', null, 404);
      mkdirSync(join(dir, 'console'));
      writeFileSync(join(dir, 'console', 'index.html'), '<!doctype html><title>console</title>');
      writeFileSync(join(dir, 'console', 'main-ABCD1234.js'), 'export {};');
      await call('get', '/console', null, 200);
      await call('get', '/console/main-ABCD1234.js', null, 200);
      await call('get', '/console/nope.js', null, 404);

      // The WebSocket: refused without a key, upgraded with one.
      const refused = await upgrade(server.port, null);
      expect(refused.status).toBe(401);
      const wsOp = spec.operation('get', '/v1/ws');
      const wsRefusal = wsOp === null ? null : spec.response(wsOp, 401);
      expect(
        spec.check(wsRefusal?.content?.['application/json']?.schema, JSON.parse(refused.body)),
      ).toBeNull();
      expect((await upgrade(server.port, web)).status).toBe(101);
      seen.push({ method: 'get', template: '/v1/ws', status: 101 });

      // Feeds.
      const ndjson = { 'content-type': 'application/x-ndjson' };
      const feed = ['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4']
        .map((sku) => JSON.stringify({ sku, onHand: 50 }))
        .join('\n');
      await call('post', '/v1/inventory/snapshots?location=dc1&asOf=10', dc1, 200, feed, ndjson);
      await call('post', '/v1/inventory/snapshots?location=dc1&asOf=11', dc1, 400, 'x', ndjson);
      await call('post', '/v1/inventory/snapshots?location=dc1&asOf=11', dc1, 415, feed, {
        'content-type': 'text/plain',
      });
      await call('post', '/v1/inventory/snapshots?location=dc1&asOf=11', web, 403, feed, ndjson);
      const adjustments = [
        { adjustmentId: 'a-1', sku: 'SKU-1', location: 'dc1', delta: 5, asOf: 12 },
        { adjustmentId: 'a-2', sku: 'SKU-1', location: 'dc1', delta: -1_000, asOf: 13 },
      ];
      await call('post', '/v1/inventory/adjustments', dc1, 200, adjustments);
      const rows = [
        JSON.stringify({ sku: 'SKU-2', onHand: 40 }),
        JSON.stringify({ sku: 'SKU-3', onHand: -1 }),
      ].join('\n');
      const feedUrl = '/v1/feeds?feedId=feed-1&kind=snapshot&location=dc1&asOf=20';
      await call('post', feedUrl, dc1, 200, rows, ndjson);
      await call('post', feedUrl, dc1, 200, rows, ndjson);
      await call('post', '/v1/feeds?feedId=feed-1&kind=delta', dc1, 409, rows, ndjson);
      await call('post', '/v1/feeds?feedId=feed-2&kind=snapshot&asOf=21', dc1, 400, 'x', ndjson);
      await call('post', '/v1/feeds?feedId=feed-2&kind=snapshot&asOf=21', web, 403, rows, ndjson);
      await call('post', '/v1/feeds?feedId=feed-2&kind=snapshot', dc1, 415, rows, {
        'content-type': 'text/plain',
      });
      await call('get', '/v1/feeds/feed-1', dc1, 200);
      await call('get', '/v1/feeds/feed-9', dc1, 404);
      await call('get', '/v1/feeds?limit=5', admin, 200);
      await call('get', '/v1/feeds?limit=0', admin, 400);
      await call('get', '/v1/feeds', dc1, 403);
      // Master data from the ERP.
      const erpProducts = [
        JSON.stringify({
          sku: 'SKU-9',
          group: 'g',
          attributes: { color: 'red' },
          prices: { EUR: 5 },
        }),
        JSON.stringify({ sku: 'bad:sku' }),
      ].join('\n');
      const csv = { 'content-type': 'text/csv' };
      await call('post', '/v1/master/products?feedId=m-1', admin, 200, erpProducts, ndjson);
      await call('post', '/v1/master/products?feedId=m-1', admin, 200, erpProducts, ndjson);
      await call('post', '/v1/master/products?feedId=m-1', admin, 409, 'sku\nSKU-8', csv);
      await call('post', '/v1/master/products?feedId=m-2', admin, 400, 'x', ndjson);
      await call('post', '/v1/master/products?feedId=m-2', dc1, 403, erpProducts, ndjson);
      await call('post', '/v1/master/products?feedId=m-2', admin, 415, erpProducts, {
        'content-type': 'text/plain',
      });
      const places = 'id,type,capacity,channels,pickup\nerp-1,store,40,web,false';
      await call('post', '/v1/master/locations?feedId=m-3&format=csv', admin, 200, places, csv);
      await call('get', '/v1/master/feeds/m-3', admin, 200);
      await call('get', '/v1/master/feeds/m-9', admin, 404);
      await call('get', '/v1/master/feeds/m-3', dc1, 403);
      await call('get', '/v1/inventory/snapshots', dc1, 200);
      await call('get', '/v1/inventory/snapshots?location=dc1', admin, 200);
      await call('get', '/v1/inventory/snapshots', admin, 400);
      await call('get', '/v1/inventory/snapshots?location=store1', dc1, 403);
      await call('get', '/v1/inventory/snapshots?location=nope', admin, 404);

      // Availability and reservations.
      await call('get', '/v1/availability?channel=web&sku=SKU-1', web, 200);
      await call('get', '/v1/availability?channel=web&sku=SKU-1&location=dc1', web, 200);
      await call('get', '/v1/availability?channel=web', web, 400);
      await call('get', '/v1/availability?channel=web&sku=SKU-1', null, 401);
      await call('get', '/v1/availability?channel=marketplace&sku=SKU-1', web, 403);
      await call('get', '/v1/availability?channel=web&sku=NOPE', web, 404);
      const hold = { reservationId: 'cart-1', channel: 'web', sku: 'SKU-2', qty: 2 };
      await call('post', '/v1/reservations', web, 201, hold);
      await call('post', '/v1/reservations', web, 200, hold);
      await call('post', '/v1/reservations', web, 409, { ...hold, reservationId: 'x', qty: 999 });
      await call('post', '/v1/reservations', web, 400, { channel: 'web' });
      await call('post', '/v1/reservations/cart-1/confirm', web, 200, { orderId: 'ext-1' });
      await call('post', '/v1/reservations', web, 201, { ...hold, reservationId: 'cart-2' });
      await call('delete', '/v1/reservations/cart-2', web, 200);
      await call('delete', '/v1/reservations/cart-9', web, 404);

      // Configuration.
      const rules = await call('get', '/v1/config/rules', admin, 200);
      await call('put', '/v1/config/rules', admin, 200, rules);
      await call('get', '/v1/config/rules', web, 403);
      const locations = await call('get', '/v1/config/locations', admin, 200);
      await call('put', '/v1/config/locations', admin, 200, locations);
      await call('put', '/v1/config/locations', admin, 400, [{ id: 'x' }]);
      const products = await call('get', '/v1/config/products', admin, 200);
      await call('put', '/v1/config/products', admin, 200, products);

      // Orders and fulfilments.
      const placed = (await call('post', '/v1/orders', web, 201, order('o-1', 'SKU-3', 2), {
        'idempotency-key': 'checkout-1',
      })) as { fulfilments: { fulfilmentId: string }[] };
      await call('post', '/v1/orders', web, 200, order('o-1', 'SKU-3', 2), {
        'idempotency-key': 'checkout-1',
      });
      await call('post', '/v1/orders', web, 409, order('o-1', 'SKU-3', 1));
      await call('post', '/v1/orders', web, 409, order('o-2', 'SKU-3', 9_999));
      await call('post', '/v1/orders', web, 400, { orderId: 'o-3' });
      await call('post', '/v1/orders', dc1, 403, order('o-4', 'SKU-3', 1));
      await call('get', '/v1/orders/o-1', web, 200);
      // The ERP's reconciliation of today (UTC): o-1's shipment, return and credit note.
      const today = new Date().toISOString().slice(0, 10);
      await call('get', `/v1/erp/reconciliation?day=${today}`, admin, 200);
      await call('get', `/v1/erp/reconciliation?day=${today}&location=dc1`, admin, 200);
      await call('get', '/v1/erp/reconciliation?day=2026-02-30', admin, 400);
      await call('get', '/v1/erp/reconciliation', admin, 400);
      await call('get', `/v1/erp/reconciliation?day=${today}&location=nowhere`, admin, 404);
      await call('get', `/v1/erp/reconciliation?day=${today}`, web, 403);
      await call('get', '/v1/orders/o-404', web, 404);
      const f = placed.fulfilments[0]?.fulfilmentId ?? '';
      await call('get', '/v1/fulfilments?location=dc1', admin, 200);
      await call('get', '/v1/fulfilments', dc1, 200);
      await call('get', '/v1/fulfilments', admin, 400);
      await call('get', `/v1/fulfilments/${encodeURIComponent(f)}`, dc1, 200);
      await call('get', '/v1/fulfilments/f-404', dc1, 404);
      await call('post', `/v1/fulfilments/${encodeURIComponent(f)}/answers`, dc1, 200, {
        type: 'accepted',
      });
      await call('post', `/v1/fulfilments/${encodeURIComponent(f)}/answers`, dc1, 400, {
        type: 'maybe',
      });
      // Returns: o-1 ships from dc1, comes back (in part) and is refunded.
      await call('post', `/v1/fulfilments/${encodeURIComponent(f)}/answers`, dc1, 200, {
        type: 'shipped',
        carrier: 'UPS',
        tracking: '1Z-ops',
      });
      const rma = { returnId: 'rma-1', lines: [{ lineId: '1', qty: 2, reason: 'size' }] };
      await call('post', '/v1/orders/o-1/returns', web, 201, rma);
      await call('post', '/v1/orders/o-1/returns', web, 200, rma);
      await call('post', '/v1/orders/o-1/returns', web, 409, { ...rma, returnId: 'rma-2' });
      await call('post', '/v1/orders/o-1/returns', web, 400, { returnId: 'rma-3' });
      await call('post', '/v1/orders/o-1/returns', dc1, 403, rma);
      await call('get', '/v1/returns/rma-1', web, 200);
      await call('get', '/v1/returns/rma-1', dc1, 200);
      await call('get', '/v1/returns/rma-404', web, 404);
      const receipt = {
        receiptId: 'rc-1',
        lines: [
          { lineId: '1', disposition: 'restock', qty: 1 },
          { lineId: '1', disposition: 'refurbish', qty: 1 },
        ],
      };
      await call('post', '/v1/returns/rma-1/receipts', dc1, 200, receipt);
      await call('post', '/v1/returns/rma-1/receipts', dc1, 200, receipt);
      await call('post', '/v1/returns/rma-1/receipts', web, 403, receipt);
      await call('post', '/v1/returns/rma-404/receipts', dc1, 404, receipt);
      await call('get', '/v1/returns', dc1, 200);
      await call('get', '/v1/returns?location=dc1', admin, 200);
      await call('get', '/v1/returns', admin, 400);
      await call('post', '/v1/returns/rma-1/holds', dc1, 200, {
        resolutionId: 'h-1',
        lineId: '1',
        from: 'refurbish',
        to: 'restock',
        qty: 1,
      });
      await call('post', '/v1/returns/rma-1/holds', dc1, 409, {
        resolutionId: 'h-2',
        lineId: '1',
        from: 'refurbish',
        to: 'write_off',
        qty: 1,
      });
      await call('post', '/v1/returns/rma-1/refunds', web, 201, { creditNoteId: 'cn-1' });
      await call('post', '/v1/returns/rma-1/refunds', web, 200, { creditNoteId: 'cn-1' });
      await call('post', '/v1/returns/rma-1/refunds', web, 409, { creditNoteId: 'cn-2' });
      await call('get', '/v1/orders/o-1', web, 200);

      // An exchange: o-6 ships, one unit comes back with another in its place, which becomes
      // the order o-6~x~rma-x when the parcel arrives.
      const six = (await call('post', '/v1/orders', web, 201, order('o-6', 'SKU-4', 2))) as {
        fulfilments: { fulfilmentId: string }[];
      };
      const f6 = encodeURIComponent(six.fulfilments[0]?.fulfilmentId ?? '');
      await call('post', `/v1/fulfilments/${f6}/answers`, dc1, 200, {
        type: 'shipped',
        tracking: '1Z-six',
      });
      const swap = {
        returnId: 'rma-x',
        lines: [{ lineId: '1', qty: 1, reason: 'size' }],
        exchange: { lines: [{ sku: 'SKU-2', qty: 1, unitPrice: 1_000 }] },
      };
      await call('post', '/v1/orders/o-6/returns', web, 409, {
        ...swap,
        exchange: { lines: [{ sku: 'SKU-2', qty: 2, unitPrice: 1_000 }] },
      });
      await call('post', '/v1/orders/o-6/returns', web, 201, swap);
      await call('post', '/v1/returns/rma-x/refunds', web, 409, { creditNoteId: 'cn-x0' });
      await call('post', '/v1/returns/rma-x/receipts', dc1, 200, {
        receiptId: 'rc-x',
        lines: [{ lineId: '1', disposition: 'restock', qty: 1 }],
      });
      const exchange = (await call('get', '/v1/orders/o-6~x~rma-x', web, 200)) as {
        exchangeFor: unknown;
      };
      expect(exchange.exchangeFor).toEqual({ orderId: 'o-6', returnId: 'rma-x' });
      const x = (await call('get', '/v1/returns/rma-x', web, 200)) as {
        return: { exchangeOrderId: string | null };
      };
      expect(x.return.exchangeOrderId).toBe('o-6~x~rma-x');
      await call('post', '/v1/returns/rma-x/refunds', web, 201, { creditNoteId: 'cn-x' });
      await call('post', '/v1/orders', web, 400, order('a~x~b', 'SKU-4', 1));

      await call('post', '/v1/orders', web, 201, order('o-5', 'SKU-4', 1));
      await call('post', '/v1/orders/o-5/cancel', web, 200, { reason: 'changed mind' });
      await call('post', '/v1/orders/o-5/cancel', web, 400, { lines: [] });
      await call('get', '/v1/orders?limit=10', admin, 200);
      await call('get', '/v1/orders', web, 200);
      await call('get', '/v1/orders?limit=0', admin, 400);
      await call('get', '/v1/orders', dc1, 403);

      // The console's reads.
      await call('get', '/v1/console/session', admin, 200);
      await call('get', '/v1/console/session', dc1, 200);
      await call('get', '/v1/console/stats', admin, 200);
      await call('get', '/v1/console/stats', web, 403);

      // Over the rate limit (the bucket holds 200, refilled at 100 a second).
      const a = api(server.base);
      const path = '/v1/availability?channel=web&sku=SKU-1';
      const burstAnswers = await Promise.all(
        Array.from({ length: 400 }, () => a.request('GET', path, burst)),
      );
      const limited = burstAnswers.find((r) => r.status === 429);
      expect(limited, 'a 429 in the burst').toBeDefined();
      if (limited !== undefined) {
        expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
        await answered('get', path, '/v1/availability', 429, limited);
      }
      for (const r of burstAnswers) if (!r.bodyUsed) await r.text();

      // Every documented operation was seen succeeding.
      const succeeded = new Set(
        seen
          .filter((s) => s.status < 300 || s.status === 101)
          .map((s) => `${s.method} ${s.template}`),
      );
      const unseen = spec
        .operations()
        .map((o) => `${o.method} ${o.path}`)
        .filter((o) => !succeeded.has(o));
      expect(unseen, 'documented operations never answered with success').toEqual([]);
    });

    it('serves exactly the documented methods on every documented path', async () => {
      if (server === null) throw new Error('no server');
      const served: string[] = [];
      for (const path of Object.keys(spec.spec.paths)) {
        const concrete = path.replace(/\{\w+\}/g, 'x');
        for (const method of METHODS) {
          let status: number;
          let body: string;
          if (path === '/v1/ws' && method === 'get') {
            ({ status, body } = await upgrade(server.port, null));
          } else {
            const res = await fetch(`${server.base}${concrete}`, { method: method.toUpperCase() });
            status = res.status;
            body = await res.text();
          }
          if (!isNoRoute(status, body)) served.push(`${method} ${path}`);
        }
      }
      const documented = spec.operations().map((o) => `${o.method} ${o.path}`);
      expect(served.sort()).toEqual(documented.sort());
    });
  });
});
