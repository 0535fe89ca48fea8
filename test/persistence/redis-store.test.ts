import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ManualClock,
  StockEngine,
  type JournalRecord,
  type SkuState,
  type SnapshotItem,
  type SnapshotHeader,
} from '../../engine/index.ts';
import { PersistenceError, type Store } from '../../persistence/index.ts';
import { packBlob } from '../../persistence/record-codec.ts';
import { RedisCommandTimeout } from '../../persistence/redis-calls.ts';
import { RedisStore, type RedisStoreOptions } from '../../persistence/redis-store.ts';
import { startRedis, type RedisHandle } from './redis-server.ts';

// ---- helpers -----------------------------------------------------------------------------------

interface LogLine {
  readonly level: number;
  readonly msg: string;
}

/** A logger whose lines the test can read (pino levels: 40 warn, 50 error). */
function capture(): { log: Logger; lines: LogLine[]; warned: (text: string) => boolean } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  const warned = (text: string): boolean =>
    lines.some((l) => l.level >= 40 && l.msg.includes(text));
  return { log, lines, warned };
}

const silent = pino({ level: 'silent' });
let counter = 0;
const uniquePrefix = (): string => `test:${process.pid}:${Date.now()}:${counter++}`;

const prefixes = new WeakMap<RedisStore, string>();
function prefixOf(store: RedisStore): string {
  const prefix = prefixes.get(store);
  if (prefix === undefined) throw new Error('store not opened through openStore');
  return prefix;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openStore(
  redis: RedisHandle,
  options: Partial<RedisStoreOptions> = {},
  log: Logger = silent,
): Promise<RedisStore> {
  const keyPrefix = options.keyPrefix ?? uniquePrefix();
  const store = new RedisStore(
    {
      url: redis.url,
      keyPrefix,
      strict: options.strict ?? true,
      commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 2_000,
    },
    log,
  );
  prefixes.set(store, keyPrefix);
  cleanups.push(() => store.close());
  await store.open();
  return store;
}

/** A raw client for looking at (and damaging) what the store wrote. */
function rawClient(redis: RedisHandle): Redis {
  const client = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  cleanups.push(() => client.quit().catch(() => undefined));
  return client;
}

/** Cuts the store's connection from the server side: the store reconnects by itself. */
async function dropConnection(raw: Redis, store: RedisStore): Promise<void> {
  const list = String(await raw.client('LIST'));
  const line = list.split('\n').find((l) => l.includes(`name=stockflow:${prefixOf(store)} `));
  const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
  if (id === undefined) throw new Error(`no connection of ${prefixOf(store)} in CLIENT LIST`);
  await raw.client('KILL', 'ID', id);
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The error `promise` rejects with, provided it settles before any I/O callback could run (a
 * setImmediate fires after the pending I/O of this loop turn): proof that it made no round trip.
 */
async function settledBeforeIo(promise: Promise<unknown>): Promise<PersistenceError> {
  const io = new Promise<'pending'>((resolve) => {
    setImmediate(() => {
      resolve('pending');
    });
  });
  const outcome = await Promise.race([rejection(promise), io]);
  if (outcome === 'pending') throw new Error('it waited for I/O instead of failing at once');
  return outcome;
}

/** Journal records seq from..to; reserves carry `undefined` optional fields, as the gateway's do. */
function records(from: number, to: number): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({
      seq,
      at: 1_767_225_600_000 + seq,
      entry:
        seq % 3 === 0
          ? {
              type: 'command',
              cmd: { op: 'setOnHand', sku: 'A', location: 'DC1', onHand: seq, asOf: seq },
            }
          : {
              type: 'command',
              cmd: {
                op: 'reserve',
                reservationId: `r${seq}`,
                channel: 'web',
                sku: 'A',
                qty: 1,
                location: undefined,
                ttlMs: undefined,
              },
            },
    });
  }
  return out;
}

async function readAll(store: Store, fromSeq = 1): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  for await (const batch of store.readJournal(fromSeq)) out.push(...batch);
  return out;
}

const seqs = (list: readonly JournalRecord[]): number[] => list.map((r) => r.seq);

async function rejection(promise: Promise<unknown>): Promise<PersistenceError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PersistenceError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

function header(startSeq: number): SnapshotHeader {
  return {
    format: 1,
    takenAt: 1_767_225_600_000,
    startSeq,
    metaLsn: 0,
    rules: { channels: [{ id: 'web', priority: 1 }] },
    locations: [{ id: 'DC1', type: 'dc' }],
  };
}

function book(sku: string, lsn: number): SkuState {
  return {
    sku,
    group: '',
    lsn,
    positions: [{ location: 'DC1', onHand: 10, feedAsOf: 1, orders: [['o1', 2]] }],
    reservations: [
      {
        id: `r-${sku}`,
        channel: 'web',
        qty: 1,
        location: null,
        lines: [['DC1', 1]],
        expiresAt: 1_767_226_500_000,
        state: 'held',
        orderId: null,
        endedAt: 0,
      },
    ],
    recentOps: [],
  };
}

async function writeSnapshot(
  store: Store,
  startSeq: number,
  chunks: SnapshotItem[][],
): Promise<void> {
  const writer = await store.beginSnapshot(header(startSeq));
  for (const chunk of chunks) await writer.writeChunk(chunk);
  await writer.commit(startSeq + 1);
}

async function loadedChunks(store: Store): Promise<{ startSeq: number; chunks: SnapshotItem[][] }> {
  const snapshot = await store.loadSnapshot();
  if (snapshot === null) throw new Error('no snapshot');
  const chunks: SnapshotItem[][] = [];
  for await (const chunk of snapshot.chunks()) chunks.push([...chunk]);
  return { startSeq: snapshot.header.startSeq, chunks };
}

// ---- against one shared server -----------------------------------------------------------------

describe('RedisStore', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('appends one entry per call and reads the records back in order', async () => {
    const store = await openStore(redis);
    await store.append(records(1, 3));
    await store.append(records(4, 4));
    await store.append(records(5, 9));
    // toEqual: an optional field left undefined is not written (absent and undefined are one).
    expect(await readAll(store)).toEqual(records(1, 9));
    // From inside an entry: the entry holding the sequence is read and cut.
    expect(seqs(await readAll(store, 2))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seqs(await readAll(store, 7))).toEqual([7, 8, 9]);
    expect(await readAll(store, 10)).toEqual([]);
    const raw = rawClient(redis);
    expect(await raw.xlen(`${prefixOf(store)}:journal`)).toBe(3);
    expect(store.stats()).toMatchObject({ appendErrors: 0, corruptRecords: 0 });
    expect(store.stats().bytesAppended).toBeGreaterThan(0);
    expect(store.health()).toEqual({ ready: true, detail: 'ready' });
  });

  it('pages through a long journal', async () => {
    const store = await openStore(redis);
    for (let seq = 1; seq <= 450; seq += 2) await store.append(records(seq, seq + 1));
    const batches: number[] = [];
    for await (const batch of store.readJournal(1)) batches.push(batch.length);
    expect(batches.length).toBeGreaterThan(1);
    expect(seqs(await readAll(store))).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
  });

  it('refuses a sequence the journal already holds, and resync returns what landed', async () => {
    const store = await openStore(redis);
    await store.append(records(1, 3));
    // A write whose reply was lost but which Redis applied: another client adds it here.
    const raw = rawClient(redis);
    await raw.xadd(`${prefixOf(store)}:journal`, '4-0', 'r', packBlob(records(4, 6)));
    const refused = await rejection(store.append(records(4, 5)));
    expect(refused.code).toBe('STORE_CONFLICT');
    expect(store.stats().appendErrors).toBe(1);
    expect(seqs(await store.resync(3))).toEqual([4, 5, 6]);
    // From inside an entry, and with nothing after.
    expect(seqs(await store.resync(4))).toEqual([5, 6]);
    expect(await store.resync(6)).toEqual([]);
    await store.append(records(7, 7));
    expect(seqs(await readAll(store))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('ends the journal at a corrupt entry or a gap, and counts it', async () => {
    const { log, warned } = capture();
    const store = await openStore(redis, {}, log);
    await store.append(records(1, 2));
    await store.append(records(3, 4));
    const raw = rawClient(redis);
    const key = `${prefixOf(store)}:journal`;
    await raw.xadd(key, '5-0', 'r', Buffer.from('not a frame at all'));
    await raw.xadd(key, '6-0', 'r', Buffer.alloc(0));
    expect(seqs(await readAll(store))).toEqual([1, 2, 3, 4]);
    expect(store.stats().corruptRecords).toBe(1);
    expect(warned('corrupt journal entry')).toBe(true);

    const gap = await openStore(redis, {}, log);
    await gap.append(records(1, 2));
    await gap.append(records(5, 6)); // 3 and 4 never made it
    expect(seqs(await readAll(gap))).toEqual([1, 2]);
    expect(gap.stats().corruptRecords).toBe(1);
  });

  it('writes, commits and loads a snapshot of several chunks', async () => {
    const store = await openStore(redis);
    const chunks = [
      [book('A', 3), book('B', 4)],
      [book('C', 5)],
      [book('D', 6), book('E', 7), book('F', 2)],
    ];
    const writer = await store.beginSnapshot(header(3));
    for (const chunk of chunks) await writer.writeChunk(chunk);
    const info = await writer.commit(7);
    expect(info).toMatchObject({ startSeq: 3, coversSeq: 7, chunks: 3 });
    expect(info.bytes).toBeGreaterThan(0);
    const snapshot = await store.loadSnapshot();
    expect(snapshot?.header).toStrictEqual(header(3));
    expect(snapshot?.coversSeq).toBe(7);
    expect(await loadedChunks(store)).toStrictEqual({ startSeq: 3, chunks });
    // Nothing journaled since: a second snapshot at the same sequence keeps the first.
    const again = await store.beginSnapshot(header(3));
    await again.writeChunk([book('Z', 1)]);
    expect(await again.commit(7)).toEqual(info);
    expect(await loadedChunks(store)).toStrictEqual({ startSeq: 3, chunks });
    expect(store.stats().corruptSnapshots).toBe(0);
  });

  it('never loads a snapshot that was not committed, and cleans up what it left', async () => {
    const store = await openStore(redis);
    expect(await store.loadSnapshot()).toBeNull();
    await writeSnapshot(store, 5, [[book('A', 4)]]);
    const torn = await store.beginSnapshot(header(10));
    await torn.writeChunk([book('A', 9)]);
    await torn.writeChunk([book('B', 9)]);
    expect((await loadedChunks(store)).startSeq).toBe(5);
    await torn.abort();
    const raw = rawClient(redis);
    const prefix = prefixOf(store);
    expect(await raw.exists(`${prefix}:snap:10:0`, `${prefix}:snap:10:1`)).toBe(0);

    // A writer that died mid-way (its process crashed): the next trim removes its chunks.
    const crashed = await store.beginSnapshot(header(12));
    await crashed.writeChunk([book('A', 11)]);
    const next = await openStore(redis, { keyPrefix: prefix });
    expect((await loadedChunks(next)).startSeq).toBe(5);
    await next.trim(1, 2);
    expect(await raw.exists(`${prefix}:snap:12:0`)).toBe(0);
    expect(await raw.zcard(`${prefix}:snaps:pending`)).toBe(0);
    expect((await loadedChunks(next)).startSeq).toBe(5);
  });

  it('falls back to the older snapshot when a chunk is corrupt, and counts it', async () => {
    const { log, warned } = capture();
    const store = await openStore(redis, {}, log);
    await writeSnapshot(store, 5, [[book('A', 4)], [book('B', 4)]]);
    await writeSnapshot(store, 10, [[book('A', 9)], [book('B', 9)], [book('C', 9)]]);
    expect((await loadedChunks(store)).startSeq).toBe(10);
    const raw = rawClient(redis);
    await raw.set(`${prefixOf(store)}:snap:10:1`, 'garbage');
    const loaded = await loadedChunks(store);
    expect(loaded).toStrictEqual({ startSeq: 5, chunks: [[book('A', 4)], [book('B', 4)]] });
    expect(store.stats().corruptSnapshots).toBe(1);
    expect(warned('snapshot is torn or corrupt')).toBe(true);
    // A missing manifest or chunk is skipped the same way; none left gives null.
    await raw.del(`${prefixOf(store)}:snap:5:0`);
    expect(await store.loadSnapshot()).toBeNull();
    expect(store.stats().corruptSnapshots).toBe(3);
  });

  it('trims the journal below a sequence and keeps the newest snapshots', async () => {
    const store = await openStore(redis);
    await store.append(records(1, 3));
    await store.append(records(4, 6));
    await store.append(records(7, 9));
    await store.append(records(10, 10));
    await writeSnapshot(store, 1, [[book('A', 0)]]);
    await writeSnapshot(store, 4, [[book('A', 3)], [book('B', 3)]]);
    await writeSnapshot(store, 7, [[book('A', 6)]]);
    await store.trim(5, 2);
    // The entry holding seq 5 starts at 4: it stays, with everything after it.
    expect(seqs(await readAll(store))).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(seqs(await readAll(store, 5))).toEqual([5, 6, 7, 8, 9, 10]);
    const raw = rawClient(redis);
    const prefix = prefixOf(store);
    expect(await raw.zrevrange(`${prefix}:snaps`, 0, -1)).toEqual(['7', '4']);
    expect(await raw.exists(`${prefix}:snap:1`, `${prefix}:snap:1:0`)).toBe(0);
    expect(await raw.exists(`${prefix}:snap:4`, `${prefix}:snap:4:0`, `${prefix}:snap:4:1`)).toBe(
      3,
    );
    // Trimming past the end keeps the last entry: the stream still knows its last sequence.
    await store.trim(100, 1);
    expect(seqs(await readAll(store))).toEqual([10]);
    expect(await raw.zrevrange(`${prefix}:snaps`, 0, -1)).toEqual(['7']);
    expect((await rejection(store.append(records(10, 10)))).code).toBe('STORE_CONFLICT');
    await store.append(records(11, 11));
  });

  it('replays into a fresh engine to the same state (end to end)', async () => {
    const prefix = uniquePrefix();
    const store = await openStore(redis, { keyPrefix: prefix });
    const rules = { channels: [{ id: 'web', priority: 1 }] };
    const clock = new ManualClock();
    const engine = new StockEngine({ rules, clock, partitions: 2 });
    cleanups.push(() => engine.stop());
    engine.storage.attachJournal(store, 0);
    engine.upsertLocations([
      { id: 'DC1', type: 'dc' },
      { id: 'S1', type: 'store', name: undefined },
    ]);
    engine.upsertProducts([{ sku: 'A' }, { sku: 'B', group: 'shoes' }]);
    for (const [sku, location, onHand] of [
      ['A', 'DC1', 10],
      ['A', 'S1', 3],
      ['B', 'DC1', 8],
    ] as const) {
      await engine.execute({ op: 'setOnHand', sku, location, onHand, asOf: 1 });
    }
    // Many in one turn: one group commit, one stream entry.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        engine.execute({
          op: 'reserve',
          reservationId: `r${i}`,
          channel: 'web',
          sku: i % 2 === 0 ? 'A' : 'B',
          qty: 1,
          location: i % 3 === 0 ? 'DC1' : undefined,
          ttlMs: undefined,
        }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    await engine.execute({ op: 'release', reservationId: 'r1' });
    await engine.execute({ op: 'confirm', reservationId: 'r2', orderId: 'o1' });
    clock.advance(20 * 60_000); // the rest expire; the expiries are journaled too
    await engine.settle();
    await engine.durable();
    expect(engine.storage.journal().durableSeq).toBeGreaterThan(15);

    const reader = await openStore(redis, { keyPrefix: prefix });
    const fresh = new StockEngine({ rules, clock: new ManualClock(), partitions: 3 });
    cleanups.push(() => fresh.stop());
    for await (const batch of reader.readJournal(1)) fresh.storage.replay(batch);
    expect({ ...fresh.storage.exportState(), takenAt: 0 }).toStrictEqual({
      ...engine.storage.exportState(),
      takenAt: 0,
    });
    expect(fresh.position('A', 'DC1')).toEqual(engine.position('A', 'DC1'));
  });

  it('refuses to write after Redis lost acknowledged writes (strict)', async () => {
    const store = await openStore(redis, { strict: true });
    await store.append(records(1, 3));
    const raw = rawClient(redis);
    await raw.del(`${prefixOf(store)}:journal`); // what a failover to a lagging replica does
    // Cut the store's connection: it reconnects and checks the journal's tail first.
    await dropConnection(raw, store);
    await waitUntil(
      () => !store.health().ready && store.health().detail.includes('lost'),
      'loss found',
    );
    const refused = await rejection(store.append(records(4, 4)));
    expect(refused.code).toBe('STORE_CORRUPT');
    expect((await rejection(store.resync(3))).code).toBe('STORE_CORRUPT');
  });
});

// ---- settings: a server each -------------------------------------------------------------------

// These tests read the error's text on purpose: it is the advice an operator acts on (which
// setting, which value). The failure itself is matched by its code, STORE_MISCONFIGURED, which
// has no finer code per setting.
describe('RedisStore settings check', () => {
  const servers: RedisHandle[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });
  async function server(options: Parameters<typeof startRedis>[0]): Promise<RedisHandle> {
    const s = await startRedis(options);
    servers.push(s);
    return s;
  }

  it('strict mode refuses appendonly no with a clear message; otherwise it warns', async () => {
    const redis = await server({ appendonly: 'no' });
    const error = await rejection(openStore(redis, { strict: true }));
    expect(error.code).toBe('STORE_MISCONFIGURED');
    expect(error.message).toMatch(
      /appendonly no.*lost when Redis restarts.*set appendonly yes and appendfsync always/,
    );
    const { log, warned } = capture();
    const store = await openStore(redis, { strict: false }, log);
    expect(warned('appendonly no')).toBe(true);
    await store.append(records(1, 1));
  });

  it('strict mode refuses appendfsync everysec; otherwise it warns of ~1 s', async () => {
    const redis = await server({ appendfsync: 'everysec' });
    const error = await rejection(openStore(redis, { strict: true }));
    expect(error.code).toBe('STORE_MISCONFIGURED');
    expect(error.message).toContain('set appendfsync always');
    const { log, warned } = capture();
    await openStore(redis, { strict: false }, log);
    expect(warned('up to about 1 s')).toBe(true);
  });

  it('strict mode refuses when CONFIG is disabled (managed Redis); otherwise it warns', async () => {
    const redis = await server({ args: ['--rename-command', 'CONFIG', ''] });
    const error = await rejection(openStore(redis, { strict: true }));
    expect(error.code).toBe('STORE_MISCONFIGURED');
    expect(error.message).toContain('could not check');
    const { log, warned } = capture();
    await openStore(redis, { strict: false }, log);
    expect(warned('could not check')).toBe(true);
  });

  it('strict mode refuses an eviction policy that may drop journal keys', async () => {
    const redis = await server({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    const error = await rejection(openStore(redis, { strict: true }));
    expect(error.code).toBe('STORE_MISCONFIGURED');
    expect(error.message).toContain('allkeys-lru');
    expect(error.message).toContain('set maxmemory-policy noeviction');
    const { log, warned } = capture();
    await openStore(redis, { strict: false }, log);
    expect(warned('would evict journal entries')).toBe(true);
  });

  it('reports an unreachable Redis without its password', async () => {
    const redis = await server({});
    const port = redis.port;
    await redis.kill('SIGKILL');
    const store = new RedisStore(
      { url: `redis://user:s3cret@127.0.0.1:${port}`, keyPrefix: uniquePrefix(), strict: true },
      silent,
    );
    const error = await rejection(store.open());
    expect(error.code).toBe('STORE_UNREACHABLE');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).not.toContain('s3cret');
    expect(store.health().ready).toBe(false);
  });
});

// ---- outages: a server each --------------------------------------------------------------------

describe('RedisStore during a Redis outage', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('fails fast while Redis is down and recovers by itself after a restart', async () => {
    // A timeout far beyond the test's own: a write that waited for it instead of failing on the
    // lost connection would fail this test by its cause, whatever the machine's speed.
    const { log, warned } = capture();
    const store = await openStore(redis, { commandTimeoutMs: 600_000 }, log);
    await store.append(records(1, 2));
    await redis.kill('SIGKILL');
    // At once, before the client may have noticed: the write in flight fails with the
    // connection, it does not wait for a reply.
    const error = await rejection(store.append(records(3, 4)));
    expect(error.code).toBe('STORE_UNREACHABLE');
    expect(error.cause).not.toBeInstanceOf(RedisCommandTimeout);
    await waitUntil(() => !store.health().ready, 'the store sees Redis gone');
    expect(store.health().detail).not.toBe('ready');
    // Once it knows, without a round trip: refused before any I/O could have happened.
    expect(await settledBeforeIo(store.append(records(3, 4)))).toMatchObject({
      code: 'STORE_UNREACHABLE',
    });
    expect(await rejection(store.resync(2))).toMatchObject({ code: 'STORE_UNREACHABLE' });
    expect(store.stats().appendErrors).toBe(2);
    expect(warned('redis connection lost')).toBe(true);

    await redis.restart();
    await waitUntil(() => store.health().ready, 'the store reconnects by itself');
    expect(await store.resync(2)).toEqual([]); // the AOF kept 1-2 and nothing more landed
    await store.append(records(3, 4));
    expect(seqs(await readAll(store))).toEqual([1, 2, 3, 4]);
    expect(store.health()).toEqual({ ready: true, detail: 'ready' });
  });

  it('times out while Redis is paused; the write lands on resume and resync returns it', async () => {
    const timeout = 300;
    const store = await openStore(redis, { commandTimeoutMs: timeout });
    await store.append(records(1, 1));
    await redis.pause();
    try {
      const error = await rejection(store.append(records(2, 3)));
      expect(error.code).toBe('STORE_UNREACHABLE');
      // Told a timeout by the store's own timer, not by how long the failure took.
      expect(error.cause).toBeInstanceOf(RedisCommandTimeout);
      expect(error.cause).toMatchObject({ timeoutMs: timeout });
      const again = await rejection(store.resync(1));
      expect(again.code).toBe('STORE_UNREACHABLE');
      expect(again.cause).toBeInstanceOf(RedisCommandTimeout);
      expect(store.health().ready).toBe(true); // the connection itself is up
    } finally {
      await redis.resume();
    }
    // The XADD was queued in the paused server: it is applied first, and resync sees it.
    expect(seqs(await store.resync(1))).toEqual([2, 3]);
    await store.append(records(4, 4));
    expect(seqs(await readAll(store))).toEqual([1, 2, 3, 4]);
    expect(store.health().ready).toBe(true);
  });

  it('refuses journal writes (strict) when Redis comes back with settings that lose them', async () => {
    const store = await openStore(redis, { strict: true });
    await store.append(records(1, 1));
    const raw = rawClient(redis);
    await raw.config('SET', 'appendfsync', 'everysec');
    try {
      await dropConnection(raw, store);
      await waitUntil(() => store.health().detail.includes('appendfsync'), 'the settings refused');
      expect(store.health().ready).toBe(false);
      const refused = await rejection(store.append(records(2, 2)));
      expect(refused.code).toBe('STORE_MISCONFIGURED');
      expect((await rejection(store.resync(1))).code).toBe('STORE_MISCONFIGURED');
    } finally {
      await raw.config('SET', 'appendfsync', 'always');
    }
    // Resync checks again: fixed without a restart, the journal is taken again.
    expect(await store.resync(1)).toEqual([]);
    await store.append(records(2, 2));
    expect(store.health()).toEqual({ ready: true, detail: 'ready' });
  });

  it('carries an engine through a pause: UNAVAILABLE, then resync applies what landed', async () => {
    const store = await openStore(redis, { commandTimeoutMs: 400 });
    const clock = new ManualClock();
    const world = {
      rules: { channels: [{ id: 'web', priority: 1 }] },
      locations: [{ id: 'DC1', type: 'dc' }],
      products: [{ sku: 'A' }],
    };
    const engine = new StockEngine({ ...world, clock, partitions: 2 });
    cleanups.push(() => engine.stop());
    engine.storage.attachJournal(store, 0);
    expect(
      await engine.execute({ op: 'setOnHand', sku: 'A', location: 'DC1', onHand: 5, asOf: 1 }),
    ).toMatchObject({ ok: true });
    await redis.pause();
    try {
      const reserve = {
        op: 'reserve',
        reservationId: 'g1',
        channel: 'web',
        sku: 'A',
        qty: 2,
      } as const;
      expect(await engine.execute(reserve)).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
      expect(engine.storage.journal().available).toBe(false);
      expect(engine.reservation('g1')).toBeNull(); // taken back: the outcome is unknown
      clock.advance(100); // the first resync: sent while paused, answered after resume
    } finally {
      await redis.resume();
    }
    await waitUntil(() => {
      clock.advance(1_000);
      return engine.storage.journal().available;
    }, 'the engine resyncs');
    // The XADD was applied when Redis resumed: resync handed it back and the engine replayed it.
    expect(engine.reservation('g1')).toMatchObject({ state: 'held', qty: 2 });
    expect(
      await engine.execute({
        op: 'reserve',
        reservationId: 'g2',
        channel: 'web',
        sku: 'A',
        qty: 3,
      }),
    ).toMatchObject({ ok: true });
    await engine.durable();
    const fresh = new StockEngine({ ...world, clock: new ManualClock(), partitions: 1 });
    cleanups.push(() => fresh.stop());
    for await (const batch of store.readJournal(1)) fresh.storage.replay(batch);
    expect(fresh.position('A', 'DC1')).toEqual(engine.position('A', 'DC1'));
    expect(fresh.position('A', 'DC1')).toMatchObject({ onHand: 5, reserved: 5 });
  });
});
