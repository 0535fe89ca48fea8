import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  KEYS,
  loadStock,
  orderService,
  start,
  type Message,
  type Running,
} from './harness.ts';

let r: Running;
beforeAll(async () => {
  r = await start({ orders: orderService });
  await loadStock(r, 'dc1', { 'sku-1': 50 }, 1);
});
afterAll(async () => {
  await r.stop();
});

const LONG = 'x'.repeat(10_000);
const AT_LIMIT = 'y'.repeat(128);
const OVER = 'z'.repeat(129);

const RESERVE = { op: 'reserve', reservationId: 'fl-1', channel: 'web', sku: 'sku-1', qty: 1 };

function expectInvalidId(reply: Message | Record<string, unknown>): void {
  expect(reply).toMatchObject({ code: 'BAD_REQUEST', reason: 'INVALID_ID' });
}

describe('id fields are length-checked before anything else', () => {
  it('answers a 10,000-character channel BAD_REQUEST, not FORBIDDEN, to a storefront key', async () => {
    const c = await Client.connect(r.port, { key: KEYS.web });
    expectInvalidId(await c.request({ ...RESERVE, channel: LONG }));
    // A channel of the right length that is not the key's own is still FORBIDDEN.
    const foreign = await c.request({ ...RESERVE, channel: 'app' });
    expect(foreign).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    await c.close();
  });

  it('checks every id field of reserve, release and confirm, alone and in a batch', async () => {
    const c = await Client.connect(r.port, { key: KEYS.web, binary: true });
    const bad = [
      { ...RESERVE, reservationId: OVER },
      { ...RESERVE, sku: OVER },
      { ...RESERVE, location: OVER },
      { ...RESERVE, reservationId: '' },
      { op: 'release', reservationId: OVER },
      { op: 'confirm', reservationId: OVER, orderId: 'o-1' },
      { op: 'confirm', reservationId: 'fl-1', orderId: OVER },
    ];
    for (const frame of bad) expectInvalidId(await c.request(frame));
    const batch = await c.request({ op: 'batch', ops: bad });
    const results = batch.results as Record<string, unknown>[];
    expect(results).toHaveLength(bad.length);
    for (const result of results) expectInvalidId(result);
    // At the limit an id is fine: the reserve is granted.
    const ok = await c.request({ ...RESERVE, reservationId: AT_LIMIT });
    expect(ok).toMatchObject({ op: 'reserve', state: 'held', reservationId: AT_LIMIT });
    await c.close();
  });

  it('refuses an over-long id of a location key BAD_REQUEST before telling it reservations are not its', async () => {
    const c = await Client.connect(r.port, { key: KEYS.dc1 });
    expectInvalidId(await c.request({ op: 'release', reservationId: LONG }));
    const short = await c.request({ op: 'release', reservationId: 'fl-1' });
    expect(short).toMatchObject({ code: 'FORBIDDEN' });
    await c.close();
    const res = await r.http(`/v1/reservations/${OVER}`, { method: 'DELETE', key: KEYS.dc1 });
    expect(res.status).toBe(400);
    expectInvalidId((await res.json()) as Record<string, unknown>);
  });

  it('checks the same fields over HTTP: reservations, availability, stock feeds', async () => {
    const reserve = await r.http('/v1/reservations', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ reservationId: 'fl-h', channel: LONG, sku: 'sku-1', qty: 1 }),
    });
    expect(reserve.status).toBe(400);
    expectInvalidId((await reserve.json()) as Record<string, unknown>);

    const confirm = await r.http('/v1/reservations/fl-h/confirm', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({ orderId: OVER }),
    });
    expect(confirm.status).toBe(400);
    expectInvalidId((await confirm.json()) as Record<string, unknown>);

    const read = await r.http(`/v1/availability?channel=${LONG}&sku=sku-1`, { key: KEYS.web });
    expect(read.status).toBe(400);
    expectInvalidId((await read.json()) as Record<string, unknown>);

    const feed = await r.http(`/v1/inventory/snapshots?location=${OVER}&asOf=2`, {
      method: 'POST',
      key: KEYS.dc1,
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"sku":"sku-1","onHand":1}\n',
    });
    expect(feed.status).toBe(400);
    expectInvalidId((await feed.json()) as Record<string, unknown>);

    const adjust = await r.http('/v1/inventory/adjustments', {
      method: 'POST',
      key: KEYS.dc1,
      body: JSON.stringify([{ adjustmentId: 'a-1', sku: 'sku-1', location: LONG, delta: 1 }]),
    });
    expect(adjust.status).toBe(400);
    expectInvalidId((await adjust.json()) as Record<string, unknown>);
  });
});
