import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ManualClock, StockEngine } from '../../engine/index.ts';
import { FileStore, recover, RedisStore, type Store } from '../../persistence/index.ts';
import { silent, tempDir } from './engine-fixture.ts';
import { startRedis, type RedisHandle } from './redis-server.ts';
import { startServer, waitFor, type ServerHandle } from './server-process.ts';

const ADMIN = 'admin-key-000000000000000000';
const WEB = 'web-key-0000000000000000000000';
const SKUS = Array.from({ length: 20 }, (_, i) => `SKU-${i}`);
const STOCK = 40;
const KILLS = 20;
const WORKERS = 24;
/** Each round kills the server after this many reserve answers, drawn from [0, KILL_SPAN). */
const KILL_SPAN = 120;

/**
 * The kill points come from this seed: a new one each run, printed when the test fails; set
 * CRASH_SEED to run the same kill points again.
 */
const SEED =
  process.env['CRASH_SEED'] === undefined ? randomInt(2 ** 31) : Number(process.env['CRASH_SEED']);

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const world = {
  rules: { channels: [{ id: 'web', priority: 1, reservationTtlMs: 3_600_000 }] },
  locations: [{ id: 'DC1', type: 'dc' }],
  products: SKUS.map((sku) => ({ sku })),
};

interface Ledger {
  /** Reserve answered 2xx: must survive every crash. */
  readonly acked: Map<string, { sku: string; qty: number }>;
  /** Sent, no answer (the server died): may or may not have been applied. */
  readonly unknown: Set<string>;
  /** Release answered 2xx. */
  readonly released: Set<string>;
  /** Release sent (answered or not). */
  readonly releaseSent: Set<string>;
  refused: number;
}

const json = { 'content-type': 'application/json' };

/**
 * Reserves (and now and then releases) from WORKERS workers until `stop()` or until the server is
 * gone, calling `answered()` after each reserve answer.
 */
async function reserveLoad(
  server: ServerHandle,
  ledger: Ledger,
  round: number,
  stop: () => boolean,
  answered: () => void,
): Promise<void> {
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stop()) {
      const id = `r${round}-${w}-${n++}`;
      const sku = SKUS[(w * 7 + n) % SKUS.length] as string;
      const qty = 1 + (n % 2);
      ledger.unknown.add(id);
      try {
        const res = await fetch(`${server.base}/v1/reservations`, {
          method: 'POST',
          headers: { ...json, authorization: `Bearer ${WEB}` },
          body: JSON.stringify({ reservationId: id, channel: 'web', sku, qty, location: 'DC1' }),
        });
        await res.arrayBuffer();
        answered();
        if (res.ok) {
          ledger.unknown.delete(id);
          ledger.acked.set(id, { sku, qty });
        } else if (res.status === 409) {
          ledger.unknown.delete(id);
          ledger.refused++;
        }
        if (res.ok && n % 5 === 0) {
          ledger.releaseSent.add(id);
          const rel = await fetch(`${server.base}/v1/reservations/${id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${WEB}` },
          });
          await rel.arrayBuffer();
          if (rel.ok) ledger.released.add(id);
        }
      } catch {
        return; // the server is gone: this id stays unknown
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
}

async function recoverOffline(store: Store): Promise<StockEngine> {
  const engine = new StockEngine({ ...world, clock: new ManualClock(Date.now()), partitions: 4 });
  await store.open();
  await recover(engine, store, silent);
  return engine;
}

function checkState(engine: StockEngine, ledger: Ledger): void {
  const state = engine.storage.exportState();
  const present = new Map<string, { state: string; qty: number; sku: string }>();
  for (const s of state.skus)
    for (const r of s.reservations) present.set(r.id, { state: r.state, qty: r.qty, sku: s.sku });
  // Every acknowledged reservation is there, as acknowledged.
  for (const [id, { sku, qty }] of ledger.acked) {
    const r = present.get(id);
    expect(r, `acknowledged reservation ${id} was lost`).toBeDefined();
    expect({ sku: r?.sku, qty: r?.qty }).toEqual({ sku, qty });
    if (ledger.released.has(id)) expect(r?.state).toBe('released');
    else if (!ledger.releaseSent.has(id)) expect(r?.state).toBe('held');
  }
  // Nothing appears that was never sent; what was in flight at a kill may or may not be there.
  for (const id of present.keys())
    expect(ledger.acked.has(id) || ledger.unknown.has(id), `${id} was never sent`).toBe(true);
  // Nothing is granted beyond stock, and counters equal what the holds add up to.
  for (const s of state.skus) {
    const held = s.reservations.filter((r) => r.state === 'held').reduce((n, r) => n + r.qty, 0);
    expect(held).toBeLessThanOrEqual(STOCK);
    expect(engine.position(s.sku, 'DC1')).toMatchObject({
      onHand: STOCK,
      reserved: held,
      allocated: 0,
    });
  }
}

/** The replay of the surviving history on a fresh engine gives the same numbers. */
async function checkReplay(engine: StockEngine): Promise<void> {
  const state = engine.storage.exportState();
  const fresh = new StockEngine({ ...world, clock: new ManualClock(Date.now()), partitions: 2 });
  for (const sku of SKUS)
    await fresh.execute({ op: 'setOnHand', sku, location: 'DC1', onHand: STOCK, asOf: 1 });
  for (const s of state.skus) {
    for (const r of s.reservations) {
      const res = await fresh.execute({
        op: 'reserve',
        reservationId: r.id,
        channel: 'web',
        sku: s.sku,
        qty: r.qty,
        location: 'DC1',
      });
      expect(res.ok).toBe(true);
      if (r.state === 'released') await fresh.execute({ op: 'release', reservationId: r.id });
    }
    expect(fresh.position(s.sku, 'DC1')).toEqual(engine.position(s.sku, 'DC1'));
  }
  await fresh.stop();
}

for (const kind of ['file', 'redis'] as const) {
  describe(`crash recovery with the ${kind} store (SIGKILL under load)`, () => {
    const { dir, cleanup } = tempDir();
    let redis: RedisHandle | null = null;
    const prefix = `crash-${process.pid}-${kind}`;

    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
      cleanup();
    });

    it(`keeps every acknowledged reservation across ${KILLS} kills, never overselling`, async () => {
      const config = {
        ...world,
        log: { level: 'warn' },
        // One shard: the check reads the store offline in its single-shard layout (the sharded
        // layout's kills are test/gateway/workers-crash.test.ts).
        server: { workers: 1 },
        auth: {
          apiKeys: [
            { key: ADMIN, name: 'ops', role: 'admin' },
            { key: WEB, name: 'web', role: 'storefront', channel: 'web' },
          ],
          rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
        },
        persistence: {
          store: kind,
          dir,
          snapshotEveryRecords: 400,
          snapshotEverySeconds: 1,
          redis: { url: redis?.url ?? 'redis://127.0.0.1:1', keyPrefix: prefix, strict: true },
        },
      };
      const ledger: Ledger = {
        acked: new Map(),
        unknown: new Set(),
        released: new Set(),
        releaseSent: new Set(),
        refused: 0,
      };
      let server = await startServer(config, dir);
      const init = await fetch(`${server.base}/v1/inventory/adjustments`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify(
          SKUS.map((sku) => ({ adjustmentId: `init-${sku}`, sku, location: 'DC1', delta: STOCK })),
        ),
      });
      expect(init.status, await init.text()).toBeLessThan(300);
      const random = seeded(SEED);
      onTestFailed(() => {
        console.error(
          `crash recovery (${kind}): kill points from seed ${SEED}; CRASH_SEED=${SEED}`,
        );
      });
      for (let round = 0; round < KILLS; round++) {
        // Killed once this many reserves were answered: the other workers have theirs in flight.
        const killAt = Math.floor(random() * KILL_SPAN);
        let answers = 0;
        let gone = false;
        let reached = (): void => undefined;
        const killPoint = new Promise<void>((resolve) => {
          reached = resolve;
        });
        if (killAt === 0) reached();
        const load = reserveLoad(
          server,
          ledger,
          round,
          () => gone,
          () => {
            if (++answers === killAt) reached();
          },
        );
        const first = await Promise.race([
          killPoint.then(() => 'kill point' as const),
          load.then(() => 'load ended' as const),
        ]);
        if (first === 'load ended') {
          throw new Error(
            `round ${round}: the load ended before ${killAt} answers\n${server.output()}`,
          );
        }
        server.process.kill('SIGKILL');
        await server.exited();
        gone = true;
        await load;
        server = await startServer(config, dir);
      }
      // Last, without a kill: run until some SKU is sold out (a 409), so the checks below always
      // see stock that ran out, however fast this machine is.
      let stopping = false;
      const last = reserveLoad(
        server,
        ledger,
        KILLS,
        () => stopping,
        () => undefined,
      );
      await waitFor(() => ledger.refused > 0, 120_000, 'a sold-out SKU');
      stopping = true;
      await last;
      server.process.kill('SIGTERM');
      expect(await server.exited()).toBe(0);

      const store: Store =
        kind === 'file'
          ? new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent)
          : new RedisStore(
              {
                url: redis?.url ?? '',
                keyPrefix: prefix,
                strict: true,
                commandTimeoutMs: 2_000,
                connectTimeoutMs: 2_000,
              },
              silent,
            );
      const engine = await recoverOffline(store);
      try {
        checkState(engine, ledger);
        await checkReplay(engine);
      } finally {
        await engine.stop();
        await store.close();
      }
    }, 240_000);
  });
}
