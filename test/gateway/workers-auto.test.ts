import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type PersistenceConfig } from '../../config/index.ts';
import { resolveWorkers } from '../../gateway/shards/layout.ts';
import { tempDir } from '../persistence/engine-fixture.ts';
import { startRedis, type RedisHandle } from '../persistence/redis-server.ts';
import { launchServer, startServer } from '../persistence/server-process.ts';
import { KEYS } from './harness.ts';
import { snapshot, workersConfig } from './workers-kit.ts';

// server.workers: auto (the default): the count the data holds, or one worker per core on fresh
// data, so an upgrade never changes an existing deployment's layout. Issue #12.

const CORES = 6;

function persistence(over: Record<string, unknown>): PersistenceConfig {
  return loadConfig({ env: {}, values: { persistence: over } }).persistence;
}

const dirs: (() => void)[] = [];
function dir(): string {
  const t = tempDir();
  dirs.push(t.cleanup);
  return t.dir;
}
afterEach(() => {
  for (const cleanup of dirs.splice(0)) cleanup();
});

describe('resolveWorkers with the file store', () => {
  it('takes a number as given, whatever the data holds', async () => {
    const d = dir();
    writeFileSync(join(d, 'shards.json'), JSON.stringify({ format: 1, count: 3, hash: 'fnv1a32' }));
    expect(await resolveWorkers(persistence({ store: 'file', dir: d }), 5, CORES)).toBe(5);
  });

  it('is one per core on a fresh directory, and on one that does not exist yet', async () => {
    const d = dir();
    expect(await resolveWorkers(persistence({ store: 'file', dir: d }), 'auto', CORES)).toBe(6);
    const missing = join(d, 'not-yet');
    expect(await resolveWorkers(persistence({ store: 'file', dir: missing }), 'auto', 1)).toBe(1);
  });

  it('is the count shards.json records', async () => {
    const d = dir();
    writeFileSync(join(d, 'shards.json'), JSON.stringify({ format: 1, count: 3, hash: 'fnv1a32' }));
    expect(await resolveWorkers(persistence({ store: 'file', dir: d }), 'auto', CORES)).toBe(3);
  });

  it('is 1 for a single-shard directory (a journal segment, no shards.json)', async () => {
    const d = dir();
    mkdirSync(join(d, 'journal'));
    writeFileSync(join(d, 'journal', '0000000000000001.wal'), '');
    expect(await resolveWorkers(persistence({ store: 'file', dir: d }), 'auto', CORES)).toBe(1);
  });

  it('is one per core with the memory store, at most 64', async () => {
    expect(await resolveWorkers(persistence({ store: 'memory' }), 'auto', CORES)).toBe(6);
    expect(await resolveWorkers(persistence({ store: 'memory' }), 'auto', 200)).toBe(64);
  });
});

describe('resolveWorkers with the Redis store', () => {
  let redis: RedisHandle;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: 'no' });
    client = new Redis(redis.url);
  }, 30_000);
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });
  const at = (keyPrefix: string): PersistenceConfig =>
    persistence({ store: 'redis', redis: { url: redis.url, keyPrefix } });

  it('is one per core on a fresh prefix, the recorded count, or 1 for a single-shard journal', async () => {
    expect(await resolveWorkers(at('fresh'), 'auto', CORES)).toBe(6);
    await client.set('counted:shards', '4');
    expect(await resolveWorkers(at('counted'), 'auto', CORES)).toBe(4);
    await client.xadd('single:journal', '*', 'r', 'x');
    expect(await resolveWorkers(at('single'), 'auto', CORES)).toBe(1);
  });
});

describe('npm start with server.workers left out', () => {
  it('starts a single-shard directory as one worker, and a fresh one with a worker per core', async () => {
    const d = dir();
    const skus = ['a', 'b'];
    const data = { store: 'file', dir: join(d, 'data') };
    // Written by one worker, then started with the default: still one shard.
    const first = await startServer(workersConfig(1, skus, data), d);
    await snapshot(first, 'dc1', { a: 5 });
    first.process.kill('SIGTERM');
    await first.exited();
    const auto = { ...workersConfig(1, skus, data), server: { shutdownGraceMs: 5_000 } };
    const again = await startServer(auto, d);
    const ready = (await (await fetch(`${again.base}/readyz`)).json()) as {
      detail: { shardsReady?: boolean[] };
    };
    expect(ready.detail.shardsReady).toBeUndefined();
    const a = await fetch(`${again.base}/v1/availability?channel=web&sku=a&location=dc1`, {
      headers: { authorization: `Bearer ${KEYS.admin}` },
    });
    expect(((await a.json()) as { available: number }).available).toBe(5);
    again.process.kill('SIGTERM');
    await again.exited();
    // A fresh directory: one worker per core of this machine.
    const fresh = await startServer(
      { ...auto, persistence: { store: 'file', dir: join(d, 'new') } },
      d,
    );
    const detail = (
      (await (await fetch(`${fresh.base}/readyz`)).json()) as {
        detail: { shardsReady?: boolean[] };
      }
    ).detail;
    const { availableParallelism } = await import('node:os');
    const cores = Math.min(availableParallelism(), 64);
    if (cores === 1) expect(detail.shardsReady).toBeUndefined();
    else expect(detail.shardsReady).toEqual(Array.from({ length: cores }, () => true));
    fresh.process.kill('SIGTERM');
    await fresh.exited();
  }, 60_000);
});

describe('a SIGTERM while the workers start', () => {
  it('stops the process gracefully (exit 0), also before every worker listens', async () => {
    const d = dir();
    const config = workersConfig(2, ['a'], { store: 'file', dir: join(d, 'data') });
    const server = await launchServer({ ...config, log: { level: 'info' } }, d);
    const child = server.process;
    let signalled = false;
    child.stdout?.on('data', () => {
      // The first worker listens (and may answer /readyz) before the others do: stop it then.
      if (!signalled && server.output().includes('"msg":"gateway listening"')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    const out = server.output();
    expect(signalled, out).toBe(true);
    expect({ code, signal }, out).toEqual({ code: 0, signal: null });
    expect(out).toContain('stockflow stopped');
  }, 60_000);
});
