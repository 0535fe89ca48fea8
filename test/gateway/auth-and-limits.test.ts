import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, loadStock, start, UpgradeRefused, type Running } from './harness.ts';

let r: Running;
beforeAll(async () => {
  r = await start({
    gateway: { allowedOrigins: ['https://shop.example'], maxSubscriptionsPerConnection: 3 },
  });
  await loadStock(r, 'dc1', { 'sku-1': 10, 'sku-2': 10 }, 1);
});
afterAll(async () => {
  await r.stop();
});

async function refused(promise: Promise<Client>): Promise<number> {
  try {
    const c = await promise;
    await c.close();
    return 101;
  } catch (error) {
    if (error instanceof UpgradeRefused) return error.status;
    throw error;
  }
}

describe('WebSocket upgrade', () => {
  it('answers 401 before upgrading without a key or with a bad key', async () => {
    expect(await refused(Client.connect(r.port, { key: null }))).toBe(401);
    expect(await refused(Client.connect(r.port, { key: 'not-a-key-at-all-00000' }))).toBe(401);
    expect(await refused(Client.connect(r.port, { key: `${KEYS.web}x` }))).toBe(401);
  });

  it('answers 403 for a location key (no order service here) and for an origin not allowed', async () => {
    expect(await refused(Client.connect(r.port, { key: KEYS.dc1 }))).toBe(403);
    const evil = Client.connect(r.port, {
      key: KEYS.web,
      headers: { origin: 'https://evil.example' },
    });
    expect(await refused(evil)).toBe(403);
    const good = Client.connect(r.port, {
      key: KEYS.web,
      headers: { origin: 'https://shop.example' },
    });
    expect(await refused(good)).toBe(101);
  });

  it('takes the key from x-api-key, ?apiKey= or the key.<key> subprotocol, echoing stockflow.v1', async () => {
    const header = await Client.connect(r.port, { key: null, headers: { 'x-api-key': KEYS.web } });
    await header.close();
    const query = await Client.connect(r.port, { key: null, query: `?apiKey=${KEYS.web}` });
    await query.close();
    const proto = await Client.connect(r.port, {
      key: null,
      protocols: ['stockflow.v1', `key.${KEYS.web}`],
    });
    expect(proto.ws.protocol).toBe('stockflow.v1');
    const sub = await proto.request({ op: 'subscribe', topics: ['availability:web:sku-1'] });
    expect(sub.op).toBe('subscribe');
    await proto.close();
  });
});

describe('roles', () => {
  it('keeps a storefront to its own channel', async () => {
    const web = await Client.connect(r.port, { key: KEYS.web });
    const other = await web.request({ op: 'subscribe', topics: ['availability:app:sku-1'] });
    expect(other).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    const reserve = await web.request({
      op: 'reserve',
      reservationId: 'r-app',
      channel: 'app',
      sku: 'sku-1',
      qty: 1,
    });
    expect(reserve).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    const http = await r.http('/v1/availability?channel=app&sku=sku-1', { key: KEYS.web });
    expect(http.status).toBe(403);

    // The app storefront's reservation cannot be released or confirmed by the web storefront.
    const app = await Client.connect(r.port, { key: KEYS.app });
    const held = await app.request({
      op: 'reserve',
      reservationId: 'r-app-1',
      channel: 'app',
      sku: 'sku-1',
      qty: 1,
    });
    expect(held).toMatchObject({ op: 'reserve', state: 'held' });
    const steal = await web.request({ op: 'release', reservationId: 'r-app-1' });
    expect(steal).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    const stealHttp = await r.http('/v1/reservations/r-app-1', { method: 'DELETE', key: KEYS.web });
    expect(stealHttp.status).toBe(403);
    const own = await app.request({ op: 'release', reservationId: 'r-app-1' });
    expect(own).toMatchObject({ op: 'release', state: 'released' });
    await web.close();
    await app.close();
  });

  it('keeps a location key to its own location and out of configuration', async () => {
    const other = await r.http('/v1/inventory/snapshots?location=store1&asOf=1', {
      method: 'POST',
      key: KEYS.dc1,
      headers: { 'content-type': 'text/csv' },
      body: 'sku,onHand\nsku-1,5\n',
    });
    expect(other.status).toBe(403);
    const adjust = await r.http('/v1/inventory/adjustments', {
      method: 'POST',
      key: KEYS.dc1,
      body: JSON.stringify([
        { adjustmentId: 'a1', sku: 'sku-1', location: 'dc1', delta: 1 },
        { adjustmentId: 'a2', sku: 'sku-1', location: 'store1', delta: 1 },
      ]),
    });
    expect(adjust.status).toBe(403);
    expect(r.engine.position('sku-1', 'dc1')?.onHand).toBe(10);
    const rules = await r.http('/v1/config/rules', { key: KEYS.dc1 });
    expect(rules.status).toBe(403);
    const reserve = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.dc1,
      body: JSON.stringify({ reservationId: 'x', channel: 'web', sku: 'sku-1', qty: 1 }),
    });
    expect(reserve.status).toBe(403);
  });

  it('keeps storefronts out of stock feeds and configuration', async () => {
    const snapshot = await r.http('/v1/inventory/snapshots?location=dc1&asOf=9', {
      method: 'POST',
      key: KEYS.web,
      headers: { 'content-type': 'text/csv' },
      body: 'sku,onHand\n',
    });
    expect(snapshot.status).toBe(403);
    const put = await r.http('/v1/config/products', {
      method: 'PUT',
      key: KEYS.web,
      body: JSON.stringify([{ sku: 'x' }]),
    });
    expect(put.status).toBe(403);
    expect((await r.http('/v1/availability?channel=web&sku=sku-1', { key: null })).status).toBe(
      401,
    );
    expect(
      (await r.http('/v1/availability?channel=web&sku=sku-1', { key: 'wrong-key-000000000000' }))
        .status,
    ).toBe(401);
  });
});

describe('limits', () => {
  it('caps subscriptions per connection', async () => {
    const c = await Client.connect(r.port, { key: KEYS.web });
    const topics = ['sku-1', 'sku-2', 'sku-3', 'sku-4'].map((s) => `availability:web:${s}`);
    const over = await c.request({ op: 'subscribe', topics });
    expect(over).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    const ok = await c.request({ op: 'subscribe', topics: topics.slice(0, 3) });
    expect(ok.op).toBe('subscribe');
    const again = await c.request({ op: 'subscribe', topics: topics.slice(0, 3) });
    expect(again.op).toBe('subscribe');
    const more = await c.request({ op: 'subscribe', topics: topics.slice(3) });
    expect(more).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    const bad = await c.request({ op: 'subscribe', topics: ['availability:web'] });
    expect(bad).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    const unknown = await c.request({ op: 'unsubscribe', topics: [topics[0]] });
    expect(unknown.topics).toEqual([topics[0]]);
    const missing = await c.request({ op: 'subscribe', topics: ['availability:web:sku-404'] });
    expect(missing).toMatchObject({ op: 'error', code: 'NOT_FOUND' });
    await c.close();
  });

  it('rate-limits per key with RATE_LIMITED (WebSocket) and 429 + Retry-After (HTTP)', async () => {
    const limited = await start({ gateway: { rateLimit: { perSecond: 0.001, burst: 5 } } });
    try {
      const c = await Client.connect(limited.port, { key: KEYS.web });
      const codes: string[] = [];
      for (let i = 0; i < 7; i++) {
        const reply = await c.request({ op: 'subscribe', topics: ['availability:web:sku-1'] });
        codes.push(reply.op === 'error' ? (reply.code as string) : 'ok');
      }
      expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
      const http = await limited.http('/v1/availability?channel=web&sku=sku-1', { key: KEYS.web });
      expect(http.status).toBe(429);
      expect(Number(http.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Another key has its own bucket.
      const app = await limited.http('/v1/availability?channel=app&sku=sku-1', { key: KEYS.app });
      expect(app.status).toBe(200);
      await c.close();
    } finally {
      await limited.stop();
    }
  });
});
