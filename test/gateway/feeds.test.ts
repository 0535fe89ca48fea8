import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, start, type Running } from './harness.ts';

let r: Running;
beforeAll(async () => {
  r = await start({ skus: 20 });
});
afterAll(async () => {
  await r.stop();
});

interface Result {
  feedId: string;
  status: string;
  lines: number;
  rows: number;
  applied: number;
  unchanged: number;
  stale: number;
  repeated: number;
  rejected: number;
  zeroed: number;
  zeroSkipped: string | null;
  rejectedRows: { line: number; sku: string | null; code: string; reason: string }[];
}

async function feed(
  query: string,
  body: string,
  options: { type?: string; key?: string } = {},
): Promise<{
  status: number;
  body: Result & { code?: string; reason?: string; message?: string };
}> {
  const res = await r.http(`/v1/feeds?${query}`, {
    method: 'POST',
    key: options.key ?? KEYS.admin,
    headers: { 'content-type': options.type ?? 'application/x-ndjson' },
    body,
  });
  return { status: res.status, body: (await res.json()) as Result };
}

const ndjson = (rows: object[]): string => rows.map((x) => JSON.stringify(x)).join('\n');
const onHand = (sku: string, location: string): number | undefined =>
  r.engine.position(sku, location)?.onHand;

describe('stock feeds', () => {
  it('applies snapshot rows by their own as-of: newer ones win, older ones are stale', async () => {
    const first = await feed(
      'feedId=f1&kind=snapshot',
      ndjson([
        { sku: 'sku-1', location: 'dc1', onHand: 10, asOf: 100 },
        { sku: 'sku-2', location: 'store1', onHand: 4, asOf: 100 },
      ]),
    );
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'completed', rows: 2, applied: 2, rejected: 0 });
    // Out of order: the row as of 90 is older than what dc1 has; the one as of 110 is newer.
    const second = await feed(
      'feedId=f2&kind=snapshot&location=dc1',
      ndjson([
        { sku: 'sku-1', onHand: 3, asOf: 90 },
        { sku: 'sku-3', onHand: 7, asOf: 110 },
      ]),
    );
    expect(second.body).toMatchObject({ applied: 1, stale: 1 });
    expect(onHand('sku-1', 'dc1')).toBe(10);
    expect(onHand('sku-3', 'dc1')).toBe(7);
  });

  it('drops rows the position already has before the engine, and counts them', async () => {
    const res = await feed(
      'feedId=f3&kind=snapshot&location=dc1&asOf=200',
      ndjson([
        { sku: 'sku-1', onHand: 10 },
        { sku: 'sku-3', onHand: 8 },
      ]),
    );
    expect(res.body).toMatchObject({ rows: 2, applied: 1, unchanged: 1 });
    expect(onHand('sku-3', 'dc1')).toBe(8);
  });

  it('does not give back units shipped after a snapshot was counted when it arrives late', async () => {
    // The engine runs on the wall clock here: the store counted a minute ago, we ship now.
    const countedAt = Date.now() - 60_000;
    const rows = (onHand: number, asOf: number): string =>
      ndjson([{ sku: 'sku-20', location: 'dc1', onHand, asOf }]);
    expect(
      (await feed('feedId=late-0&kind=snapshot', rows(10, countedAt - 60_000))).body,
    ).toMatchObject({ applied: 1 });
    const compensated = r.engine.stats().compensatedFeeds;
    const order = { orderId: 'late-o1', sku: 'sku-20', location: 'dc1', qty: 2 };
    await r.engine.execute({ op: 'allocate', allocationId: 'late-a1', channel: 'web', ...order });
    expect(await r.engine.execute({ op: 'ship', shipmentId: 'late-s1', ...order })).toMatchObject({
      ok: true,
      applied: true,
    });
    expect(onHand('sku-20', 'dc1')).toBe(8);

    const late = await feed('feedId=late-1&kind=snapshot', rows(10, countedAt));
    expect(late.body).toMatchObject({ applied: 1, stale: 0, rejected: 0 });
    expect(onHand('sku-20', 'dc1')).toBe(8);
    const seen = await r.http('/v1/availability?channel=web&sku=sku-20&location=dc1');
    expect(await seen.json()).toMatchObject({ available: 8 });

    // A count equal to what the position shows is no no-op while a shipment is after it: 8
    // counted before the 2 left is 6 now.
    const equal = await feed('feedId=late-2&kind=snapshot', rows(8, countedAt + 1));
    expect(equal.body).toMatchObject({ applied: 1, unchanged: 0 });
    expect(onHand('sku-20', 'dc1')).toBe(6);
    expect(r.engine.stats().compensatedFeeds).toBe(compensated + 2);
  });

  it('reports bad rows by line number and still applies the good ones (CSV)', async () => {
    const csv = [
      'location,sku,onHand,asOf',
      'store2,sku-4,5,300',
      'store2,sku-5,-1,300',
      'store2,sku-6,x,300',
      'nowhere,sku-7,2,300',
      'store2,sku-404,2,300',
      'store2,"sku-8",9,300',
      'store2,sku-9,1',
      '',
      'store2,sku-10,3,300',
    ].join('\r\n');
    const res = await feed('feedId=f4&kind=snapshot', csv, { type: 'text/csv' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ lines: 10, rows: 5, applied: 3, rejected: 5 });
    expect(res.body.rejectedRows.map((x) => [x.line, x.code])).toEqual([
      [3, 'BAD_REQUEST'],
      [4, 'BAD_REQUEST'],
      [5, 'NOT_FOUND'],
      [6, 'NOT_FOUND'],
      [8, 'BAD_REQUEST'],
    ]);
    expect(res.body.rejectedRows[0]?.reason).toMatch(/onHand must be within/);
    expect(onHand('sku-4', 'store2')).toBe(5);
    expect(onHand('sku-8', 'store2')).toBe(9);
    expect(onHand('sku-10', 'store2')).toBe(3);
  });

  it('refuses a body that is not a feed at all, and changes nothing', async () => {
    const before = onHand('sku-1', 'dc1');
    const notCsv = await feed(
      'feedId=f5&kind=snapshot&location=dc1&asOf=400',
      'hello world\nsku-1,0',
      {
        type: 'text/csv',
      },
    );
    expect(notCsv.status).toBe(400);
    expect(notCsv.body.message).toMatch(/not a CSV feed/);
    const notJson = await feed(
      'feedId=f5&kind=snapshot&location=dc1&asOf=400',
      '<html>\n{"sku":"sku-1","onHand":0}',
    );
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not a NDJSON feed/);
    const wrongType = await feed('feedId=f5&kind=snapshot', '{}', { type: 'application/json' });
    expect(wrongType.status).toBe(415);
    expect(onHand('sku-1', 'dc1')).toBe(before);
    // Refused feeds are forgotten: the same id may be sent again, corrected.
    const fixed = await feed(
      'feedId=f5&kind=snapshot&location=dc1&asOf=400',
      ndjson([{ sku: 'sku-1', onHand: 0 }]),
    );
    expect(fixed.body).toMatchObject({ status: 'completed', applied: 1 });
  });

  it('answers a repeated feed id with the first result and applies nothing twice', async () => {
    const body = ndjson([
      { sku: 'sku-11', location: 'dc1', delta: 5 },
      { sku: 'sku-11', location: 'dc1', delta: 0 },
      { sku: 'sku-11', location: 'dc1', delta: -2, id: 'count-7' },
    ]);
    const first = await feed('feedId=d1&kind=delta', body);
    expect(first.body).toMatchObject({ applied: 2, unchanged: 1, duplicate: false });
    expect(onHand('sku-11', 'dc1')).toBe(3);
    const again = await feed('feedId=d1&kind=delta', body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ applied: 2, duplicate: true });
    expect(onHand('sku-11', 'dc1')).toBe(3);
    // Under a new feed id, rows with their own id still repeat nothing.
    const resent = await feed('feedId=d2&kind=delta', body);
    expect(resent.body).toMatchObject({ applied: 1, repeated: 1, duplicate: false });
    expect(onHand('sku-11', 'dc1')).toBe(8);
    // The same id for another kind of feed is a conflict.
    const other = await feed('feedId=d1&kind=snapshot', ndjson([]));
    expect(other.status).toBe(409);
    expect(other.body.reason).toBe('ID_REUSED');
    // The result can be read again by id; an unknown id is 404.
    const read = await r.http('/v1/feeds/d1');
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ feedId: 'd1', applied: 2, unchanged: 1 });
    const missing = await r.http('/v1/feeds/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ reason: 'UNKNOWN_FEED' });
  });

  it('zeroes what a full snapshot leaves out, unless rows were rejected', async () => {
    await feed(
      'feedId=s0&kind=snapshot&location=store1&asOf=500',
      ndjson([
        { sku: 'sku-12', onHand: 6 },
        { sku: 'sku-13', onHand: 6 },
      ]),
    );
    const partial = await feed(
      'feedId=s1&kind=snapshot&location=store1&asOf=600&full=true',
      ndjson([
        { sku: 'sku-12', onHand: 2 },
        { sku: 'sku-13', onHand: 'lots' },
      ]),
    );
    expect(partial.body).toMatchObject({ applied: 1, rejected: 1, zeroed: 0 });
    expect(partial.body.zeroSkipped).toMatch(/rejected/);
    expect(onHand('sku-13', 'store1')).toBe(6);
    const full = await feed(
      'feedId=s2&kind=snapshot&location=store1&asOf=700&full=true',
      ndjson([{ sku: 'sku-12', onHand: 1 }]),
    );
    expect(full.body).toMatchObject({ applied: 1, rejected: 0 });
    expect(full.body.zeroed).toBeGreaterThanOrEqual(2);
    expect(onHand('sku-13', 'store1')).toBe(0);
    expect(onHand('sku-2', 'store1')).toBe(0);
    expect(onHand('sku-12', 'store1')).toBe(1);
  });

  it('lets a location key feed only its own location', async () => {
    const own = await feed(
      'feedId=k1&kind=snapshot&asOf=800',
      ndjson([
        { sku: 'sku-14', location: 'dc1', onHand: 1 },
        { sku: 'sku-14', location: 'store1', onHand: 1 },
      ]),
      { key: KEYS.dc1 },
    );
    expect(own.body).toMatchObject({ applied: 1, rejected: 1 });
    expect(own.body.rejectedRows[0]).toMatchObject({ line: 2, code: 'FORBIDDEN' });
    expect(
      (await feed('feedId=k2&kind=snapshot&location=store1', '', { key: KEYS.dc1 })).status,
    ).toBe(403);
    expect((await feed('feedId=k3&kind=snapshot', '', { key: KEYS.web })).status).toBe(403);
    // It reads its own feeds back; another location's key does not see them.
    expect((await r.http('/v1/feeds/k1', { key: KEYS.dc1 })).status).toBe(200);
    expect((await r.http('/v1/feeds/k1', { key: KEYS.store1 })).status).toBe(404);
    expect((await r.http('/v1/feeds', { key: KEYS.dc1 })).status).toBe(403);
    const list = (await (await r.http('/v1/feeds?limit=2')).json()) as { feeds: Result[] };
    expect(list.feeds.map((f) => f.feedId)).toEqual(['k1', 's2']);
  });

  it('applies a feed sent in small pieces, and a subscriber sees the change', async () => {
    const ws = await Client.connect(r.port, { key: KEYS.web, binary: true });
    await ws.request({ op: 'subscribe', topics: ['availability:web:sku-15@dc1'] });
    const rows = Array.from({ length: 12_000 }, (_, i) =>
      JSON.stringify({ sku: `sku-${(i % 5) + 15}`, location: 'dc1', onHand: i, asOf: 1_000 + i }),
    ).join('\n');
    const bytes = new TextEncoder().encode(rows);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 777) controller.enqueue(bytes.slice(i, i + 777));
        controller.close();
      },
    });
    const res = await r.http('/v1/feeds?feedId=big&kind=snapshot', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ rows: 12_000, applied: 12_000, rejected: 0 });
    // The last row for sku-15 is i = 11,995.
    expect(onHand('sku-15', 'dc1')).toBe(11_995);
    r.engine.flushDeltas();
    await ws.delta('availability:web:sku-15@dc1', (a) => a === 11_995);
    await ws.close();
  });

  it('refuses the same feed id while it is applied, and forgets a feed cut off midway', async () => {
    const encoder = new TextEncoder();
    let push: ((text: string) => void) | null = null;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (text) => {
          controller.enqueue(encoder.encode(text));
        };
      },
    });
    const abort = new AbortController();
    const first = r
      .http('/v1/feeds?feedId=cut&kind=delta&location=store2', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
        duplex: 'half',
        signal: abort.signal,
      })
      .catch((error: unknown) => error);
    // 6,000 rows over five SKUs: each SKU's ids stay within the engine's idempotency window.
    const line = (i: number): string =>
      `${JSON.stringify({ sku: `sku-${16 + (i % 5)}`, delta: 1, id: `cut-${i}` })}\n`;
    const total = (): number => {
      let sum = 0;
      for (let k = 16; k <= 20; k++) sum += onHand(`sku-${k}`, 'store2') ?? 0;
      return sum;
    };
    (push as unknown as (text: string) => void)(
      Array.from({ length: 6_000 }, (_, i) => line(i)).join(''),
    );
    // The first batch lands while the body is still open.
    await expect.poll(total, { timeout: 5_000 }).toBeGreaterThanOrEqual(5_000);
    const during = await feed('feedId=cut&kind=delta&location=store2', line(0));
    expect(during.status).toBe(409);
    expect(during.body.reason).toBe('FEED_IN_PROGRESS');
    abort.abort();
    await first;
    // Cut off: forgotten, so the whole feed may be sent again; what landed is not applied twice.
    await expect
      .poll(async () => (await r.http('/v1/feeds/cut')).status, { timeout: 5_000 })
      .toBe(404);
    // What the cut-off feed applied: its last batch may still have been in the engine at the cut.
    await r.engine.settle();
    const landed = total();
    expect(landed).toBeGreaterThanOrEqual(5_000);
    const again = await feed(
      'feedId=cut&kind=delta&location=store2',
      Array.from({ length: 6_000 }, (_, i) => line(i)).join(''),
    );
    expect(again.body).toMatchObject({
      status: 'completed',
      applied: 6_000 - landed,
      repeated: landed,
    });
    expect(total()).toBe(6_000);
  });

  it('counts rows by outcome in the metrics', async () => {
    const text = await r.gateway.metrics.metrics();
    expect(text).toMatch(/stockflow_feed_rows_total\{result="applied"\} [1-9]\d*/);
    expect(text).toMatch(/stockflow_feed_rows_total\{result="rejected"\} [1-9]\d*/);
    expect(text).toMatch(/stockflow_feeds_total\{outcome="refused"\} [1-9]/);
  });
});
