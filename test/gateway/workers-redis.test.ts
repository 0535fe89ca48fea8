import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../gateway/shards/layout.ts';
import { startRedis, type RedisHandle } from '../persistence/redis-server.ts';
import { startServer, waitFor, type ServerHandle } from '../persistence/server-process.ts';
import { Client, KEYS } from './harness.ts';
import { available, snapshot, workersConfig } from './workers-kit.ts';

// server.workers: 2 on the Redis store (a redis-server of the test's own, AOF always): each
// shard's journal and snapshots under `<keyPrefix>:{shard-k}` (one Redis Cluster slot per shard),
// the count under `<keyPrefix>:shards`, a start with another count refused. Issue #12.

const PREFIX = 'sf-workers';
const SKUS = Array.from({ length: 16 }, (_, i) => `r-${i}`);

let redis: RedisHandle;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'stockflow-workers-redis-'));
});

afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(workers: number): Promise<ServerHandle> {
  const redisConfig = { url: redis.url, keyPrefix: PREFIX };
  return startServer(workersConfig(workers, SKUS, { store: 'redis', redis: redisConfig }), dir);
}

function availability(s: ServerHandle): Promise<number[]> {
  return Promise.all(SKUS.map((sku) => available(s, sku)));
}

describe('server.workers: 2 on the Redis store', () => {
  it('keeps each shard under its hash tag, recovers both, and refuses another count', async () => {
    let server = await start(2);
    await snapshot(server, 'dc1', Object.fromEntries(SKUS.map((sku) => [sku, 50])), 1);
    const client = await Client.connect(server.port, { key: KEYS.admin, binary: true });
    const answers = await Promise.all(
      SKUS.map((sku, i) =>
        client.request({
          op: 'reserve',
          reservationId: `rr-${i}`,
          channel: 'web',
          sku,
          qty: i + 1,
        }),
      ),
    );
    expect(answers.map((a) => a.op)).toEqual(SKUS.map(() => 'reserve'));
    await client.close();
    const before = await availability(server);
    expect(before).toEqual(SKUS.map((_, i) => 50 - (i + 1)));

    const r = new Redis(redis.url);
    try {
      expect(await r.get(`${PREFIX}:shards`)).toBe('2');
      for (const k of [0, 1]) {
        // Both shards journaled: the SKUs are spread over both.
        expect(SKUS.some((sku) => shardOf(sku, 2) === k)).toBe(true);
        expect(await r.xlen(`${PREFIX}:{shard-${k}}:journal`)).toBeGreaterThan(0);
      }
      // Nothing at the bare prefix: a one-shard server would find no state of its own there.
      expect(await r.exists(`${PREFIX}:journal`)).toBe(0);
    } finally {
      r.disconnect();
    }

    server.process.kill('SIGTERM');
    expect(await server.exited()).toBe(0);
    await expect(start(1)).rejects.toThrow(/holds 2 shard\(s\)/);
    server = await start(2);
    expect(await availability(server)).toEqual(before);
    // Redis away: whichever worker answers /readyz (a new connection each time), the process is
    // not ready while the journals are down, and ready again once they are back.
    const readyAnswers = async (): Promise<number[]> =>
      Promise.all(
        Array.from({ length: 8 }, async () => {
          const res = await fetch(`${server.base}/readyz`, { headers: { connection: 'close' } });
          return res.status;
        }),
      );
    await redis.pause();
    const writer = await Client.connect(server.port, { key: KEYS.admin, binary: true });
    const pending = SKUS.map((sku, i) =>
      writer.request(
        { op: 'reserve', reservationId: `p-${i}`, channel: 'web', sku, qty: 1 },
        30_000,
      ),
    );
    await waitFor(async () => (await readyAnswers()).every((s) => s === 503), 20_000, '503s');
    await redis.resume();
    await Promise.allSettled(pending);
    await waitFor(async () => (await readyAnswers()).every((s) => s === 200), 20_000, '200s');
    await writer.close();
    server.process.kill('SIGTERM');
    await server.exited();
  }, 90_000);
});
