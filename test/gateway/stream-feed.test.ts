import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { StockEngine } from '../../engine/index.ts';
import { RedisStreamFeed } from '../../gateway/index.ts';
import { recover, RedisStore } from '../../persistence/index.ts';
import { tempDir } from '../persistence/engine-fixture.ts';
import { startRedis, type RedisHandle } from '../persistence/redis-server.ts';
import { startServer, waitFor } from '../persistence/server-process.ts';
import { KEYS, start, type Running } from './harness.ts';

const silent = pino({ level: process.env.STREAM_TEST_LOG ?? 'silent' });

/** The consumer's settings as loadConfig makes them from `feeds.redisStream`. */
function streamConfig(url: string, key: string) {
  const config = loadConfig({
    env: {},
    values: {
      feeds: { redisStream: { url, key, group: 'stockflow', consumer: 'test-1', blockMs: 200 } },
    },
  });
  const stream = config.feeds.redisStream;
  if (stream === null) throw new Error('feeds.redisStream did not load');
  return stream;
}

/** XADD one entry: its fields as `name value` pairs. */
async function add(
  producer: Redis,
  key: string,
  fields: Record<string, string | number>,
): Promise<string> {
  const id = await producer.xadd(key, '*', ...Object.entries(fields).flat().map(String));
  if (id === null) throw new Error('XADD answered null');
  return id;
}

/**
 * The group's pending count, and whether it was handed every entry: its last delivered id is the
 * stream's last (XINFO's `lag` is unknown for a while after a restart).
 */
async function groupState(
  producer: Redis,
  key: string,
): Promise<{ pending: number; delivered: boolean }> {
  const groups = (await producer.call('XINFO', 'GROUPS', key)) as unknown[][];
  const group = groups[0] ?? [];
  const stream = (await producer.call('XINFO', 'STREAM', key)) as unknown[];
  const last = stream[stream.indexOf('last-generated-id') + 1];
  return {
    pending: Number(group[group.indexOf('pending') + 1]),
    delivered: group[group.indexOf('last-delivered-id') + 1] === last,
  };
}

/** Waits until every entry of the stream was delivered to the group and acked. */
async function consumed(producer: Redis, key: string): Promise<void> {
  await waitFor(
    async () => {
      try {
        const s = await groupState(producer, key);
        return s.pending === 0 && s.delivered;
      } catch {
        return false; // the group is not made yet, or Redis is restarting
      }
    },
    20_000,
    `stream ${key} consumed and acked`,
  );
}

async function entryCounts(r: Running): Promise<Record<string, number>> {
  const metric = await r.gateway.metrics
    .getSingleMetric('stockflow_stream_feed_entries_total')
    ?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.result), v.value]));
}

describe('stock feeds from a Redis Stream (in process)', () => {
  let redis: RedisHandle;
  let producer: Redis;
  let r: Running;
  let feed: RedisStreamFeed;
  const key = 'feeds:test';

  beforeAll(async () => {
    redis = await startRedis();
    producer = new Redis(redis.url, { maxRetriesPerRequest: null });
    producer.on('error', () => undefined); // reconnects by itself across the restart
    r = await start({ skus: 10 });
    feed = new RedisStreamFeed(r.engine, streamConfig(redis.url, key), silent);
    feed.registerMetrics(r.gateway.metrics);
    feed.start();
  });
  afterAll(async () => {
    await feed.stop();
    await r.stop();
    producer.disconnect();
    await redis.stop();
  });

  it('applies absolute and delta entries, visible in availability, and acks them', async () => {
    await add(producer, key, { sku: 'sku-1', location: 'dc1', onHand: 10, asOf: 100 });
    await add(producer, key, { sku: 'sku-1', location: 'dc1', delta: 5, id: 'grn-1' });
    // The same delta id again (a producer that retried its XADD): not applied twice.
    await add(producer, key, { sku: 'sku-1', location: 'dc1', delta: 5, id: 'grn-1' });
    // An older absolute row: stale. A delta without an id: keyed by its entry id.
    await add(producer, key, { sku: 'sku-1', location: 'dc1', onHand: 3, asOf: 90 });
    await add(producer, key, { sku: 'sku-2', location: 'store1', delta: 7 });
    await consumed(producer, key);
    expect(r.engine.position('sku-1', 'dc1')?.onHand).toBe(15);
    expect(r.engine.position('sku-2', 'store1')?.onHand).toBe(7);
    const res = await r.http('/v1/availability?channel=web&sku=sku-1&location=dc1', {
      key: KEYS.admin,
    });
    expect(await res.json()).toMatchObject({ available: 15 });
    expect(await entryCounts(r)).toMatchObject({ applied: 3, repeated: 1, stale: 1, rejected: 0 });
    expect(feed.health()).toMatchObject({ connected: true, lastError: null });
  });

  it('counts bad entries, acks them and goes on with the rows after them', async () => {
    const before = await entryCounts(r);
    await add(producer, key, { location: 'dc1', onHand: 1, asOf: 1 }); // no sku
    await add(producer, key, { sku: 'sku-3', location: 'dc1', onHand: 1, delta: 1, asOf: 1 });
    await add(producer, key, { sku: 'sku-3', location: 'dc1', onHand: 'many', asOf: 1 });
    await add(producer, key, { sku: 'sku-3', location: 'dc1', onhand: 4, asOf: 1 }); // typo
    await add(producer, key, { sku: 'sku-3', location: 'nowhere', onHand: 4, asOf: 1 });
    await add(producer, key, { sku: 'sku-3', location: 'dc1', onHand: 4 }); // no asOf
    await add(producer, key, { sku: 'sku-3', location: 'dc1', onHand: 4, asOf: 200 });
    await consumed(producer, key);
    expect(r.engine.position('sku-3', 'dc1')?.onHand).toBe(4);
    const after = await entryCounts(r);
    expect((after.rejected ?? 0) - (before.rejected ?? 0)).toBe(6);
    expect((after.applied ?? 0) - (before.applied ?? 0)).toBe(1);
  });

  it('reads on after Redis is restarted, and the entries it kept are applied', async () => {
    await add(producer, key, { sku: 'sku-4', location: 'dc1', delta: 2, id: 'before-restart' });
    await consumed(producer, key);
    await redis.restart();
    // Written while the consumer may still be reconnecting: the AOF kept the group's state.
    await add(producer, key, { sku: 'sku-4', location: 'dc1', delta: 3, id: 'after-restart' });
    await consumed(producer, key);
    expect(r.engine.position('sku-4', 'dc1')?.onHand).toBe(5);
    await waitFor(() => feed.health().connected, 20_000, 'the consumer connected again');
  });
});

describe('stock feeds from a Redis Stream (the journal down)', () => {
  it('leaves entries pending while the journal cannot hold them, and acks them once it can', async () => {
    const journalRedis = await startRedis();
    const streamRedis = await startRedis();
    const producer = new Redis(streamRedis.url, { maxRetriesPerRequest: null });
    const store = new RedisStore(
      {
        url: journalRedis.url,
        keyPrefix: 'stream-feed-test',
        strict: true,
        commandTimeoutMs: 200,
        connectTimeoutMs: 2_000,
      },
      silent,
    );
    const engine = new StockEngine({
      rules: { channels: [{ id: 'web', priority: 1 }] },
      locations: [{ id: 'dc1', type: 'dc' }],
      products: [{ sku: 'sku-1' }],
    });
    const key = 'feeds:journal';
    const feed = new RedisStreamFeed(engine, streamConfig(streamRedis.url, key), silent);
    try {
      await store.open();
      await recover(engine, store, silent);
      feed.start();
      await add(producer, key, { sku: 'sku-1', location: 'dc1', onHand: 10, asOf: 1 });
      await consumed(producer, key);
      await journalRedis.pause();
      await add(producer, key, { sku: 'sku-1', location: 'dc1', delta: 4, id: 'grn-9' });
      // Delivered, answered UNAVAILABLE (the journal write timed out), so not acked.
      await waitFor(
        async () => {
          const s = await groupState(producer, key);
          return s.delivered && s.pending === 1 && !engine.storage.journal().available;
        },
        20_000,
        'the entry delivered and left pending',
      );
      expect(engine.position('sku-1', 'dc1')?.onHand).toBe(10);
      await journalRedis.resume();
      await consumed(producer, key);
      expect(engine.position('sku-1', 'dc1')?.onHand).toBe(14);
    } finally {
      await feed.stop();
      await engine.stop();
      await store.close();
      producer.disconnect();
      await journalRedis.stop();
      await streamRedis.stop();
    }
  });
});

describe('stock feeds from a Redis Stream (the real server, killed before its ack)', () => {
  const ADMIN = 'admin-key-000000000000000000';
  let redis: RedisHandle;
  let producer: Redis;
  const tmp = tempDir();

  beforeAll(async () => {
    redis = await startRedis();
    producer = new Redis(redis.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    producer.disconnect();
    await redis.stop();
    tmp.cleanup();
  });

  it('acks only what the journal holds: killed before the ack, the entries come again and apply once', async () => {
    const key = 'feeds:crash';
    // The server's Redis user may read the stream but not XACK yet: whatever it applies stays
    // pending, as if it had crashed between the journal write and the ack.
    await producer.call(
      'ACL',
      'SETUSER',
      'feeder',
      'on',
      '>feeder-pass',
      '~*',
      '&*',
      '+@all',
      '-xack',
    );
    const url = redis.url.replace('redis://', 'redis://feeder:feeder-pass@');
    const config = {
      log: { level: 'warn' },
      auth: { apiKeys: [{ key: ADMIN, name: 'ops', role: 'admin' }] },
      rules: { channels: [{ id: 'web', priority: 1 }] },
      locations: [{ id: 'DC1', type: 'dc' }],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }],
      persistence: { store: 'file', dir: tmp.dir },
      feeds: { redisStream: { url, key, consumer: 'server-1', blockMs: 200 } },
    };
    // In the stream before the server starts: its first read takes all three.
    await add(producer, key, { sku: 'SKU-1', location: 'DC1', onHand: 20, asOf: 1 });
    await add(producer, key, { sku: 'SKU-1', location: 'DC1', delta: 5, id: 'receipt-1' });
    await add(producer, key, { sku: 'SKU-2', location: 'DC1', delta: 3 });
    let server = await startServer(config, tmp.dir);
    onTestFailed(() => {
      console.error(server.output());
    });
    const onHand = async (sku: string): Promise<number> => {
      const res = await fetch(
        `${server.base}/v1/availability?channel=web&sku=${sku}&location=DC1`,
        { headers: { authorization: `Bearer ${ADMIN}` } },
      );
      return ((await res.json()) as { available: number }).available;
    };
    try {
      await waitFor(
        async () => (await onHand('SKU-1')) === 25 && (await onHand('SKU-2')) === 3,
        20_000,
        'rows applied',
      );
      // Applied is not yet durable: the feed acks after the journal write that covers the read,
      // so its refused XACK (logged) says all three are in the journal. Killed before that, the
      // last one may not be, and comes again as applied (the right stock, another count).
      await waitFor(() => server.output().includes('NOPERM'), 20_000, 'the refused ack');
      const held = await groupState(producer, key);
      expect(held).toEqual({ pending: 3, delivered: true });
      server.process.kill('SIGKILL');
      await server.exited();
      await producer.call('ACL', 'SETUSER', 'feeder', '+xack');
      server = await startServer(config, tmp.dir);
      await consumed(producer, key);
      // Recovered from the journal, then the same three entries again: nothing twice.
      expect(await onHand('SKU-1')).toBe(25);
      expect(await onHand('SKU-2')).toBe(3);
      const metrics = await (await fetch(`${server.base}/metrics`)).text();
      const count = (result: string): string | undefined =>
        new RegExp(
          `^stockflow_stream_feed_entries_total\\{result="${result}"\\} (\\d+)$`,
          'm',
        ).exec(metrics)?.[1];
      expect([count('applied'), count('repeated'), count('stale')]).toEqual(['0', '2', '1']);
      // SIGTERM: the consumer's blocked read is cut off and the server exits cleanly.
      server.process.kill('SIGTERM');
      expect(await server.exited()).toBe(0);
    } finally {
      server.process.kill('SIGTERM');
      await server.exited();
    }
  });
});
