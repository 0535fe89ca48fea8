import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StockEngine } from '../../engine/index.ts';
import { createGateway, type Gateway } from '../../gateway/index.ts';
import { FileStore, recover } from '../../persistence/index.ts';
import { tempDir } from '../persistence/engine-fixture.ts';
import {
  gatewayConfig,
  KEYS,
  LOCATIONS,
  loadStock,
  RULES,
  start,
  type Running,
} from './harness.ts';

interface Result {
  feedId: string;
  kind: string;
  status: string;
  lines: number;
  rows: number;
  applied: number;
  unchanged: number;
  rejected: number;
  duplicate: boolean;
  rejectedRows: { line: number; sku: string | null; code: string; reason: string }[];
  code?: string;
  reason?: string;
  message?: string;
}

const silent = pino({ level: 'silent' });
const ndjson = (rows: object[]): string => rows.map((x) => JSON.stringify(x)).join('\n');

async function send(
  r: Pick<Running, 'http'>,
  kind: 'products' | 'locations',
  query: string,
  body: string,
  options: { type?: string; key?: string } = {},
): Promise<{ status: number; body: Result }> {
  const res = await r.http(`/v1/master/${kind}?${query}`, {
    method: 'POST',
    key: options.key ?? KEYS.admin,
    headers: { 'content-type': options.type ?? 'application/x-ndjson' },
    body,
  });
  return { status: res.status, body: (await res.json()) as Result };
}

async function availability(
  r: Pick<Running, 'http'>,
  sku: string,
  location: string | null = null,
  channel: 'web' | 'app' = 'web',
): Promise<number> {
  const where = location === null ? '' : `&location=${location}`;
  const res = await r.http(`/v1/availability?channel=${channel}&sku=${sku}${where}`, {
    key: channel === 'web' ? KEYS.web : KEYS.app,
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { available: number };
  return body.available;
}

describe('master data feeds through the gateway', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start({ skus: 5 });
  });
  afterAll(async () => {
    await r.stop();
  });

  it('upserts products from NDJSON, counts unchanged rows and rejects bad ones by line', async () => {
    const res = await send(
      r,
      'products',
      'feedId=p1',
      ndjson([
        { sku: 'new-1', group: 'shoes', attributes: { color: 'red' }, prices: { EUR: 1999 } },
        { sku: 'sku-1' },
        { sku: 'bad:sku', group: 'x' },
        { sku: 'new-2', prices: { euro: 5 } },
        { sku: 'new-3', colour: 'blue' },
        { sku: 'new-4', prices: { USD: -1 } },
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      kind: 'products',
      status: 'completed',
      lines: 6,
      rows: 4,
      applied: 1,
      unchanged: 1,
      rejected: 4,
      duplicate: false,
    });
    expect(res.body.rejectedRows.map((row) => [row.line, row.sku])).toEqual([
      [3, null],
      [4, 'new-2'],
      [5, 'new-3'],
      [6, 'new-4'],
    ]);
    expect(res.body.rejectedRows[0]?.reason).toMatch(/sku must be/);
    expect(res.body.rejectedRows[1]?.reason).toMatch(/ISO 4217/);
    expect(res.body.rejectedRows[2]?.reason).toBe('unknown field colour');
    expect(res.body.rejectedRows[3]?.reason).toMatch(/minor units >= 0/);
    expect(r.engine.product('new-1')).toEqual({
      sku: 'new-1',
      group: 'shoes',
      attributes: { color: 'red' },
      prices: { EUR: 1999 },
    });
    expect(r.engine.product('new-2')).toBeNull();

    const read = await r.http('/v1/master/feeds/p1');
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ feedId: 'p1', applied: 1, rejected: 4 });
  });

  it('reads CSV with attr. and price. columns; an empty cell removes that attribute', async () => {
    const csv = [
      'sku,group,attr.color,attr.size,price.EUR,price.USD',
      'new-1,shoes,blue,,2499,2999',
      'new-5,,green,M,100,',
      'new-6,bags,red,L,ten,',
      'new-7,bags',
    ].join('\n');
    const res = await send(r, 'products', 'feedId=p2&format=csv', csv, { type: 'text/plain' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ lines: 5, applied: 2, rejected: 2 });
    expect(res.body.rejectedRows).toEqual([
      { line: 4, sku: 'new-6', code: 'BAD_REQUEST', reason: 'price.EUR must be a whole number' },
      { line: 5, sku: 'new-7', code: 'BAD_REQUEST', reason: 'expected 6 fields, got 2' },
    ]);
    expect(r.engine.product('new-1')).toEqual({
      sku: 'new-1',
      group: 'shoes',
      attributes: { color: 'blue' },
      prices: { EUR: 2499, USD: 2999 },
    });
    expect(r.engine.product('new-5')).toEqual({
      sku: 'new-5',
      attributes: { color: 'green', size: 'M' },
      prices: { EUR: 100 },
    });
  });

  it('answers the same feed again with its result, and another body under its id with CONFLICT', async () => {
    const body = ndjson([{ sku: 'new-8', group: 'hats' }]);
    const first = await send(r, 'products', 'feedId=p3', body);
    expect(first.body).toMatchObject({ applied: 1, duplicate: false });
    const again = await send(r, 'products', 'feedId=p3', body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ feedId: 'p3', applied: 1, duplicate: true });
    const other = await send(r, 'products', 'feedId=p3', ndjson([{ sku: 'new-8', group: 'caps' }]));
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ code: 'CONFLICT', reason: 'ID_REUSED' });
    expect(r.engine.product('new-8')).toEqual({ sku: 'new-8', group: 'hats' });
    const otherKind = await send(r, 'locations', 'feedId=p3', body);
    expect(otherKind.status).toBe(409);
  });

  it('refuses a body that is not a feed, changing nothing, and forgets its id', async () => {
    const before = r.engine.productList();
    const notJson = await send(r, 'products', 'feedId=p4', 'sku;group\nx;y');
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not a JSON object: not a NDJSON feed/);
    const badHeader = await send(r, 'products', 'feedId=p4', 'sku,colour\nx,red', {
      type: 'text/csv',
    });
    expect(badHeader.status).toBe(400);
    expect(badHeader.body.message).toMatch(/header column colour is unknown/);
    const noFormat = await send(r, 'products', 'feedId=p4', '{}', { type: 'application/json' });
    expect(noFormat.status).toBe(415);
    expect(r.engine.productList()).toEqual(before);
    expect((await r.http('/v1/master/feeds/p4')).status).toBe(404);
  });

  it('is for admin keys only', async () => {
    const res = await send(r, 'products', 'feedId=p5', ndjson([{ sku: 'x' }]), {
      key: KEYS.dc1,
    });
    expect(res.status).toBe(403);
    expect((await r.http('/v1/master/feeds/p1', { key: KEYS.web })).status).toBe(403);
  });

  it('upserts locations; channels served and pick-up change what storefronts see', async () => {
    await loadStock(r, 'store1', { 'sku-2': 6 }, 1);
    await loadStock(r, 'dc1', { 'sku-2': 4 }, 1);
    expect(await availability(r, 'sku-2', null, 'app')).toBe(10);
    expect(await availability(r, 'sku-2', 'store1')).toBe(6);

    const csv = [
      'id,type,name,lat,lon,capacity,channels,pickup',
      'store1,store,Main street,52.37,4.89,40,web,false',
      'store9,,,,,,,',
      'store3,store,,91,0,,,',
      'store4,store,,,,-5,,',
      'store5,store,,,,,web|kiosk,',
      'dc1,dc,,,,,,',
    ].join('\n');
    const res = await send(r, 'locations', 'feedId=l1', csv, { type: 'text/csv' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rows: 6, applied: 1, unchanged: 1, rejected: 4 });
    expect(res.body.rejectedRows.map((row) => [row.line, row.reason])).toEqual([
      [3, 'type is required for a new location'],
      [4, 'lat must be within -90..90'],
      [5, 'capacity must be a whole number within 1..1000000000'],
      [6, expect.stringMatching(/channel kiosk is not in the rules/)],
    ]);
    expect(r.engine.location('store1')).toEqual({
      id: 'store1',
      type: 'store',
      name: 'Main street',
      lat: 52.37,
      lon: 4.89,
      capacity: 40,
      channels: ['web'],
      pickup: false,
    });
    // The app channel is not served by store1 any more; nobody picks up there.
    expect(await availability(r, 'sku-2', null, 'app')).toBe(4);
    expect(await availability(r, 'sku-2', null, 'web')).toBe(10);
    expect(await availability(r, 'sku-2', 'store1')).toBe(0);

    // NDJSON: fields left out are kept; null clears.
    const back = await send(
      r,
      'locations',
      'feedId=l2',
      ndjson([{ id: 'store1', channels: null, pickup: true }]),
    );
    expect(back.body).toMatchObject({ applied: 1, rejected: 0 });
    expect(r.engine.location('store1')).toMatchObject({ name: 'Main street', capacity: 40 });
    expect(await availability(r, 'sku-2', null, 'app')).toBe(10);
    expect(await availability(r, 'sku-2', 'store1')).toBe(6);
  });
});

describe('master data across a restart (file store)', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  type Booted = Pick<Running, 'http' | 'stop'> & { readonly engine: StockEngine };

  async function boot(dir: string): Promise<Booted> {
    const store = new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent);
    await store.open();
    const engine = new StockEngine({
      rules: RULES,
      locations: LOCATIONS,
      products: [{ sku: 'sku-1' }],
      partitions: 2,
      conflationMs: 5,
    });
    await recover(engine, store, silent);
    const gateway: Gateway = createGateway(engine, gatewayConfig(), silent);
    const { port } = await gateway.listen();
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      await gateway.close();
      await engine.stop();
      await store.close();
    };
    stops.push(stop);
    return {
      engine,
      http(path, init = {}) {
        const { key = KEYS.admin, ...rest } = init;
        const headers = new Headers(rest.headers);
        if (key !== null) headers.set('authorization', `Bearer ${key}`);
        return fetch(`http://127.0.0.1:${port}${path}`, { ...rest, headers });
      },
      stop,
    };
  }

  it('keeps products and locations from the feeds', async () => {
    const { dir, cleanup } = tempDir();
    stops.push(() => {
      cleanup();
      return Promise.resolve();
    });
    const first = await boot(dir);
    const products = await send(
      first,
      'products',
      'feedId=r1',
      ndjson([{ sku: 'kept-1', group: 'g', attributes: { fit: 'slim' }, prices: { GBP: 1200 } }]),
    );
    expect(products.body.applied).toBe(1);
    const locations = await send(
      first,
      'locations',
      'feedId=r2',
      ndjson([{ id: 'store2', capacity: 12, channels: ['app'], pickup: false }]),
    );
    expect(locations.body.applied).toBe(1);
    await first.stop();

    const second = await boot(dir);
    expect(second.engine.product('kept-1')).toEqual({
      sku: 'kept-1',
      group: 'g',
      attributes: { fit: 'slim' },
      prices: { GBP: 1200 },
    });
    expect(second.engine.location('store2')).toEqual({
      id: 'store2',
      type: 'store',
      name: 'store2',
      capacity: 12,
      channels: ['app'],
      pickup: false,
    });
    // The same feed after a restart: nothing changes, every row is unchanged.
    const again = await send(
      second,
      'locations',
      'feedId=r2',
      ndjson([{ id: 'store2', capacity: 12, channels: ['app'], pickup: false }]),
    );
    expect(again.body).toMatchObject({ applied: 0, unchanged: 1, duplicate: false });
  });
});
