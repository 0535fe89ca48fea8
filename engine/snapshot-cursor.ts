import type { RulesInput } from './channel-rules.ts';
import type { CommitPipeline } from './commit-pipeline.ts';
import type { ReservationState } from './commands.ts';
import {
  exportBookWith,
  type ReservationsPart,
  type SkuState,
  type StateFormat,
} from './engine-state.ts';
import { blockWriter, encodeOldestFirst, STATE_BITS, STATES } from './reservation-block.ts';
import type { ExtensionItem } from './journal.ts';
import type { LocationInput } from './master-data.ts';
import type { Reservation } from './reservation.ts';
import type { SkuBook } from './sku-book.ts';

/** One item of a snapshot chunk: a SKU book, more reservations of the book before it (a book
 * split over chunks), or an item of a journal extension (an order). */
export type SnapshotItem = SkuState | ReservationsPart | ExtensionItem;

/**
 * Reservations serialized per chunk, that is per event-loop turn, at most (one book's other
 * fields come with its first part). A book holding more is split: a hot SKU in a flash sale can
 * hold hundreds of thousands, and serializing those in one turn held every request for a second
 * (bench:durable's hot case, max latency). About 1 µs each to export and encode: 5,000 keep a
 * turn near 5 ms.
 */
export const CHUNK_RESERVATIONS = 5_000;

/**
 * The columns a freeze copies a book's reservations into, kept from one snapshot to the next: a
 * hot book's million reservations are copied into memory already touched, not into five arrays
 * allocated anew (on this project's machine fresh memory costs about 25 ns per 8 bytes, about half
 * of a million-reservation freeze). One set is kept per thread; a freeze while it is in use (or
 * after a snapshot abandoned half-way, which never gives it back) gets a set of its own.
 */
class FrozenColumns {
  list: (Reservation | undefined)[] = [];
  states = new Uint8Array(0);
  endedAt = new Float64Array(0);
  expiresAt = new Float64Array(0);
  inUse = false;

  /** Room for `n` reservations (columns grow to the biggest book frozen so far). */
  ensure(n: number): void {
    if (this.states.length >= n) return;
    const cap = Math.max(n, this.states.length * 2);
    this.list = new Array<Reservation | undefined>(cap);
    this.states = new Uint8Array(cap);
    this.endedAt = new Float64Array(cap);
    this.expiresAt = new Float64Array(cap);
  }
}

let keptColumns = new FrozenColumns();

function acquireColumns(n: number): FrozenColumns {
  if (keptColumns.inUse) keptColumns = new FrozenColumns();
  const c = keptColumns;
  c.inUse = true;
  c.ensure(n);
  return c;
}

/**
 * A book's reservations as they were in the turn its snapshot item was taken, handed out a part
 * at a time in later turns. What a reservation was asked for is fixed when it is made; what
 * changes (state, order, end, and the times given back when it is purged) is copied here, so a
 * part says what the book held at its sequence, whatever happened since.
 */
class FrozenReservations {
  private readonly columns: FrozenColumns;
  /** Order ids of the few that have one, by position (during a sale most have none). */
  private readonly orderIds = new Map<number, string>();
  private readonly size: number;
  private taken = 0;

  readonly sku: string;

  constructor(book: SkuBook) {
    this.sku = book.sku;
    // One walk of the book's list, oldest first, as a whole book exports them (this turn holds
    // the event loop for every reservation of the book).
    const n = book.reservations.size;
    const c = acquireColumns(n);
    const { list, states, endedAt, expiresAt } = c;
    const orderIds = this.orderIds;
    let i = 0;
    for (let r = book.reservations.oldest; r !== null; r = r.prev, i++) {
      list[i] = r;
      states[i] = STATE_BITS[r.state];
      if (r.orderId !== null) orderIds.set(i, r.orderId);
      endedAt[i] = r.endedAt;
      expiresAt[i] = r.expiresAt;
    }
    this.columns = c;
    this.size = n;
  }

  get left(): number {
    return this.size - this.taken;
  }

  /** The next up to `max` reservations, oldest first, as a block (reservation-block.ts). */
  take(max: number): { readonly packed: Uint8Array; readonly count: number } {
    const from = this.taken;
    const end = Math.min(this.size, from + max);
    const { list, states, endedAt, expiresAt } = this.columns;
    const orderIds = this.orderIds.size === 0 ? null : this.orderIds;
    const w = blockWriter;
    w.start();
    for (let i = from; i < end; i++) {
      w.add(
        list[i] as Reservation,
        STATES[states[i] as number] as ReservationState,
        orderIds === null ? null : (orderIds.get(i) ?? null),
        endedAt[i] as number,
        expiresAt[i] as number,
      );
      // Handed out: the column no longer keeps it alive.
      list[i] = undefined;
    }
    this.taken = end;
    if (end === this.size) this.columns.inUse = false;
    return { packed: w.finish(), count: end - from };
  }
}

/** A whole book as a snapshot carries it: its reservations as a block (format 4), if any. */
function snapshotOf(book: SkuBook): SkuState {
  const r = book.reservations;
  return exportBookWith(book, [], false, r.size === 0 ? undefined : encodeOldestFirst(r.oldest));
}

/** Tells a journal extension's item from a SKU book's state (books carry no `kind`). */
export function isExtensionItem(item: SnapshotItem): item is ExtensionItem {
  return 'kind' in item;
}

export interface SnapshotHeader {
  /** The state format of its items (STATE_FORMAT in engine-state.ts; 1 to 3 are still read). */
  readonly format: StateFormat;
  readonly takenAt: number;
  /** Recovery replays the journal from this sequence on (records a chunk holds are skipped). */
  readonly startSeq: number;
  readonly metaLsn: number;
  readonly rules: RulesInput;
  readonly locations: readonly LocationInput[];
}

/** Walks the books, then every extension's items, a chunk at a time (see EngineStorage). */
export class SnapshotCursor {
  private maxLsn = 0;
  private readonly failuresAtStart: number;
  /** A split book's reservations still to hand out. */
  private rest: FrozenReservations | null = null;
  /** A book taken from the iterator that starts the next chunk (it holds too many for this one). */
  private held: SkuBook | null = null;
  /** What the chunks so far hold, counted as recovery loads it: positions, reservations, items. */
  private count = 0;

  constructor(
    private readonly books: Iterator<SkuBook>,
    private readonly extensions: readonly Iterator<ExtensionItem>[],
    private readonly pipeline: CommitPipeline | null,
    readonly header: SnapshotHeader,
  ) {
    this.failuresAtStart = pipeline?.failures ?? 0;
    this.maxLsn = header.metaLsn;
  }

  /**
   * The next up to `max` books holding up to `maxReservations` reservations in all (a book that
   * holds more alone is split: see CHUNK_RESERVATIONS), then extension items; null when all were
   * taken.
   */
  next(max: number, maxReservations = CHUNK_RESERVATIONS): SnapshotItem[] | null {
    const out: SnapshotItem[] = [];
    let room = maxReservations;
    const rest = this.rest;
    if (rest !== null) {
      const { packed, count } = rest.take(room);
      room -= count;
      this.count += count;
      const more = rest.left > 0;
      const part: ReservationsPart = { sku: rest.sku, part: true, reservations: [], packed, more };
      out.push(part);
      if (more) return out;
      this.rest = null;
    }
    while (out.length < max) {
      const book = this.held ?? this.nextBook();
      this.held = null;
      if (book === null) break;
      const size = book.reservations.size;
      if (size > room && out.length > 0) {
        this.held = book;
        break;
      }
      const state = size > room ? this.split(book, room) : snapshotOf(book);
      this.count += book.positions.length + Math.min(size, room);
      room -= Math.min(size, room);
      if (state.lsn > this.maxLsn) this.maxLsn = state.lsn;
      out.push(state);
      if (this.rest !== null) break;
    }
    // Extension items (orders) are smaller than books: a chunk takes four times as many.
    for (const items of this.extensions) {
      while (out.length < max * 4) {
        const step = items.next();
        if (step.done === true) break;
        if (step.value.lsn > this.maxLsn) this.maxLsn = step.value.lsn;
        out.push(step.value);
        this.count++;
      }
    }
    return out.length === 0 ? null : out;
  }

  private nextBook(): SkuBook | null {
    const step = this.books.next();
    return step.done === true ? null : step.value;
  }

  /** The book with its first `first` reservations; the rest are frozen for the next chunks. */
  private split(book: SkuBook, first: number): SkuState {
    const rest = new FrozenReservations(book);
    this.rest = rest;
    return exportBookWith(book, [], true, rest.take(first).packed);
  }

  /** What the chunks taken so far hold: positions, reservations and extension items (a measure
   * of the state in the unit recovery loads it, comparable with journal records). */
  get size(): number {
    return this.count;
  }

  /** Highest sequence any chunk contains: the snapshot is whole once the journal holds it. */
  get coversSeq(): number {
    return this.maxLsn;
  }

  /** False when a journal write failed since the start: chunks may hold changes taken back. */
  get valid(): boolean {
    return (this.pipeline?.failures ?? 0) === this.failuresAtStart;
  }
}
