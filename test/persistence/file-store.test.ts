import {
  appendFileSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  type Clock,
  type JournalRecord,
  type StockEngine,
  type TimerHandle,
} from '../../engine/index.ts';
import { FileStore, recover, Snapshotter } from '../../persistence/index.ts';
import { checkFrame, encodeFrame } from '../../persistence/record-codec.ts';
import { comparable, newEngine, silent, tempDir } from './engine-fixture.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A journal record of a release of `r<seq>`: the smallest record there is. */
function release(seq: number): JournalRecord {
  return {
    seq,
    at: seq,
    entry: { type: 'command', cmd: { op: 'release', reservationId: `r${seq}` } },
  };
}

function fileStore(dir: string, segmentBytes = 64 * 1024 * 1024): FileStore {
  const store = new FileStore({ dir, fsync: 'always', segmentBytes }, silent);
  cleanups.push(() => store.close());
  return store;
}

async function openEngine<C extends Clock = ManualClock>(
  dir: string,
  clock: C = new ManualClock() as Clock as C,
  segmentBytes?: number,
) {
  const store = fileStore(dir, segmentBytes);
  await store.open();
  const engine = newEngine(clock);
  cleanups.push(() => engine.stop());
  const report = await recover(engine, store, silent);
  return { store, engine, report, clock };
}

/** Snapshots taken only when a test calls `take()`, of `chunkBooks` books a chunk. */
function manualSnapshotter(
  opened: { engine: StockEngine; store: FileStore; clock: Clock },
  chunkBooks: number,
): Snapshotter {
  const snapshotter = new Snapshotter(
    opened.engine,
    opened.store,
    { everyRecords: 1e9, everyMs: 1e9, chunkBooks },
    opened.clock,
    silent,
    0,
  );
  cleanups.push(() => snapshotter.stop());
  return snapshotter;
}

async function load(engine: StockEngine, n: number, from = 0): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      engine.execute({
        op: 'setOnHand',
        sku: `SKU-${(from + i) % 50}`,
        location: i % 2 ? 'S1' : 'DC1',
        onHand: 100 + i,
        asOf: from + i + 1,
      }),
    ),
  );
}

async function reserveMany(engine: StockEngine, prefix: string, n: number): Promise<number> {
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      engine.execute({
        op: 'reserve',
        reservationId: `${prefix}${i}`,
        channel: 'web',
        sku: `SKU-${i % 50}`,
        qty: 1,
      }),
    ),
  );
  return results.filter((r) => r.ok).length;
}

describe('file store', () => {
  it('keeps every acknowledged change across a restart', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openEngine(dir);
    expect(first.report.fresh).toBe(true);
    await load(first.engine, 100);
    expect(await reserveMany(first.engine, 'r', 200)).toBe(200);
    await first.engine.execute({ op: 'release', reservationId: 'r7' });
    await first.engine.execute({ op: 'confirm', reservationId: 'r8', orderId: 'o1' });
    first.clock.advance(600_000); // the rest expire, and the expiries are journaled
    await first.engine.settle();
    await first.engine.durable();
    const before = first.engine.storage.exportState();
    await first.engine.stop();
    await first.store.close();

    const second = await openEngine(dir, new ManualClock(first.clock.now()));
    expect(second.report).toMatchObject({ fresh: false, recordsReplayed: 100 + 200 + 2 + 198 });
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(before));
    expect(second.engine.reservation('r9')?.state).toBe('expired');
    // Replay used each record's own time, not the wall clock.
    expect(second.engine.reservation('r9')?.expiresAt).toBe(
      first.engine.reservation('r9')?.expiresAt,
    );
  });

  it('ends replay at a torn tail, logs it and keeps appending cleanly after it', async () => {
    // (frames hold one group commit each; see record-codec.ts)
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openEngine(dir);
    await load(first.engine, 20);
    await first.engine.durable();
    const good = first.engine.storage.exportState();
    await load(first.engine, 5, 100);
    await first.engine.durable();
    const final = first.engine.storage.exportState();
    await first.engine.stop();
    await first.store.close();
    // A crash mid-write: the last record is cut short, and garbage follows it.
    const segment = join(dir, 'journal', readdirSync(join(dir, 'journal'))[0] as string);
    truncateSync(segment, statSync(segment).size - 7);
    appendFileSync(segment, Buffer.from([0xde, 0xad]));

    const second = await openEngine(dir);
    expect(second.store.stats().corruptRecords).toBe(1);
    // The second load was one group commit, so one frame: torn, it is dropped whole (none of its
    // commands had been answered before all of it was durable).
    expect(second.report.recordsReplayed).toBe(20);
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(good));
    expect(comparable(final)).not.toEqual(comparable(good));
    await reserveMany(second.engine, 'x', 10);
    const state = second.engine.storage.exportState();
    await second.engine.stop();
    await second.store.close();

    const third = await openEngine(dir);
    expect(third.store.stats().corruptRecords).toBe(0);
    expect(comparable(third.engine.storage.exportState())).toEqual(comparable(state));
  });

  it('snapshots while commands run, recovers from the snapshot plus the journal, and trims', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openEngine(dir, new ManualClock(), 4_096);
    const snapshotter = manualSnapshotter(first, 3);
    await load(first.engine, 100);
    for (let round = 0; round < 3; round++) {
      // Commands keep arriving while the snapshot walks the books three at a time.
      const [info] = await Promise.all([
        snapshotter.take(),
        reserveMany(first.engine, `s${round}-`, 120),
        load(first.engine, 30, 1_000 + round * 30),
      ]);
      expect(info).not.toBeNull();
    }
    await first.engine.durable();
    const before = first.engine.storage.exportState();
    expect(readdirSync(join(dir, 'snapshots')).filter((n) => n.endsWith('.snap'))).toHaveLength(2);
    const segmentsLeft = readdirSync(join(dir, 'journal')).length;
    await first.engine.stop();
    await first.store.close();

    const second = await openEngine(dir, new ManualClock(first.clock.now()), 4_096);
    expect(second.report.snapshotStartSeq).toBe(snapshotter.stats.lastStartSeq);
    expect(second.report.recordsSkipped).toBeGreaterThan(0); // records a chunk already held
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(before));
    expect(segmentsLeft).toBeLessThan(first.engine.storage.journal().durableSeq / 20); // old segments trimmed
  });

  it('falls back to the older snapshot when the newest is corrupt', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openEngine(dir);
    const snapshotter = manualSnapshotter(first, 10);
    await load(first.engine, 60);
    await snapshotter.take();
    await reserveMany(first.engine, 'a', 40);
    await snapshotter.take();
    await reserveMany(first.engine, 'b', 40);
    await first.engine.durable();
    const before = first.engine.storage.exportState();
    await first.engine.stop();
    await first.store.close();
    const snaps = readdirSync(join(dir, 'snapshots')).sort();
    const newest = join(dir, 'snapshots', snaps[snaps.length - 1] as string);
    const bytes = readFileSync(newest);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    writeFileSync(newest, bytes);

    const second = await openEngine(dir, new ManualClock(first.clock.now()));
    expect(second.store.stats().corruptSnapshots).toBe(1);
    expect(second.report.snapshotStartSeq).toBe(Number((snaps[0] as string).slice(0, 16)));
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(before));
  });

  it('refuses to start from a snapshot chunk that passes its CRC but is not a chunk', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openEngine(dir);
    const snapshotter = manualSnapshotter(first, 10);
    await load(first.engine, 60);
    await snapshotter.take();
    await first.engine.stop();
    await first.store.close();
    // Chunks are decoded as they are imported: the second chunk is replaced by a whole frame (its
    // CRC right) of something else, which only a bug could write.
    const [name] = readdirSync(join(dir, 'snapshots'));
    const path = join(dir, 'snapshots', name ?? '');
    const bytes = readFileSync(path);
    const frames: Buffer[] = [];
    for (let at = 0; ;) {
      const frame = checkFrame(bytes, at);
      if (frame.kind !== 'frame') break;
      frames.push(bytes.subarray(at, frame.next));
      at = frame.next;
    }
    expect(frames.length).toBeGreaterThan(3);
    frames[2] = encodeFrame({ type: 'end', coversSeq: 0, chunks: 0 });
    writeFileSync(path, Buffer.concat(frames));

    await expect(openEngine(dir)).rejects.toMatchObject({
      name: 'PersistenceError',
      code: 'STORE_CORRUPT',
      message: expect.stringContaining(path) as unknown,
    });
  });

  it('never loads a snapshot that was not committed', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openEngine(dir);
    await load(first.engine, 10);
    const writer = await first.store.beginSnapshot(first.engine.storage.beginSnapshot().header);
    await writer.writeChunk([]);
    await first.engine.stop();
    await first.store.close();
    const second = await openEngine(dir);
    expect(second.report.snapshotStartSeq).toBeNull();
    expect(second.report.recordsReplayed).toBe(10);
  });

  it('round-trips records with optional fields left out', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = fileStore(dir);
    await store.open();
    const records: JournalRecord[] = [
      {
        seq: 1,
        at: 5,
        entry: {
          type: 'command',
          cmd: {
            op: 'reserve',
            reservationId: 'r',
            channel: 'web',
            sku: 'A',
            qty: 1,
            location: undefined,
          },
        },
      },
      {
        seq: 2,
        at: 6,
        entry: { type: 'rules', rules: { channels: [{ id: 'web', priority: 1 }] } },
      },
    ];
    await store.append(records);
    const read: JournalRecord[] = [];
    for await (const batch of store.readJournal(1)) read.push(...batch);
    expect(read).toEqual(records);
  });

  it('reads a large group commit a slice at a time, from a sequence inside it', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = fileStore(dir);
    await store.open();
    const first = Array.from({ length: 3_000 }, (_, i) => release(i + 1));
    const second = Array.from({ length: 10 }, (_, i) => release(3_001 + i));
    await store.append(first);
    await store.append(second);
    const batches: JournalRecord[][] = [];
    for await (const batch of store.readJournal(1_500)) batches.push([...batch]);
    expect(batches.flat()).toEqual([...first.slice(1_499), ...second]);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(1_024);
  });

  it('reads the journal as it is when read, after a segment was read ahead at snapshot load', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    // One segment: the one read ahead is the one appended to.
    const store = fileStore(dir);
    await store.open();
    for (let seq = 1; seq <= 12; seq++) await store.append([release(seq)]);
    const writer = await store.beginSnapshot({
      format: 2,
      takenAt: 0,
      startSeq: 5,
      metaLsn: 0,
      rules: { channels: [{ id: 'web', priority: 1 }] },
      locations: [],
    });
    await writer.commit(4);
    expect(await store.loadSnapshot()).not.toBeNull();
    // Written after the read ahead started: still read.
    for (let seq = 13; seq <= 15; seq++) await store.append([release(seq)]);
    const read: JournalRecord[] = [];
    for await (const batch of store.readJournal(5)) read.push(...batch);
    expect(read.map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('applies nothing of a group commit whose CRC checks out but whose records do not decode', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = fileStore(dir);
    await store.open();
    await store.append([release(1)]);
    await store.append(Array.from({ length: 2_000 }, (_, i) => release(i + 2)));
    await store.close();
    // Break the second frame's last record (its tag), then fix the CRC: a bug, not a torn write.
    const path = join(dir, 'journal', readdirSync(join(dir, 'journal'))[0] as string);
    const buf = readFileSync(path);
    const second = (checkFrame(buf, 0) as { next: number }).next;
    const length = buf.readUInt32LE(second);
    const payload = buf.subarray(second + 8, second + 8 + length);
    const lastTag = payload.length - (1 + 8 + 8 + 1 + 2 + `r2001`.length);
    payload[lastTag] = 250;
    buf.writeUInt32LE(crc32(payload), second + 4);
    writeFileSync(path, buf);
    const reread = fileStore(dir);
    await reread.open();
    const read: JournalRecord[] = [];
    for await (const batch of reread.readJournal(1)) read.push(...batch);
    expect(read).toEqual([release(1)]);
    expect(reread.stats().corruptRecords).toBe(1);
  });

  it('does not expire reservations while it recovers: a confirm later in the journal still finds its hold', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const start = Date.now();
    // Small segments: the reserve and its confirm land in different segments, read in turns.
    const first = await openEngine(dir, new ManualClock(start), 512);
    await load(first.engine, 20);
    const r = await first.engine.execute({
      op: 'reserve',
      reservationId: 'late-confirm',
      channel: 'web',
      sku: 'SKU-3',
      location: 'S1',
      qty: 2,
    });
    expect(r.ok).toBe(true);
    await load(first.engine, 40, 20);
    const c = await first.engine.execute({
      op: 'confirm',
      reservationId: 'late-confirm',
      orderId: 'o-late',
    });
    expect(c.ok).toBe(true);
    await first.engine.durable();
    const before = first.engine.storage.exportState();
    await first.engine.stop();
    await first.store.close();
    expect(readdirSync(join(dir, 'journal')).length).toBeGreaterThan(2);

    // Restarted an hour later on a real timer: the hold's expiry is long past. Its timer must not
    // fire between two segments (it would expire the hold unjournaled, and the confirm replayed
    // next would be refused, losing the order's allocation).
    const later: Clock = {
      now: () => start + 3_600_000,
      schedule: (at, fn) => {
        const timeout = setTimeout(fn, Math.max(0, at - (start + 3_600_000)));
        return { id: 0, timeout } as unknown as TimerHandle;
      },
      cancel: (handle) => {
        clearTimeout((handle as unknown as { timeout: NodeJS.Timeout }).timeout);
      },
    };
    const second = await openEngine(dir, later, 512);
    await second.engine.settle();
    expect(comparable(second.engine.storage.exportState())).toEqual(comparable(before));
    expect(second.engine.position('SKU-3', 'S1')?.allocated).toBe(2);
  });
});
