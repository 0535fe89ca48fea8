import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { StockEngine, type SnapshotItem } from '../../engine/index.ts';
import type { Location } from '../../engine/master-data.ts';
import { Position } from '../../engine/position.ts';
import {
  blockWriter,
  readReservations,
  type ReadReservation,
} from '../../engine/reservation-block.ts';
import { Reservation, ReservationLine, reservationOf } from '../../engine/reservation.ts';
import { ReservationTimes } from '../../engine/reservation-times.ts';
import { comparable } from '../persistence/engine-fixture.ts';
import { harness, loadedFrom, LOCATIONS, stock, type Harness } from './fixtures.ts';

/** Printable ASCII, as reservation and order ids are (master-data.ts REF_PATTERN). */
const ref = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 128,
});

const holdArb = fc.record({
  id: ref,
  qty: fc.integer({ min: 1, max: 9 }),
  channel: fc.constantFrom('web', 'kiosk', 'mkt'),
  /** null: a network reserve (split over locations when one does not hold enough). */
  location: fc.option(fc.constantFrom('S1', 'S2', 'DC1'), { nil: null }),
  /** What happens to it afterwards. */
  fate: fc.constantFrom('held', 'released', 'confirmed', 'expires'),
  orderId: ref,
});

/**
 * A snapshot carries a book's reservations as one binary block (state format 4,
 * engine/reservation-block.ts). Whatever the reservations (ids of any printable character and
 * length, network ones split over locations, every state, orders, times), and wherever the chunks
 * cut a book, loading the snapshot gives back the state it was taken from.
 */
describe('reservation blocks in snapshots (fast-check)', () => {
  let h: Harness | null = null;
  let other: StockEngine | null = null;
  afterEach(async () => {
    await other?.stop();
    await h?.engine.stop();
    other = null;
    h = null;
  });

  it('load back the state they were taken from, for any reservations and any chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(holdArb, { selector: (r) => r.id, minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 3_000 }),
        async (holds, perChunk, later) => {
          await other?.stop();
          await h?.engine.stop();
          // Ended ones are purged a second after they end: the book's list loses some anywhere.
          h = harness({ tombstoneTtlMs: 1_000 });
          await stock(h, 'A', { S1: 30, S2: 20, DC1: 40 });
          await stock(h, 'B', { S1: 5, DC1: 10 });
          const granted: typeof holds = [];
          for (const [i, hold] of holds.entries()) {
            const r = await h.run({
              op: 'reserve',
              reservationId: hold.id,
              channel: hold.channel,
              sku: i % 3 === 2 ? 'B' : 'A',
              qty: hold.qty,
              ...(hold.location === null ? {} : { location: hold.location }),
              ...(hold.fate === 'expires' ? { ttlMs: 1_000 } : {}),
            });
            if (r.ok) granted.push(hold);
          }
          for (const hold of granted) {
            if (hold.fate === 'released') await h.ok({ op: 'release', reservationId: hold.id });
            if (hold.fate === 'confirmed') {
              await h.ok({ op: 'confirm', reservationId: hold.id, orderId: hold.orderId });
            }
          }
          h.clock.advance(later);
          await h.engine.settle();
          const before = h.engine.storage.exportState();

          const cursor = h.engine.storage.beginSnapshot();
          const chunks: SnapshotItem[][] = [];
          for (let c = cursor.next(50, perChunk); c !== null; c = cursor.next(50, perChunk)) {
            chunks.push(c);
          }
          // Every reservation went as a block, none as a record.
          for (const item of chunks.flat()) {
            if ('reservations' in item) expect(item.reservations).toEqual([]);
          }
          other = loadedFrom(chunks, h);
          expect(comparable(other.storage.exportState())).toEqual(comparable(before));
          for (const sku of ['A', 'B']) {
            for (const l of LOCATIONS) {
              expect(other.position(sku, l.id)).toEqual(h.engine.position(sku, l.id));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

function location(id: string): Location {
  return { id, type: 'store', pickup: true } as unknown as Location;
}

describe('a reservation block on its own', () => {
  const times = new ReservationTimes();
  const s1 = new Position('A', location('S1'), 0);
  const far = new Position('A', location('Zürich-Ost-ダ'), 1);
  const list: Reservation[] = [
    new Reservation('r-1', 'web', 2, 'S1', s1, 2, null, 1_000, times),
    reservationOf(
      'r-ü',
      'канал',
      5,
      null,
      [new ReservationLine(far, 3), new ReservationLine(s1, 2)],
      2_000,
      times,
    ),
  ];
  list[1]!.state = 'confirmed';
  list[1]!.orderId = 'Bestellung-ß';
  list[1]!.endedAt = 1_500;

  /** A block of `list[from]` to `list[to - 1]` as they are. */
  const block = (from: number, to: number): Uint8Array => {
    blockWriter.start();
    for (const r of list.slice(from, to)) {
      blockWriter.add(r, r.state, r.orderId, r.endedAt, r.expiresAt);
    }
    return blockWriter.finish();
  };

  const read = (bytes: Uint8Array): ReadReservation[] => {
    const out: ReadReservation[] = [];
    readReservations(bytes, (r) => out.push({ ...r, lines: [...r.lines] }));
    return out;
  };

  it('reads back what was written, UTF-8 included', () => {
    expect(read(block(0, 2))).toEqual([
      {
        id: 'r-1',
        channel: 'web',
        qty: 2,
        expiresAt: 1_000,
        endedAt: 0,
        state: 'held',
        orderId: null,
        location: 'S1',
        lines: ['S1', 2],
      },
      {
        id: 'r-ü',
        channel: 'канал',
        qty: 5,
        expiresAt: 2_000,
        endedAt: 1_500,
        state: 'confirmed',
        orderId: 'Bestellung-ß',
        location: null,
        lines: ['Zürich-Ost-ダ', 3, 'S1', 2],
      },
    ]);
    expect(read(block(1, 1))).toEqual([]);
  });

  it('refuses a block cut short, with bytes past its end, or of another version', () => {
    const bytes = block(0, 2);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => read(bytes.subarray(0, cut))).toThrow(/cut short|no lines|unknown flags/);
    }
    expect(() => read(Uint8Array.from([...bytes, 0]))).toThrow(/past its last reservation/);
    expect(() => read(Uint8Array.from([9, ...bytes.subarray(1)]))).toThrow(/version 9/);
  });
});
