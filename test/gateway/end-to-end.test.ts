import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, loadStock, start, type Running } from './harness.ts';

let r: Running;
beforeAll(async () => {
  r = await start({ skus: 40 });
});
afterAll(async () => {
  await r.stop();
});

describe('stock feeds over HTTP', () => {
  it('ingests an NDJSON snapshot; what it does not list goes to zero', async () => {
    await loadStock(r, 'store2', { 'sku-1': 4, 'sku-2': 9 }, 1);
    expect(r.engine.position('sku-2', 'store2')?.onHand).toBe(9);
    const res = await r.http('/v1/inventory/snapshots?location=store2&asOf=2', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"sku":"sku-1","onHand":5}\n\n',
    });
    expect(res.status).toBe(200);
    const summary = (await res.json()) as Record<string, unknown>;
    expect(summary).toMatchObject({ location: 'store2', applied: 2, zeroed: 1, rejected: 0 });
    expect(r.engine.position('sku-1', 'store2')?.onHand).toBe(5);
    expect(r.engine.position('sku-2', 'store2')?.onHand).toBe(0);
  });

  it('ingests a CSV snapshot streamed in small chunks', async () => {
    const lines = ['sku,onHand', ...Array.from({ length: 10 }, (_, i) => `sku-${i + 1},${i}`)];
    const bytes = new TextEncoder().encode(lines.join('\r\n') + '\r\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
        controller.close();
      },
    });
    const res = await r.http('/v1/inventory/snapshots?location=store1&asOf=1', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ applied: 10, rejected: 0 });
    expect(r.engine.position('sku-10', 'store1')?.onHand).toBe(9);
  });

  it('refuses a snapshot with a bad line and applies nothing', async () => {
    const res = await r.http('/v1/inventory/snapshots?location=store1&asOf=5', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'sku,onHand\nsku-1,3\nsku-2,-4\n',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect(r.engine.position('sku-1', 'store1')?.onHand).toBe(0);
  });

  it('answers 415 for an unknown content type and 413 beyond the body limit', async () => {
    const wrongType = await r.http('/v1/inventory/snapshots?location=store1&asOf=6', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    expect(wrongType.status).toBe(415);
    const big = await start({ gateway: { httpBodyLimitBytes: 2_048 } });
    try {
      const res = await big.http('/v1/inventory/snapshots?location=store1&asOf=1', {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: 'sku,onHand\n' + 'sku-1,1\n'.repeat(400),
      });
      expect(res.status).toBe(413);
    } finally {
      await big.stop();
    }
  });

  it('applies adjustments idempotently', async () => {
    const body = JSON.stringify([
      { adjustmentId: 'adj-1', sku: 'sku-3', location: 'dc1', delta: 7 },
      { adjustmentId: 'adj-2', sku: 'nope', location: 'dc1', delta: 1 },
    ]);
    const first = await r.http('/v1/inventory/adjustments', {
      method: 'POST',
      body,
      key: KEYS.dc1,
    });
    expect(first.status).toBe(200);
    const results = (await first.json()) as Record<string, unknown>[];
    expect(results[0]).toMatchObject({ adjustmentId: 'adj-1', ok: true, applied: true });
    expect(results[1]).toMatchObject({ adjustmentId: 'adj-2', ok: false, code: 'NOT_FOUND' });
    const again = await r.http('/v1/inventory/adjustments', {
      method: 'POST',
      body,
      key: KEYS.dc1,
    });
    expect(((await again.json()) as Record<string, unknown>[])[0]).toMatchObject({
      duplicate: true,
    });
    expect(r.engine.position('sku-3', 'dc1')?.onHand).toBe(7);
  });
});

describe.each([
  ['JSON', false],
  ['msgpack', true],
])('live availability and reservations (%s client)', (_name, binary) => {
  it('subscribes, reserves, sees the delta, releases, sees it again', async () => {
    const sku = binary ? 'sku-12' : 'sku-11';
    await loadStock(r, 'dc1', { [sku]: 10 }, binary ? 10 : 11);
    const shopper = await Client.connect(r.port, { key: KEYS.web, binary });
    const watcher = await Client.connect(r.port, { key: KEYS.web, binary });
    const network = `availability:web:${sku}`;
    const atDc = `availability:web:${sku}@dc1`;
    const sub = await watcher.request({ op: 'subscribe', topics: [network, atDc] });
    expect(sub.op).toBe('subscribe');
    const snaps = sub.snapshots as { topic: string; available: number; seq: number }[];
    expect(snaps.map((s) => [s.topic, s.available])).toEqual([
      [network, 10],
      [atDc, 10],
    ]);

    const held = await shopper.request({
      op: 'reserve',
      reservationId: `cart-${sku}`,
      channel: 'web',
      sku,
      qty: 3,
    });
    expect(held).toMatchObject({ op: 'reserve', state: 'held', qty: 3, duplicate: false });
    expect(held.lines).toEqual([{ location: 'dc1', qty: 3 }]);
    const down = await watcher.delta(network, (a) => a === 7);
    expect(down.seq).toBe((snaps[0]?.seq ?? 0) + 1);
    await watcher.delta(atDc, (a) => a === 7);

    const retry = await shopper.request({
      op: 'reserve',
      reservationId: `cart-${sku}`,
      channel: 'web',
      sku,
      qty: 3,
    });
    expect(retry).toMatchObject({ op: 'reserve', duplicate: true });

    const released = await shopper.request({ op: 'release', reservationId: `cart-${sku}` });
    expect(released).toMatchObject({ op: 'release', state: 'released' });
    await watcher.delta(network, (a) => a === 10);

    const unsub = await watcher.request({ op: 'unsubscribe', topics: [network, 'nope'] });
    expect(unsub.topics).toEqual([network]);
    await shopper.close();
    await watcher.close();
  });

  it('answers INSUFFICIENT_STOCK with what is available, and a batch in order', async () => {
    const sku = binary ? 'sku-14' : 'sku-13';
    await loadStock(r, 'dc1', { [sku]: 2 }, binary ? 20 : 21);
    const c = await Client.connect(r.port, { key: KEYS.web, binary });
    const tooMany = await c.request({
      op: 'reserve',
      reservationId: `big-${sku}`,
      channel: 'web',
      sku,
      qty: 5,
    });
    expect(tooMany).toMatchObject({ op: 'error', code: 'INSUFFICIENT_STOCK', available: 2 });
    const batch = await c.request({
      op: 'batch',
      ops: [
        { op: 'reserve', id: 'a', reservationId: `b1-${sku}`, channel: 'web', sku, qty: 1 },
        { op: 'reserve', id: 'b', reservationId: `b2-${sku}`, channel: 'web', sku, qty: 2 },
        { op: 'reserve', reservationId: `b3-${sku}`, channel: 'app', sku, qty: 1 },
        { op: 'explode' },
      ],
    });
    const results = batch.results as Record<string, unknown>[];
    expect(batch.op).toBe('batch');
    expect(results).toHaveLength(4);
    expect(results[0]).toMatchObject({ op: 'reserve', id: 'a', state: 'held' });
    expect(results[1]).toMatchObject({ op: 'error', id: 'b', code: 'INSUFFICIENT_STOCK' });
    expect(results[2]).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    expect(results[3]).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    const confirmed = await c.request({
      op: 'confirm',
      reservationId: `b1-${sku}`,
      orderId: `order-${sku}`,
    });
    expect(confirmed).toMatchObject({ op: 'confirm', state: 'confirmed', orderId: `order-${sku}` });
    await c.close();
  });
});

describe('HTTP reservations, availability and configuration', () => {
  it('reserves, reads availability, confirms and releases over HTTP', async () => {
    await loadStock(r, 'dc1', { 'sku-20': 6 }, 30);
    const reserve = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ reservationId: 'h-1', channel: 'web', sku: 'sku-20', qty: 2 }),
    });
    expect(reserve.status).toBe(201);
    expect(await reserve.json()).toMatchObject({ reservationId: 'h-1', state: 'held' });
    const avail = await r.http('/v1/availability?channel=web&sku=sku-20', { key: KEYS.web });
    expect(await avail.json()).toEqual({
      channel: 'web',
      sku: 'sku-20',
      location: null,
      available: 4,
    });
    const bopis = await r.http('/v1/availability?channel=web&sku=sku-20&location=dc1', {
      key: KEYS.web,
    });
    expect(await bopis.json()).toMatchObject({ location: 'dc1', available: 4 });
    const tooMany = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ reservationId: 'h-2', channel: 'web', sku: 'sku-20', qty: 9 }),
    });
    expect(tooMany.status).toBe(409);
    expect(await tooMany.json()).toMatchObject({ code: 'INSUFFICIENT_STOCK', available: 4 });
    const confirm = await r.http('/v1/reservations/h-1/confirm', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ orderId: 'o-1' }),
    });
    expect(confirm.status).toBe(200);
    expect(await confirm.json()).toMatchObject({ state: 'confirmed', orderId: 'o-1' });
    const release = await r.http('/v1/reservations/h-1', { method: 'DELETE', key: KEYS.web });
    expect(release.status).toBe(409);
    expect(await release.json()).toMatchObject({ code: 'CONFLICT' });
    const unknown = await r.http('/v1/reservations/none', { method: 'DELETE', key: KEYS.web });
    expect(unknown.status).toBe(404);
  });

  it('answers clear errors for bad requests', async () => {
    const badJson = await r.http('/v1/reservations', { method: 'POST', key: KEYS.web, body: '{' });
    expect(badJson.status).toBe(400);
    const badShape = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ reservationId: 'x', channel: 'web', sku: 'sku-1', qty: 'two' }),
    });
    expect(badShape.status).toBe(400);
    expect(await badShape.json()).toMatchObject({ code: 'BAD_REQUEST', reason: null });
    const proto = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.web,
      body: '{"__proto__":{"polluted":true},"reservationId":"x","channel":"web","sku":"sku-1","qty":1}',
    });
    expect(proto.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const missing = await r.http('/v1/availability?channel=web', { key: KEYS.web });
    expect(missing.status).toBe(400);
    const unknownSku = await r.http('/v1/availability?channel=web&sku=zzz', { key: KEYS.web });
    expect(unknownSku.status).toBe(404);
    const noRoute = await r.http('/v2/nothing');
    expect(noRoute.status).toBe(404);
  });

  it('reads and replaces rules, locations and products (admin)', async () => {
    const rules = await r.http('/v1/config/rules');
    expect(rules.status).toBe(200);
    expect(await rules.json()).toEqual(RULES_BACK);
    const current = { version: Number(rules.headers.get('x-stockflow-rules-version')) };
    expect(current.version).toBeGreaterThanOrEqual(1);
    const next = {
      channels: [
        { id: 'web', priority: 1 },
        { id: 'app', priority: 2 },
      ],
      buffers: [{ channel: 'app', units: 1 }],
    };
    const put = await r.http('/v1/config/rules', { method: 'PUT', body: JSON.stringify(next) });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ version: current.version + 1 });
    const invalid = await r.http('/v1/config/rules', {
      method: 'PUT',
      body: JSON.stringify({ channels: [] }),
    });
    expect(invalid.status).toBe(400);
    const duplicate = await r.http('/v1/config/rules', {
      method: 'PUT',
      body: JSON.stringify({
        channels: [
          { id: 'web', priority: 1 },
          { id: 'web', priority: 2 },
        ],
      }),
    });
    expect(duplicate.status).toBe(400);
    expect(await duplicate.json()).toMatchObject({ code: 'BAD_REQUEST' });
    const restore = await r.http('/v1/config/rules', {
      method: 'PUT',
      body: JSON.stringify(RULES_BACK),
    });
    expect(restore.status).toBe(200);

    const locations = await r.http('/v1/config/locations', {
      method: 'PUT',
      body: JSON.stringify([{ id: 'store3', type: 'store', name: 'Store 3', lat: 52.1, lon: 4.3 }]),
    });
    expect(locations.status).toBe(200);
    const list = (await (await r.http('/v1/config/locations')).json()) as { id: string }[];
    expect(list.map((l) => l.id)).toContain('store3');
    const products = await r.http('/v1/config/products', {
      method: 'PUT',
      body: JSON.stringify([{ sku: 'sku-new', group: 'toys' }]),
    });
    expect(products.status).toBe(200);
    const skus = (await (await r.http('/v1/config/products')).json()) as { sku: string }[];
    expect(skus).toContainEqual({ sku: 'sku-new', group: 'toys' });
  });

  it('serves health and readiness', async () => {
    expect((await r.http('/healthz', { key: null })).status).toBe(200);
    const ready = await r.http('/readyz', { key: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, closing: false });
  });
});

const RULES_BACK = {
  channels: [
    { id: 'web', priority: 1 },
    { id: 'app', priority: 2 },
  ],
};
