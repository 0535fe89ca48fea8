import fc from 'fast-check';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Command, JournalEntry, JournalRecord } from '../../engine/index.ts';
import { FileStore, PersistenceError } from '../../persistence/index.ts';
import { JOURNAL_FORMAT, JOURNAL_MAGIC } from '../../persistence/journal-codec.ts';
import {
  decodeRecords,
  encodeRecords,
  encodeRecordsV1,
  FRAME_HEADER,
  readFrame,
} from '../../persistence/record-codec.ts';
import { silent, tempDir } from './engine-fixture.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

// Any string the engine might hold, multi-byte UTF-8 included; and longer ASCII ones (the writer
// copies ASCII by hand, and falls back to Buffer#write at the first char outside it).
const id = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }),
  fc.string({ minLength: 60, maxLength: 90 }),
);
// Format 2 keeps every double (NaN aside); format 1 (msgpack) wrote -0 as 0, so its test uses
// the integers the engine accepts.
const anyNumber = fc.oneof(fc.integer({ min: -1e9, max: 1e9 }), fc.double({ noNaN: true }));
const integer = fc.integer({ min: -1e9, max: 1e9 });

/** Commands with every optional field both present and absent (absent, not undefined). */
const commandArb = (num: fc.Arbitrary<number>): fc.Arbitrary<Command> =>
  fc.oneof(
    fc.record({ op: fc.constant('setOnHand'), sku: id, location: id, onHand: num, asOf: num }),
    fc.record(
      {
        op: fc.constant('adjust'),
        adjustmentId: id,
        sku: id,
        location: id,
        delta: num,
        asOf: num,
      },
      { requiredKeys: ['op', 'adjustmentId', 'sku', 'location', 'delta'] },
    ),
    fc.record(
      {
        op: fc.constant('reserve'),
        reservationId: id,
        channel: id,
        sku: id,
        qty: num,
        location: id,
        ttlMs: num,
        lines: fc.array(fc.tuple(id, num), { maxLength: 5 }),
      },
      { requiredKeys: ['op', 'reservationId', 'channel', 'sku', 'qty'] },
    ),
    fc.record(
      { op: fc.constant('release'), reservationId: id, channel: id },
      { requiredKeys: ['op', 'reservationId'] },
    ),
    fc.record(
      { op: fc.constant('confirm'), reservationId: id, orderId: id, channel: id },
      { requiredKeys: ['op', 'reservationId', 'orderId'] },
    ),
    fc.record({
      op: fc.constant('allocate'),
      allocationId: id,
      orderId: id,
      channel: id,
      sku: id,
      location: id,
      qty: num,
    }),
    fc.record({
      op: fc.constant('deallocate'),
      requestId: id,
      orderId: id,
      sku: id,
      location: id,
      qty: num,
    }),
    fc.record({
      op: fc.constant('ship'),
      shipmentId: id,
      orderId: id,
      sku: id,
      location: id,
      qty: num,
    }),
    fc.record({ op: fc.constant('expire'), reservationId: id, at: num }),
  );

const entryArb = (num: fc.Arbitrary<number>): fc.Arbitrary<JournalEntry> =>
  fc.oneof(
    { weight: 4, arbitrary: commandArb(num).map((cmd) => ({ type: 'command' as const, cmd })) },
    fc.record({
      type: fc.constant('rules' as const),
      rules: fc.constant({ channels: [{ id: 'web', priority: 1 }] }),
    }),
    fc.record({
      type: fc.constant('locations' as const),
      locations: fc.array(fc.record({ id, type: fc.constant('store' as const) }), { maxLength: 3 }),
    }),
    fc.record({
      type: fc.constant('ext' as const),
      kind: fc.constant('order'),
      record: fc.record({ event: fc.record({ orderId: id, n: fc.integer() }) }),
    }),
  );

const recordsArb = (num: fc.Arbitrary<number>): fc.Arbitrary<JournalRecord[]> =>
  fc
    .tuple(
      fc.integer({ min: 1, max: 2 ** 40 }),
      fc.array(entryArb(num), { minLength: 1, maxLength: 20 }),
    )
    .map(([first, entries]): JournalRecord[] =>
      entries.map((entry, i) => ({ seq: first + i, at: 1_767_225_600_000 + i, entry })),
    );

function roundTrip(buf: Buffer): JournalRecord[] | null {
  const frame = readFrame(buf, 0);
  if (frame.kind !== 'frame') throw new Error(`expected a frame, got ${frame.kind}`);
  expect(frame.next).toBe(buf.length);
  return decodeRecords(frame.value);
}

describe('the journal record layout (format 2)', () => {
  it('reads back every record it writes, for every command shape', () => {
    fc.assert(
      fc.property(recordsArb(anyNumber), (records) => {
        const buf = encodeRecords(records);
        expect(buf[FRAME_HEADER]).toBe(JOURNAL_MAGIC);
        expect(buf[FRAME_HEADER + 1]).toBe(JOURNAL_FORMAT);
        expect(roundTrip(buf)).toEqual(records);
      }),
      { numRuns: 300 },
    );
  });

  it('reads repeated channel and location names right however many there are (they are cached)', () => {
    const names = Array.from({ length: 2_000 }, (_, i) => (i % 3 === 0 ? `Lé${i}` : `L${i}`));
    const records: JournalRecord[] = Array.from({ length: 6_000 }, (_, i) => ({
      seq: i + 1,
      at: 1,
      entry: {
        type: 'command',
        cmd: {
          op: 'reserve',
          reservationId: `r${i}`,
          channel: names[(i * 7) % 13] as string,
          sku: 'S',
          qty: 1,
          location: names[(i * 7919) % names.length] as string,
          ttlMs: undefined,
          lines: undefined,
        },
      },
    }));
    expect(roundTrip(encodeRecords(records))).toEqual(records);
  });

  it('steps over the records before a sequence without building them, and reads the rest', () => {
    fc.assert(
      fc.property(recordsArb(anyNumber), fc.nat(), (records, k) => {
        const cut = k % (records.length + 1);
        const fromSeq = records[cut]?.seq ?? Infinity;
        const frame = readFrame(encodeRecords(records), 0, fromSeq);
        if (frame.kind !== 'frame') throw new Error(`expected a frame, got ${frame.kind}`);
        expect(decodeRecords(frame.value)).toEqual(records.slice(cut));
        expect(frame.lastSeq).toBe((records[records.length - 1] as JournalRecord).seq);
      }),
      { numRuns: 300 },
    );
  });

  it('still reads format 1 frames (msgpack), as earlier versions wrote them', () => {
    fc.assert(
      fc.property(recordsArb(integer), (records) => {
        expect(roundTrip(encodeRecordsV1(records))).toEqual(records);
      }),
      { numRuns: 100 },
    );
  });

  it('calls a cut or damaged payload torn, never a shorter list of records', () => {
    const records: JournalRecord[] = [
      { seq: 1, at: 5, entry: { type: 'command', cmd: { op: 'release', reservationId: 'r1' } } },
      { seq: 2, at: 6, entry: { type: 'command', cmd: { op: 'release', reservationId: 'r2' } } },
    ];
    const buf = encodeRecords(records);
    // A payload cut inside its last record, with a length and CRC that match the cut payload.
    const cut = buf.subarray(FRAME_HEADER, buf.length - 3);
    const reframed = Buffer.concat([Buffer.alloc(FRAME_HEADER), cut]);
    reframed.writeUInt32LE(cut.length, 0);
    reframed.writeUInt32LE(crc32(cut), 4);
    expect(readFrame(reframed, 0).kind).toBe('torn');
    // Stepping over records checks them as strictly as reading them.
    expect(readFrame(reframed, 0, Infinity).kind).toBe('torn');
    // An unknown tag.
    const bad = Buffer.from(buf);
    bad[FRAME_HEADER + 2] = 200;
    bad.writeUInt32LE(crc32(bad.subarray(FRAME_HEADER)), 4);
    expect(readFrame(bad, 0)).toMatchObject({ kind: 'torn' });
    expect(readFrame(bad, 0, Infinity)).toMatchObject({ kind: 'torn' });
  });

  it('refuses a journal written in a newer format and cuts nothing', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = new FileStore({ dir, fsync: 'always', segmentBytes: 1 << 20 }, silent);
    await store.open();
    await store.append([
      { seq: 1, at: 5, entry: { type: 'command', cmd: { op: 'release', reservationId: 'r1' } } },
    ]);
    await store.close();
    const [name] = readdirSync(join(dir, 'journal'));
    const segment = join(dir, 'journal', name ?? '');
    const buf = readFileSync(segment);
    buf[FRAME_HEADER + 1] = JOURNAL_FORMAT + 1;
    buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER)), 4);
    writeFileSync(segment, buf);
    const size = statSync(segment).size;

    const again = new FileStore({ dir, fsync: 'always', segmentBytes: 1 << 20 }, silent);
    const opened = again.open().then(async () => {
      for await (const batch of again.readJournal(1)) expect(batch).toEqual([]);
    });
    await expect(opened).rejects.toBeInstanceOf(PersistenceError);
    await expect(opened).rejects.toMatchObject({ code: 'STORE_TOO_NEW' });
    expect(statSync(segment).size).toBe(size);
  });
});
