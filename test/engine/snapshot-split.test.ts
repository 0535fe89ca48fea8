import { afterEach, describe, expect, it } from 'vitest';
import { StockEngine, type SnapshotItem } from '../../engine/index.ts';
import type { SkuState } from '../../engine/engine-state.ts';
import { readReservations } from '../../engine/reservation-block.ts';
import { harness, loadedFrom, stock, type Harness } from './fixtures.ts';

/** Reservations a chunk item carries (a book's, or a part's, listed or in its block); 0 for
 * anything else. */
function reservationsIn(item: SnapshotItem): number {
  if (!('reservations' in item)) return 0;
  let n = item.reservations.length;
  if (item.packed !== undefined) {
    readReservations(item.packed, () => {
      n++;
    });
  }
  return n;
}

async function reserveMany(h: Harness, sku: string, from: number, count: number): Promise<void> {
  const all = [];
  for (let i = from; i < from + count; i++) {
    all.push(h.ok({ op: 'reserve', reservationId: `${sku}-${i}`, channel: 'web', sku, qty: 1 }));
  }
  await Promise.all(all);
}

type Cursor = ReturnType<StockEngine['storage']['beginSnapshot']>;

/** The cursor's chunks (50 books and `maxReservations` reservations each at most) to its end,
 * after those already in `into`. */
function drain(
  cursor: Cursor,
  maxReservations: number,
  into: SnapshotItem[][] = [],
): SnapshotItem[][] {
  for (
    let chunk = cursor.next(50, maxReservations);
    chunk !== null;
    chunk = cursor.next(50, maxReservations)
  ) {
    into.push(chunk);
  }
  return into;
}

/** SKU A's book in an exported state. */
function bookA(state: ReturnType<StockEngine['storage']['exportState']>): SkuState | undefined {
  return state.skus.find((s) => s.sku === 'A');
}

/**
 * A SKU held by a flash sale is serialized over several chunks, each one event-loop turn, instead
 * of all of it in one turn (which held every request for up to a second). The parts must still
 * say what the book held in the turn its first part was taken, whatever happens in between.
 */
describe('a snapshot splits a book that holds many reservations', () => {
  let h: Harness | null = null;
  let other: StockEngine | null = null;
  afterEach(async () => {
    await other?.stop();
    await h?.engine.stop();
    other = null;
    h = null;
  });

  it('keeps each chunk within its reservations, and loads back the same state', async () => {
    h = harness();
    await stock(h, 'A', { DC1: 10_000, S1: 5 });
    await stock(h, 'B', { DC1: 50 });
    await reserveMany(h, 'A', 0, 2_345);
    await reserveMany(h, 'B', 0, 40);
    const before = h.engine.storage.exportState();

    const chunks = drain(h.engine.storage.beginSnapshot(), 500);
    for (const chunk of chunks) {
      expect(chunk.map(reservationsIn).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(500);
    }
    // 2,345 of A at 500 a chunk: its book and four parts, the last one saying no more follow.
    const parts = chunks.flat().filter((item) => 'part' in item);
    expect(parts.map(reservationsIn)).toEqual([500, 500, 500, 345]);
    expect(parts.map((p) => 'more' in p && p.more)).toEqual([true, true, true, false]);

    other = loadedFrom(chunks, h);
    expect(other.storage.exportState().skus).toEqual(before.skus);
    expect(other.position('A', 'DC1')).toEqual(h.engine.position('A', 'DC1'));
  });

  it('holds what the book held when its first part was taken, whatever changes before the rest', async () => {
    h = harness({ tombstoneTtlMs: 1_000 });
    await stock(h, 'A', { DC1: 10_000 });
    await reserveMany(h, 'A', 0, 1_200);
    // Some ended long enough ago to be purged once the clock moves on.
    for (let i = 0; i < 100; i++) await h.ok({ op: 'release', reservationId: `A-${i}` });

    const cursor = h.engine.storage.beginSnapshot();
    const expected = h.engine.storage.exportState();
    const chunks: SnapshotItem[][] = [cursor.next(50, 300) ?? []];
    // Between the turns: more releases, a confirm, new reservations, and the tombstones purged
    // (their times given back).
    for (let i = 100; i < 150; i++) await h.ok({ op: 'release', reservationId: `A-${i}` });
    await h.ok({ op: 'confirm', reservationId: 'A-500', orderId: 'O-1' });
    await reserveMany(h, 'A', 5_000, 30);
    h.clock.advance(5_000);
    await h.engine.durable();
    drain(cursor, 300, chunks);

    other = loadedFrom(chunks, h);
    expect(bookA(other.storage.exportState())).toEqual(bookA(expected));
    expect(h.engine.storage.exportState()).not.toEqual(expected);
  });

  it('gives two snapshots taken at once, or one after another abandoned half-way, each its own frozen book', async () => {
    // The columns a split book is frozen into are kept for the next snapshot; one still in use
    // must never be handed to another.
    h = harness();
    await stock(h, 'A', { DC1: 10_000 });
    await reserveMany(h, 'A', 0, 1_000);
    await h.ok({ op: 'confirm', reservationId: 'A-7', orderId: 'O-7' });

    const first = h.engine.storage.beginSnapshot();
    const firstState = h.engine.storage.exportState();
    const firstChunks: SnapshotItem[][] = [first.next(50, 300) ?? []];
    for (let i = 10; i < 50; i++) await h.ok({ op: 'release', reservationId: `A-${i}` });
    await h.ok({ op: 'confirm', reservationId: 'A-900', orderId: 'O-900' });
    await reserveMany(h, 'A', 2_000, 25);
    const second = h.engine.storage.beginSnapshot();
    const secondState = h.engine.storage.exportState();
    const secondChunks: SnapshotItem[][] = [];
    // Interleaved, a chunk of each in turn.
    for (let a = first.next(50, 300), b = second.next(50, 300); a !== null || b !== null;) {
      if (a !== null) firstChunks.push(a);
      if (b !== null) secondChunks.push(b);
      a = a === null ? null : first.next(50, 300);
      b = b === null ? null : second.next(50, 300);
    }
    other = loadedFrom(firstChunks, h);
    expect(bookA(other.storage.exportState())).toEqual(bookA(firstState));
    await other.stop();
    other = loadedFrom(secondChunks, h);
    expect(bookA(other.storage.exportState())).toEqual(bookA(secondState));
    await other.stop();

    // One abandoned after its first chunk, then a whole one.
    const abandoned = h.engine.storage.beginSnapshot();
    expect(abandoned.next(50, 300)).not.toBeNull();
    await h.ok({ op: 'release', reservationId: 'A-500' });
    const now = h.engine.storage.exportState();
    other = loadedFrom(drain(h.engine.storage.beginSnapshot(), 300), h);
    expect(bookA(other.storage.exportState())).toEqual(bookA(now));
  });

  it('starts a chunk with a book that does not fit in what is left of the one before', async () => {
    h = harness();
    await stock(h, 'A', { DC1: 1_000 });
    await stock(h, 'B', { DC1: 1_000 });
    await reserveMany(h, 'A', 0, 300);
    await reserveMany(h, 'B', 0, 300);
    const chunks = drain(h.engine.storage.beginSnapshot(), 400);
    // Each book whole in a chunk of its own rather than split over two.
    expect(chunks.flat().filter((item) => 'part' in item)).toEqual([]);
    expect(chunks.map((c) => c.map(reservationsIn).reduce((a, b) => a + b, 0))).toContain(300);
    other = loadedFrom(chunks, h);
    expect(other.storage.exportState().skus).toEqual(h.engine.storage.exportState().skus);
  });

  it('still loads a snapshot of format 3, which listed reservations as records and split books into parts', async () => {
    h = harness();
    await stock(h, 'A', { DC1: 1_000, S1: 300 });
    await reserveMany(h, 'A', 0, 700);
    await h.ok({
      op: 'reserve',
      reservationId: 'pickup',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    await h.ok({ op: 'reserve', reservationId: 'wide', channel: 'web', sku: 'A', qty: 450 });
    await h.ok({ op: 'release', reservationId: 'A-3' });
    await h.ok({ op: 'confirm', reservationId: 'A-4', orderId: 'O-4' });
    const before = h.engine.storage.exportState();
    // As format 3 wrote it: the book with its first 500 records and `more`, then a part.
    const whole = before.skus.find((s) => s.sku === 'A') as SkuState;
    expect(whole.reservations.some((r) => r.lines.length > 1)).toBe(true);
    const chunks: SnapshotItem[][] = [
      [{ ...whole, reservations: whole.reservations.slice(0, 500), more: true }],
      [{ sku: 'A', part: true, reservations: whole.reservations.slice(500), more: false }],
    ];
    other = loadedFrom(chunks, h, 3);
    expect(other.storage.exportState().skus.find((s) => s.sku === 'A')).toEqual(whole);
    expect(other.position('A', 'DC1')).toEqual(h.engine.position('A', 'DC1'));
    expect(other.position('A', 'S1')).toEqual(h.engine.position('A', 'S1'));
  });
});
