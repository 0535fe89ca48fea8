import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../gateway/shards/layout.ts';
import { scrapeValue, startServer, type ServerHandle } from '../persistence/server-process.ts';
import { Client, KEYS, promtool, type Message } from './harness.ts';
import { available, http, PinnedHttp, snapshot, workersConfig } from './workers-kit.ts';

// server.workers: 2 through the real server (gateway/main.ts as a child process): two worker
// threads, each owning the SKUs that hash to its shard, each with a gateway on the one port.
// Connections land on either worker (SO_REUSEPORT); what a connection asks of the other shard is
// forwarded there. Issue #12.

const WORKERS = 2;
/** SKUs on both shards: the first four of each. */
const SKUS = Array.from({ length: 40 }, (_, i) => `sku-${i}`);
const BY_SHARD = [0, 1].map((k) => SKUS.filter((s) => shardOf(s, WORKERS) === k));
/** Four SKUs of each shard. */
const SPREAD = BY_SHARD.flatMap((list) => list.slice(1, 5));

function config(dir: string, workers = WORKERS): Record<string, unknown> {
  return workersConfig(workers, SKUS, { store: 'file', dir: join(dir, 'data') });
}

async function metric(s: ServerHandle, name: string): Promise<number> {
  return (await scrapeValue(s.base, name)) ?? Number.NaN;
}

function connectMany(s: ServerHandle, n: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      Client.connect(s.port, { key: KEYS.web, binary: i % 2 === 0 }),
    ),
  );
}

let dir: string;
let server: ServerHandle;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stockflow-workers-'));
  server = await startServer(config(dir), dir);
}, 60_000);

afterAll(async () => {
  server.process.kill('SIGTERM');
  await server.exited();
  rmSync(dir, { recursive: true, force: true });
});

describe('server.workers: 2', () => {
  it('loads a location snapshot across both shards and zeroes what it leaves out on each', async () => {
    const levels = Object.fromEntries(SKUS.map((s) => [s, 10]));
    const first = await snapshot(server, 'store2', levels);
    expect(first.applied).toBe(SKUS.length);
    const second = await snapshot(server, 'store2', { [SPREAD[0] as string]: 3 });
    expect(second.zeroed).toBe(SKUS.length - 1);
    expect(await available(server, SPREAD[0] as string, 'store2')).toBe(3);
    expect(await available(server, SPREAD[7] as string, 'store2')).toBe(0);
  });

  it('grants exactly the stock in a last-unit storm from connections on both workers', async () => {
    const hot = BY_SHARD[1]?.[0] as string;
    await snapshot(server, 'dc1', { [hot]: 60 });
    await snapshot(server, 'store1', { [hot]: 40 });
    const clients = await connectMany(server, 40);
    const replies: Promise<Message>[] = [];
    clients.forEach((c, ci) => {
      for (let i = 0; i < 50; i++) {
        replies.push(
          c.request({
            op: 'reserve',
            reservationId: `storm-${ci}-${i}`,
            channel: 'web',
            sku: hot,
            qty: 1,
          }),
        );
      }
    });
    const answers = await Promise.all(replies);
    const granted = answers.filter((a) => a.op === 'reserve').length;
    const refused = answers.filter((a) => a.code === 'INSUFFICIENT_STOCK' || a.code === 'BUSY');
    expect(granted).toBe(100);
    expect(refused).toHaveLength(1_900);
    expect(await available(server, hot)).toBe(0);
    // Some of them came through the worker that does not own the SKU.
    expect(await metric(server, 'stockflow_shard_forwarded_commands_total')).toBeGreaterThan(0);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('answers a batch spanning both shards, and releases from another connection', async () => {
    await snapshot(server, 'dc1', Object.fromEntries(SPREAD.map((s) => [s, 5])));
    const [a, b] = await connectMany(server, 2);
    const batch = await a!.request({
      op: 'batch',
      ops: SPREAD.map((sku, i) => ({
        op: 'reserve',
        reservationId: `b-${i}`,
        channel: 'web',
        sku,
        qty: 2,
      })),
    });
    const results = batch.results as Message[];
    expect(results).toHaveLength(SPREAD.length);
    expect(results.map((r) => r.op)).toEqual(SPREAD.map(() => 'reserve'));
    for (const sku of SPREAD) expect(await available(server, sku, 'dc1')).toBe(3);
    // A release from a connection that did not reserve: it may sit on the other worker.
    for (let i = 0; i < SPREAD.length; i++) {
      const r = await b!.request({ op: 'release', reservationId: `b-${i}` });
      expect(r.op).toBe('release');
    }
    const again = await b!.request({ op: 'release', reservationId: 'b-0' });
    expect(again.op).toBe('release');
    const unknown = await b!.request({ op: 'release', reservationId: 'never-made' });
    expect(unknown.code).toBe('NOT_FOUND');
    for (const sku of SPREAD) expect(await available(server, sku, 'dc1')).toBe(5);
    await Promise.all([a!.close(), b!.close()]);
  });

  it('delivers every shard’s deltas, in order, to subscribers on both workers', async () => {
    const topics = SPREAD.map((sku) => `availability:web:${sku}@dc1`);
    const subscribers = await connectMany(server, 12);
    for (const s of subscribers) {
      const reply = await s.request({ op: 'subscribe', topics });
      expect(reply.op).toBe('subscribe');
    }
    const driver = await Client.connect(server.port, { key: KEYS.admin });
    for (let round = 1; round <= 20; round++) {
      await snapshot(server, 'dc1', Object.fromEntries(SPREAD.map((s) => [s, 5 + round])));
    }
    await Promise.all(
      subscribers.flatMap((s) => topics.map((t) => s.delta(t, (v) => v === 25, 10_000))),
    );
    for (const s of subscribers) {
      for (const topic of topics) {
        const seqs = s.received
          .filter((m) => m.op === 'availability' && m.topic === topic)
          .map((m) => m.seq as number);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(new Set(seqs).size).toBe(seqs.length);
      }
    }
    await Promise.all([...subscribers, driver].map((c) => c.close()));
  });

  it('serves orders on every worker: a cross-shard order over HTTP and WebSocket', async () => {
    const a = BY_SHARD[0]?.[6] as string;
    const b = BY_SHARD[1]?.[6] as string;
    await snapshot(server, 'dc1', { [a]: 5, [b]: 5 });
    const body = (orderId: string): string =>
      JSON.stringify({
        orderId,
        channel: 'web',
        customer: { id: 'c-1' },
        lines: [
          { sku: a, qty: 2, unitPrice: 100 },
          { sku: b, qty: 3, unitPrice: 100 },
        ],
        delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
        payment: { amount: 500, currency: 'EUR' },
      });
    // Several requests, so that they land on both workers: each answers as the home does.
    const placed = await Promise.all(
      ['x-1', 'x-1', 'x-1', 'x-1'].map((id) =>
        http(server, '/v1/orders', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body(id),
        }),
      ),
    );
    expect(placed.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    expect(await available(server, a, 'dc1')).toBe(3);
    expect(await available(server, b, 'dc1')).toBe(2);
    const read = await Promise.all(
      [1, 2, 3, 4].map(async () => (await http(server, '/v1/orders/x-1')).json()),
    );
    for (const o of read)
      expect(o).toMatchObject({ orderId: 'x-1', status: 'fulfilment_requested' });
    const clients = await connectMany(server, 4);
    const replies = await Promise.all(
      clients.map((c) => c.request({ op: 'cancelOrder', orderId: 'x-1' })),
    );
    expect(replies.filter((r) => r.ok === true).length).toBe(4);
    expect(await available(server, a, 'dc1')).toBe(5);
    expect(await available(server, b, 'dc1')).toBe(5);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('answers a feed’s result, and a repeat of its id, on either worker', async () => {
    const on: [PinnedHttp, PinnedHttp] = [
      await PinnedHttp.open(server, 0),
      await PinnedHttp.open(server, 1),
    ];
    try {
      for (const [k, other] of [
        [0, 1],
        [1, 0],
      ] as const) {
        const stockFeed = `sf-${k}`;
        const masterFeed = `mf-${k}`;
        const stock = await on[k].request(
          `/v1/feeds?feedId=${stockFeed}&kind=snapshot&location=store2&asOf=${Date.now()}`,
          { ndjson: [{ sku: SPREAD[k] as string, onHand: 7 }] },
        );
        expect(stock).toMatchObject({ status: 200, body: { status: 'completed', applied: 1 } });
        const master = await on[k].request(`/v1/master/products?feedId=${masterFeed}`, {
          ndjson: [{ sku: SPREAD[k] as string, group: `g-${k}` }],
        });
        expect(master).toMatchObject({ status: 200, body: { status: 'completed', applied: 1 } });
        // Right after the answer, the other worker answers both results and takes a repeat as a
        // repeat.
        expect(await on[other].request(`/v1/feeds/${stockFeed}`)).toMatchObject({
          status: 200,
          body: { feedId: stockFeed, status: 'completed', applied: 1 },
        });
        expect(await on[other].request(`/v1/master/feeds/${masterFeed}`)).toMatchObject({
          status: 200,
          body: { feedId: masterFeed, status: 'completed', applied: 1 },
        });
        const again = await on[other].request(`/v1/master/products?feedId=${masterFeed}`, {
          ndjson: [{ sku: SPREAD[k] as string, group: `g-${k}` }],
        });
        expect(again).toMatchObject({ status: 200, body: { duplicate: true, applied: 1 } });
      }
    } finally {
      for (const p of on) p.close();
    }
  });

  it('gives the console the process’s totals, whichever worker it asks', async () => {
    const on: [PinnedHttp, PinnedHttp] = [
      await PinnedHttp.open(server, 0),
      await PinnedHttp.open(server, 1),
    ];
    try {
      const read = async (k: 0 | 1) =>
        (await on[k].request('/v1/console/stats')).body as {
          reserves: Record<string, number>;
          journal: { commits: number; records: number };
        };
      const before = await read(0);
      expect(await read(1)).toMatchObject({ reserves: before.reserves, journal: before.journal });
      // Reserves from connections on both workers: both workers count all of them.
      const sku = BY_SHARD[0]?.[9] as string;
      await snapshot(server, 'dc1', { [sku]: 100 });
      const clients = await connectMany(server, 8);
      const replies = await Promise.all(
        clients.map((c, i) =>
          c.request({ op: 'reserve', reservationId: `cs-${i}`, channel: 'web', sku, qty: 1 }),
        ),
      );
      expect(replies.filter((r) => r.op === 'reserve')).toHaveLength(8);
      for (const k of [0, 1] as const) {
        const after = await read(k);
        expect((after.reserves.ok ?? 0) - (before.reserves.ok ?? 0)).toBe(8);
        expect(after.journal.records).toBeGreaterThan(before.journal.records);
      }
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      for (const p of on) p.close();
    }
  });

  it('sums every worker’s metrics into one /metrics', async () => {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    expect(text.match(/^# TYPE stockflow_engine_positions gauge$/gm)).toHaveLength(1);
    // Positions live on both shards; the sum is all of them.
    expect(await metric(server, 'stockflow_engine_positions')).toBeGreaterThanOrEqual(SKUS.length);
    // Every shard holds every product: the process has SKUS.length, not twice as many.
    expect(await metric(server, 'stockflow_engine_skus')).toBe(SKUS.length);
    // The busiest worker, not a sum of threads.
    expect(await metric(server, 'stockflow_event_loop_utilization')).toBeLessThanOrEqual(1);
    const check = await promtool(text);
    expect(check.code, check.out).toBe(0);
  });
});

describe('the shard layout', () => {
  it('recovers every shard after a graceful restart, and refuses another worker count', async () => {
    const before = await Promise.all(SPREAD.map((sku) => available(server, sku)));
    server.process.kill('SIGTERM');
    expect(await server.exited()).toBe(0);
    await expect(startServer(config(dir, 1), dir)).rejects.toThrow(/holds 2 shard\(s\).*reshard/s);
    server = await startServer(config(dir), dir);
    expect(await Promise.all(SPREAD.map((sku) => available(server, sku)))).toEqual(before);
  }, 60_000);
});
