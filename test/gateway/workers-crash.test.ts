import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../gateway/shards/layout.ts';
import { startServer, type ServerHandle } from '../persistence/server-process.ts';
import { Client, KEYS } from './harness.ts';
import { available, discard, snapshot, workersConfig } from './workers-kit.ts';

// The real server with server.workers: 2, SIGKILLed under load again and again while connections
// on both workers reserve SKUs of both shards (most commands cross to the other worker). After
// every restart: nothing acknowledged is lost, nothing is oversold; at the end, a graceful restart
// gives back exactly what memory held, on every shard. Issue #12.

const SKUS = Array.from({ length: 24 }, (_, i) => `k-${i}`);
const STOCK = 100_000;
const KILLS = 10;

const dir = mkdtempSync(join(tmpdir(), 'stockflow-workers-crash-'));
let server: ServerHandle | null = null;

afterAll(async () => {
  await discard(server, dir);
});

function start(): Promise<ServerHandle> {
  return startServer(workersConfig(2, SKUS, { store: 'file', dir: join(dir, 'data') }), dir);
}

function availability(s: ServerHandle): Promise<number[]> {
  return Promise.all(SKUS.map((sku) => available(s, sku, 'dc1')));
}

/** Reserves as fast as 6 connections can until the server dies; returns the acknowledged ids. */
async function loadUntilKilled(s: ServerHandle, round: number, acked: Map<string, string>) {
  const clients = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      Client.connect(s.port, { key: KEYS.web, binary: i % 2 === 0 }),
    ),
  );
  let alive = true;
  let n = 0;
  const pump = async (c: Client, ci: number): Promise<void> => {
    while (alive) {
      const batch = Array.from({ length: 32 }, () => {
        const sku = SKUS[n % SKUS.length] as string;
        const id = `r${round}-${ci}-${n++}`;
        return c
          .request(
            { op: 'reserve', reservationId: id, channel: 'web', sku, qty: 1, location: 'dc1' },
            1_000,
          )
          .then(
            (m) => {
              if (m.op === 'reserve') acked.set(id, sku);
            },
            () => {
              alive = false;
            },
          );
      });
      await Promise.all(batch);
    }
  };
  const pumps = clients.map((c, ci) => pump(c, ci));
  // Let load build, then kill the whole process (both workers) mid-stream.
  await new Promise((resolve) => setTimeout(resolve, 200 + 20 * round));
  s.process.kill('SIGKILL');
  await s.exited();
  alive = false;
  await Promise.all(pumps);
  await Promise.all(clients.map((c) => c.closed));
}

describe('server.workers: 2 under SIGKILL', () => {
  it(`loses nothing acknowledged and oversells nothing over ${KILLS} kills`, async () => {
    server = await start();
    await snapshot(server, 'dc1', Object.fromEntries(SKUS.map((sku) => [sku, STOCK])), 1);
    const acked = new Map<string, string>();
    for (let round = 0; round < KILLS; round++) {
      await loadUntilKilled(server, round, acked);
      server = await start();
      const now = await availability(server);
      SKUS.forEach((sku, i) => {
        const held = [...acked.values()].filter((s) => s === sku).length;
        // Every acknowledged reservation survived (some unacknowledged ones may have too).
        expect(now[i]).toBeLessThanOrEqual(STOCK - held);
        expect(now[i]).toBeGreaterThanOrEqual(0);
      });
    }
    // Reservations on both shards were acknowledged, so the kills hit both journals.
    const shards = new Set([...acked.values()].map((sku) => shardOf(sku, 2)));
    expect(shards.size).toBe(2);
    expect(acked.size).toBeGreaterThan(KILLS * 50);

    // Each acknowledged reservation is still there to release, wherever the connection lands.
    const client = await Client.connect(server.port, { key: KEYS.web, binary: true });
    const ids = [...acked.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      const answers = await Promise.all(
        ids
          .slice(i, i + 500)
          .map((reservationId) => client.request({ op: 'release', reservationId })),
      );
      expect(answers.filter((a) => a.op !== 'release')).toEqual([]);
    }
    await client.close();

    // Replay equals memory on every shard: a graceful restart answers what was held before it.
    const before = await availability(server);
    server.process.kill('SIGTERM');
    expect(await server.exited()).toBe(0);
    server = await start();
    expect(await availability(server)).toEqual(before);
  }, 180_000);
});
