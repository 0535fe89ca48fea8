import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock, StockEngine } from '../../engine/index.ts';
import { FileStore, recover } from '../../persistence/index.ts';
import {
  StockflowClient,
  StockflowError,
  type ClientOptions,
  type Subscription,
} from '../../client/index.ts';
import { silent, tempDir } from '../persistence/engine-fixture.ts';
import { startServer, waitFor, type ServerHandle } from '../persistence/server-process.ts';
import { StandardOnly } from './standard-websocket.ts';
import { TcpProxy } from './tcp-proxy.ts';

const ADMIN = 'admin-key-000000000000000000';
const WEB = 'web-key-0000000000000000000000';
const SKUS = Array.from({ length: 12 }, (_, i) => `SKU-${i}`);
/** Plenty: the load never runs out of stock (the end checks a refusal on purpose). */
const STOCK = 5_000;
const WORKERS = 6;
/** Reserves held between two blows (so each blow lands on a busy client). */
const ACKS_PER_ROUND = 25;
const BLOWS = ['cut', 'kill', 'cut', 'kill', 'cut', 'kill'] as const;

const world = {
  rules: { channels: [{ id: 'web', priority: 1, reservationTtlMs: 3_600_000 }] },
  locations: [{ id: 'DC1', type: 'dc' }],
  products: SKUS.map((sku) => ({ sku })),
};

const topic = (sku: string): string => `availability:web:${sku}`;

interface Ledger {
  /** reservationId → qty, for every reserve the client answered with a reservation. */
  readonly held: Map<string, { sku: string; qty: number; duplicate: boolean }>;
  refused: number;
  /** Anything else a reserve ended with: must stay empty. */
  readonly failures: string[];
}

describe('the client against a server that is killed, restarted and cut off', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('ends with every subscriber equal to HTTP availability and every acked reserve held once', async () => {
    const config = {
      ...world,
      log: { level: 'warn' },
      // One shard: the end check reads the store offline in its single-shard layout.
      server: { workers: 1 },
      auth: {
        apiKeys: [
          { key: ADMIN, name: 'ops', role: 'admin' },
          { key: WEB, name: 'web', role: 'storefront', channel: 'web' },
        ],
        rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      },
      persistence: { store: 'file', dir },
    };
    const ledger: Ledger = { held: new Map(), refused: 0, failures: [] };
    const drops = new Map<StockflowClient, number>();
    let stop = false;
    const resynced = new Map<number, number>();
    let server: ServerHandle = await startServer(config, dir);
    const proxy = await TcpProxy.start(server.port);
    const clients: StockflowClient[] = [];
    try {
      const init = await fetch(`${server.base}/v1/inventory/adjustments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify(
          SKUS.map((sku) => ({ adjustmentId: `init-${sku}`, sku, location: 'DC1', delta: STOCK })),
        ),
      });
      expect(init.status, await init.text()).toBeLessThan(300);

      const make = (options: Partial<ClientOptions>): StockflowClient => {
        const c = new StockflowClient({
          url: `ws://127.0.0.1:${proxy.port}/v1/ws`,
          apiKey: WEB,
          reconnect: { minDelayMs: 50, maxDelayMs: 500 },
          requestTimeoutMs: 120_000,
          ...options,
        });
        clients.push(c);
        c.on('state', (change) => {
          if (change.state === 'disconnected' && change.previous === 'connected') {
            drops.set(c, (drops.get(c) ?? 0) + 1);
          }
        });
        return c;
      };
      // Three subscribers: msgpack, JSON, and a standard WebSocket with the subprotocol key.
      const subscribers = [
        make({ encoding: 'msgpack' }),
        make({ encoding: 'json' }),
        make({ WebSocket: StandardOnly }),
      ];
      const subscriptions: Subscription[] = subscribers.map((c, i) =>
        c.subscribe(SKUS.map(topic), (v) => {
          if (v.resynced) resynced.set(i, (resynced.get(i) ?? 0) + 1);
        }),
      );
      await Promise.all(subscriptions.map((s) => s.ready));
      const reservers = [make({ encoding: 'msgpack' }), make({ encoding: 'json' })];

      let n = 0;
      const worker = async (c: StockflowClient, w: number): Promise<void> => {
        while (!stop) {
          const i = n++;
          const sku = SKUS[(w * 5 + i) % SKUS.length]!;
          const qty = 1 + (i % 2);
          const reservationId = `chaos-${w}-${i}`;
          try {
            const r = await c.reserve({ reservationId, channel: 'web', sku, qty, location: 'DC1' });
            ledger.held.set(reservationId, { sku, qty, duplicate: r.duplicate });
          } catch (error) {
            if (error instanceof StockflowError && error.code === 'INSUFFICIENT_STOCK') {
              ledger.refused++;
            } else {
              ledger.failures.push(`${reservationId}: ${String(error)}`);
              return; // an unexpected end: stop this worker, the assertion below shows why
            }
          }
        }
      };
      const load = Promise.all(
        Array.from({ length: WORKERS }, (_, w) => worker(reservers[w % reservers.length]!, w)),
      );

      for (const blow of BLOWS) {
        const before = ledger.held.size;
        await waitFor(
          () => ledger.held.size >= before + ACKS_PER_ROUND,
          60_000,
          `${ACKS_PER_ROUND} answered reserves before the ${blow}`,
        );
        await waitFor(
          () => clients.every((c) => c.state === 'connected'),
          60_000,
          `every client connected before the ${blow}`,
        );
        if (blow === 'cut') {
          proxy.cut();
        } else {
          server.process.kill('SIGKILL');
          await server.exited();
          server = await startServer(config, dir);
          proxy.retarget(server.port);
        }
      }
      stop = true;
      await load;

      expect(ledger.failures).toEqual([]);
      expect(ledger.held.size).toBeGreaterThan(BLOWS.length * 10);
      expect(ledger.refused).toBe(0);
      // Every blow dropped every client, and each came back, resubscribed and resent.
      expect(clients.map((c) => drops.get(c))).toEqual(clients.map(() => BLOWS.length));
      for (let i = 0; i < subscribers.length; i++) {
        expect(resynced.get(i)).toBeGreaterThanOrEqual(SKUS.length);
      }
      const duplicates = [...ledger.held.values()].filter((r) => r.duplicate).length;
      console.log(
        `chaos: ${ledger.held.size} reserves held (${duplicates} answered as repeats after a resend), ${ledger.refused} refused, ${proxy.connections} connections`,
      );

      // HTTP availability is the stock less exactly what the client saw held.
      const expected = new Map(SKUS.map((sku) => [sku, STOCK]));
      for (const { sku, qty } of ledger.held.values()) {
        expected.set(sku, expected.get(sku)! - qty);
      }
      const http = new Map<string, number>();
      for (const sku of SKUS) {
        const res = await fetch(`${server.base}/v1/availability?channel=web&sku=${sku}`, {
          headers: { authorization: `Bearer ${WEB}` },
        });
        http.set(sku, ((await res.json()) as { available: number }).available);
      }
      expect(http).toEqual(expected);
      // Asking for one more than is left is refused with what is left.
      for (const sku of ['SKU-0', 'SKU-7']) {
        const refusal = await reservers[0]!
          .reserve({ channel: 'web', sku, qty: http.get(sku)! + 1, location: 'DC1' })
          .then(
            () => null,
            (error: unknown) => error,
          );
        expect(refusal).toMatchObject({ code: 'INSUFFICIENT_STOCK', available: http.get(sku) });
      }

      // Every subscriber, connected again, settles on the same values.
      await waitFor(
        () => clients.every((c) => c.state === 'connected'),
        30_000,
        'every client connected at the end: ' + clients.map((c) => c.state).join(','),
      );
      await waitFor(
        () =>
          subscriptions.every((s) =>
            SKUS.every((sku) => s.values().get(topic(sku))?.available === http.get(sku)),
          ),
        15_000,
        'every subscriber to show HTTP availability',
      );
      for (const s of subscriptions) {
        expect(new Map(SKUS.map((sku) => [sku, s.values().get(topic(sku))?.available]))).toEqual(
          http,
        );
      }
    } finally {
      stop = true;
      await Promise.all(clients.map((c) => c.close()));
      server.process.kill('SIGTERM');
      await server.exited();
      await proxy.close();
    }

    // The journal agrees: each reservation the client saw is held once, and nothing else is.
    const store = new FileStore({ dir, fsync: 'always', segmentBytes: 64 * 1024 * 1024 }, silent);
    const engine = new StockEngine({ ...world, clock: new ManualClock(Date.now()), partitions: 2 });
    await store.open();
    try {
      await recover(engine, store, silent);
      const state = engine.storage.exportState();
      const kept = state.skus.flatMap((s) =>
        s.reservations.map((r) => [r.id, { sku: s.sku, qty: r.qty, state: r.state }] as const),
      );
      expect(new Map(kept)).toEqual(
        new Map([...ledger.held].map(([id, r]) => [id, { sku: r.sku, qty: r.qty, state: 'held' }])),
      );
      expect(kept).toHaveLength(ledger.held.size);
    } finally {
      await engine.stop();
      await store.close();
    }
  }, 240_000);
});
