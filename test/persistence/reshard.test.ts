import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../config/index.ts';
import type { SkuState, StockEngine } from '../../engine/index.ts';
import { createEngine, openPersistence } from '../../gateway/engine-start.ts';
import { fileShardCount, shardOf, shardPersistence } from '../../gateway/shards/layout.ts';
import { bookText } from '../../gateway/shards/reshard-plan.ts';
import { reshard, ReshardError } from '../../gateway/shards/reshard.ts';
import { FileStore, openStore, recover } from '../../persistence/index.ts';
import { HARNESS_MASTER, orderHarness, order } from '../orders/order-fixture.ts';
import { silent, tempDir } from './engine-fixture.ts';
import { freePort, startServer } from './server-process.ts';

const SKUS = Array.from({ length: 60 }, (_, i) => `SKU-${i}`);
const ADMIN = 'admin-key-000000000000000000';
const WORLD = {
  rules: { channels: [{ id: 'web', priority: 1, reservationTtlMs: 3_600_000 }] },
  locations: [
    { id: 'S1', type: 'store' },
    { id: 'DC1', type: 'dc' },
  ],
  products: SKUS.map((sku) => ({ sku })),
  auth: { apiKeys: [{ key: ADMIN, name: 'admin', role: 'admin' }] },
  log: { level: 'silent' },
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(extra: Record<string, unknown> = {}): { dir: string; config: Config } {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const values = { ...WORLD, persistence: { store: 'file', dir, fsync: 'never' }, ...extra };
  return { dir, config: loadConfig({ env: {}, values }) };
}

/** Stock on every SKU, held reservations (some at a location, some network), ended ones. */
async function fill(engine: StockEngine, take: () => Promise<unknown>): Promise<void> {
  const run = async (cmd: Parameters<StockEngine['execute']>[0]): Promise<void> => {
    const r = await engine.execute(cmd);
    if (!r.ok) throw new Error(`${cmd.op} refused: ${JSON.stringify(r)}`);
  };
  for (const [i, sku] of SKUS.entries()) {
    await run({ op: 'setOnHand', sku, location: 'S1', onHand: 10 + i, asOf: 1_000 });
    await run({ op: 'setOnHand', sku, location: 'DC1', onHand: 50, asOf: 1_000 });
  }
  await take(); // half the state in the snapshot, half in the journal after it
  for (const [i, sku] of SKUS.entries()) {
    await run({ op: 'adjust', sku, location: 'S1', delta: -1, adjustmentId: `a-${i}` });
    await run({
      op: 'reserve',
      reservationId: `r-${i}`,
      channel: 'web',
      sku,
      qty: 2,
      location: 'DC1',
    });
    if (i % 3 === 0)
      await run({ op: 'reserve', reservationId: `n-${i}`, channel: 'web', sku, qty: 3 });
    if (i % 4 === 0) await run({ op: 'release', reservationId: `r-${i}` });
    if (i % 6 === 3) await run({ op: 'confirm', reservationId: `n-${i}`, orderId: `ext-${i}` });
  }
}

/** A single-shard directory (today's layout) holding `fill`'s state, written by the server's path. */
async function singleShard(config: Config): Promise<void> {
  const engine = createEngine(config, silent);
  const persisted = await openPersistence(engine, config, config.persistence, silent);
  await fill(engine, () => persisted.snapshotter?.take() ?? Promise.resolve());
  await persisted.snapshotter?.stop();
  await engine.stop();
  await persisted.store?.close();
}

/** Every shard of a layout recovered as a server start does: SKU → its owner's book, as text. */
async function books(config: Config, count: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let k = 0; k < count; k++) {
    const engine = createEngine(config, silent);
    const store = openStore(shardPersistence(config.persistence, k, count), silent);
    await store.open();
    await recover(engine, store, silent);
    for (const book of engine.storage.exportState().skus) {
      if (shardOf(book.sku, count) === k) out.set(book.sku, bookText(book));
      else expect(onlyProduct(book), `${book.sku} on shard ${k}`).toBe(true);
    }
    await engine.stop();
    await store.close();
  }
  return out;
}

const onlyProduct = (b: SkuState): boolean =>
  b.positions.length === 0 && b.reservations.length === 0 && b.recentOps.length === 0;

/** Every file under `dir` with its size and modification time. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => {
      const s = statSync(join(dir, name));
      return `${name} ${s.size} ${s.mtimeMs}`;
    })
    .sort();
}

describe('npm run reshard (offline)', () => {
  it('moves a single-shard directory to 2, 3 and back to 1 shard with every book unchanged', async () => {
    const { dir, config } = setup();
    await singleShard(config);
    const before = await books(config, 1);
    expect(before.size).toBe(SKUS.length);

    const files = tree(dir);
    const dry = await reshard(config, { to: 2, dryRun: true }, silent);
    expect(tree(dir)).toEqual(files);
    expect(dry.shards.map((s) => s.skus).reduce((a, b) => a + b)).toBe(SKUS.length);
    expect(dry.kept).toBeNull();

    const two = await reshard(config, { to: 2, dryRun: false }, silent);
    expect(fileShardCount(dir)).toBe(2);
    expect(existsSync(join(two.kept ?? '', 'journal'))).toBe(true);
    expect(await books(config, 2)).toEqual(before);
    for (const [k, s] of two.shards.entries()) {
      expect(s.skus).toBe(SKUS.filter((sku) => shardOf(sku, 2) === k).length);
    }

    await reshard(config, { to: 3, dryRun: false }, silent);
    expect(await books(config, 3)).toEqual(before);
    await reshard(config, { to: 1, dryRun: false }, silent);
    expect(existsSync(join(dir, 'shards.json'))).toBe(false);
    expect(fileShardCount(dir)).toBe(1);
    expect(await books(config, 1)).toEqual(before);
    expect(readdirSync(dir).filter((n) => n.startsWith('.reshard-old-'))).toHaveLength(3);
    expect(existsSync(join(dir, '.reshard-tmp'))).toBe(false);
  }, 30_000);

  it('leaves a layout the server starts on with the new count, answering as before', async () => {
    const { dir, config } = setup();
    await singleShard(config);
    const expected = await availability(config, 1);
    await reshard(config, { to: 2, dryRun: false }, silent);
    const values = { ...WORLD, persistence: { store: 'file', dir, fsync: 'never' } };
    const server = await startServer({ ...values, server: { workers: 2 } }, dir);
    try {
      for (const sku of SKUS.slice(0, 12)) {
        const res = await fetch(`${server.base}/v1/availability?channel=web&sku=${sku}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { available: number }).available).toBe(expected.get(sku));
      }
      // Journaled on top of the re-sharded snapshots: its sequence must continue after theirs.
      const res = await fetch(`${server.base}/v1/reservations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reservationId: 'late', channel: 'web', sku: 'SKU-7', qty: 1 }),
      });
      expect(res.status).toBe(201);
    } finally {
      server.process.kill('SIGTERM');
      await server.exited();
    }
    const after = await books(config, 2);
    expect(after.get('SKU-7')).toContain('"id":"late"');
    await reshard(config, { to: 1, dryRun: false }, silent);
    expect(await books(config, 1)).toEqual(after);
  }, 30_000);

  it('refuses a directory holding orders, and changes nothing', async () => {
    const values = { ...HARNESS_MASTER, log: { level: 'silent' } };
    const { dir, config } = setup(values);
    const store = new FileStore({ dir, fsync: 'never', segmentBytes: 1 << 20 }, silent);
    await store.open();
    const h = orderHarness({ start: false });
    await recover(h.engine, store, silent);
    h.orders.start();
    await h.stock('A', { paris: 6 });
    await h.placed(order([['A', 2]]));
    await h.idle();
    await h.orders.stop();
    await h.engine.stop();
    await store.close();
    const files = tree(dir);
    await expect(reshard(config, { to: 2, dryRun: false }, silent)).rejects.toThrow(
      /holds order state \(1 order/,
    );
    expect(tree(dir)).toEqual(files);
  });

  it('refuses the memory and Redis stores, and does nothing for the count already held', async () => {
    const memory = loadConfig({ env: {}, values: { persistence: { store: 'memory' } } });
    await expect(reshard(memory, { to: 2, dryRun: false }, silent)).rejects.toThrow(ReshardError);
    const redis = loadConfig({ env: {}, values: { persistence: { store: 'redis' } } });
    await expect(reshard(redis, { to: 2, dryRun: false }, silent)).rejects.toThrow(
      /not supported yet/,
    );
    const { config } = setup();
    await singleShard(config);
    expect((await reshard(config, { to: 1, dryRun: false }, silent)).nothing).toMatch(/already/);
  });

  it('runs as npm run reshard: config from STOCKFLOW_CONFIG, --dry-run changes nothing', async () => {
    const { dir, config } = setup();
    const file = join(dir, 'config.json');
    // A free port: the tool refuses when a server answers on the configured one.
    const server = { port: await freePort() };
    writeFileSync(file, JSON.stringify({ ...WORLD, server, persistence: { store: 'file', dir } }));
    await singleShard(config);
    const run = (...args: string[]): Promise<ToolRun> => runTool(file, args);
    expect((await run('--help')).stdout).toMatch(/OFFLINE: stop the server first/);
    expect((await run('--to', '65')).stderr).toMatch(/--to N is required/);
    const files = tree(dir);
    const dry = await run('--to', '2', '--dry-run');
    expect(dry.stdout).toMatch(/Would move .* from 1 to 2 shard\(s\)/);
    expect(dry.stdout).toMatch(/Dry run: nothing was changed/);
    expect(dry.status).toBe(0);
    expect(tree(dir)).toEqual(files);
    const moved = await run('--to', '2');
    expect(moved.stdout).toMatch(/Verified\. The old layout is kept in .*\.reshard-old-/);
    expect(fileShardCount(dir)).toBe(2);
    // Anything answering HTTP on the configured port is taken for a running server.
    const listener = createServer((_req, res) => res.end()).listen(server.port, '127.0.0.1');
    await once(listener, 'listening');
    const refused = await run('--to', '3');
    listener.close();
    expect(refused.stderr).toMatch(/a server answers on .*: stop it first/);
    expect(fileShardCount(dir)).toBe(2);
  }, 40_000);
});

interface ToolRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run reshard -- <args>` with STOCKFLOW_CONFIG=file (asynchronous: a test may listen). */
async function runTool(file: string, args: readonly string[]): Promise<ToolRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/reshard.ts', ...args], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { PATH: process.env.PATH ?? '', STOCKFLOW_CONFIG: file },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, stdout, stderr };
}

/** What each SKU has available on the web channel, read from an in-process engine. */
async function availability(config: Config, count: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const engine = createEngine(config, silent);
  const store = openStore(shardPersistence(config.persistence, 0, count), silent);
  await store.open();
  await recover(engine, store, silent);
  for (const sku of SKUS) {
    const a = engine.availability('web', sku, null);
    out.set(sku, a.ok ? a.available : -1);
  }
  await engine.stop();
  await store.close();
  return out;
}
