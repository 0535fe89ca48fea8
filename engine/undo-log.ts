import type { ChangeLedger } from './changes-since-feed.ts';
import type { ChannelRules } from './channel-rules.ts';
import type { Location, LocationInput } from './master-data.ts';
import type { Position } from './position.ts';
import type { Reservation } from './reservation.ts';
import type { ReservationState } from './commands.ts';
import type { RecentOp } from './recent-op.ts';
import { RefillList } from './refill-list.ts';

/** What undo needs of a SKU book (SkuBook implements it; this file does not depend on it). */
export interface UndoableBook {
  lsn: number;
  readonly reservations: {
    add(r: Reservation): void;
    remove(r: Reservation): void;
  };
  /** Marks a position whose numbers were restored for re-evaluation. */
  restale(p: Position): void;
  dropRecentOp(id: string): void;
  putRecentOp(id: string, op: RecentOp): void;
}

/**
 * What the engine must do around an undone change (indexes and schedules that are derived from
 * the books, not part of them).
 */
export interface UndoTarget<B extends UndoableBook> {
  /** Puts a reservation back in the expiry schedule at its current `dueAt`, or takes it out. */
  reschedule(reservation: Reservation, present: boolean): void;
  changed(book: B): void;
  restoreRules(rules: ChannelRules): void;
  restoreLocation(id: string, previous: LocationInput | null): void;
  removeBook(sku: string): void;
  restoreProduct(book: B, previous: Product): void;
  restoreMetaLsn(lsn: number): void;
  /** Removes a position created by an undone change (always the book's newest). */
  removePosition(book: B, p: Position): void;
}

/** One undoable change. Entries are undone newest first, so each restores what it saw. */
export interface UndoEntry<B extends UndoableBook> {
  undo(target: UndoTarget<B>): void;
}

class OrderQty<B extends UndoableBook> implements UndoEntry<B> {
  private readonly qty: number;

  constructor(
    private readonly p: Position,
    private readonly orderId: string,
  ) {
    this.qty = p.orderQty(orderId);
  }

  undo(): void {
    // `allocated` itself is restored by the PositionFields entry recorded with this one.
    const orders = this.p.orders;
    if (orders === null) return;
    if (this.qty === 0) orders.delete(this.orderId);
    else orders.set(this.orderId, this.qty);
  }
}

/** A position's changes since its last feed, as they were (the ledgers are immutable arrays). */
class ChangesSinceFeed<B extends UndoableBook> implements UndoEntry<B> {
  private readonly ledger: ChangeLedger | null;

  constructor(private readonly p: Position) {
    this.ledger = p.sinceFeed;
  }

  undo(): void {
    this.p.sinceFeed = this.ledger;
  }
}

class RecentOpPresence<B extends UndoableBook> implements UndoEntry<B> {
  constructor(
    private readonly book: B,
    private readonly id: string,
    /** The op that was evicted, to put back; null when the change added `id`. */
    private readonly evicted: RecentOp | null,
  ) {}

  undo(): void {
    if (this.evicted === null) this.book.dropRecentOp(this.id);
    else this.book.putRecentOp(this.id, this.evicted);
  }
}

class MetaLsn<B extends UndoableBook> implements UndoEntry<B> {
  constructor(private readonly lsn: number) {}

  undo(target: UndoTarget<B>): void {
    target.restoreMetaLsn(this.lsn);
  }
}

class PositionCreated<B extends UndoableBook> implements UndoEntry<B> {
  constructor(
    private readonly book: B,
    private readonly p: Position,
  ) {}

  undo(target: UndoTarget<B>): void {
    target.removePosition(this.book, this.p);
  }
}

class RulesChange<B extends UndoableBook> implements UndoEntry<B> {
  constructor(private readonly previous: ChannelRules) {}

  undo(target: UndoTarget<B>): void {
    target.restoreRules(this.previous);
  }
}

class LocationChange<B extends UndoableBook> implements UndoEntry<B> {
  private readonly previous: LocationInput | null;

  constructor(
    private readonly id: string,
    existing: Location | undefined,
  ) {
    this.previous = existing === undefined ? null : existing.toInput();
  }

  undo(target: UndoTarget<B>): void {
    target.restoreLocation(this.id, this.previous);
  }
}

/** A product's master data as it was before a change. */
export interface Product {
  readonly group: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly prices: Readonly<Record<string, number>>;
}

class ProductChange<B extends UndoableBook> implements UndoEntry<B> {
  constructor(
    private readonly sku: string,
    /** The book whose product data changed, or null when the change created the book. */
    private readonly book: B | null,
    private readonly previous: Product,
  ) {}

  undo(target: UndoTarget<B>): void {
    if (this.book === null) target.removeBook(this.sku);
    else target.restoreProduct(this.book, this.previous);
  }
}

/** A change outside the books (an order event) that knows how to take itself back. */
class CustomChange<B extends UndoableBook> implements UndoEntry<B> {
  constructor(private readonly revert: () => void) {}

  undo(): void {
    this.revert();
  }
}

// The kinds of the entries kept flat (the hot path's: reserve, release, confirm, expiry).
const POSITION = 0;
const RESERVATION_FIELDS = 1;
const RESERVATION_ADDED = 2;
const RESERVATION_DELETED = 3;
const BOOK_LSN = 4;
/** Any other change, as an UndoEntry object in `refs`. */
const OBJECT = 5;

/**
 * The recorded changes of one write window, newest last. The hot kinds are kept flat, as a kind
 * code, their objects in `refs` and their numbers in `nums`, so recording a reserve allocates no
 * object. Rarer kinds are UndoEntry objects.
 *
 * The lists are reused from window to window and keep their capacity (see RefillList; the two
 * number arrays, `kinds` and `nums`, keep a fill count of their own: cleared to null they would
 * box their numbers).
 *
 * Per kind, refs / nums: POSITION [book, p] / [onHand, reserved, allocated, feedAsOf];
 * RESERVATION_FIELDS [r, state, orderId] / [endedAt, dueAt]; RESERVATION_ADDED and
 * RESERVATION_DELETED [book, r] / []; BOOK_LSN [book] / [lsn]; OBJECT [entry] / [].
 */
export class UndoBatch {
  readonly kinds: number[] = [];
  readonly refs = new RefillList<unknown>();
  readonly nums: number[] = [];
  /** Reservations purged in the window: gone for good once it is durable. */
  readonly purged = new RefillList<Reservation>();
  /** How many entries of `kinds` and of `nums` are this window's. */
  size = 0;
  numCount = 0;

  kind(k: number): void {
    this.kinds[this.size++] = k;
  }

  num(x: number): void {
    this.nums[this.numCount++] = x;
  }

  num2(x: number, y: number): void {
    this.nums[this.numCount++] = x;
    this.nums[this.numCount++] = y;
  }

  /** Empties it, keeping the capacity; the references are dropped so nothing stays alive. */
  clear(): void {
    this.refs.clear();
    this.purged.clear();
    this.size = 0;
    this.numCount = 0;
  }
}

/**
 * The changes of commands that are applied but not yet durable, so that a failed journal write
 * takes them back out of memory. Recording is off (null log) when the engine runs without a
 * journal, and the hot path then allocates nothing for it.
 */
export class UndoLog<B extends UndoableBook> {
  private batch = new UndoBatch();
  private spare: UndoBatch | null = null;

  get size(): number {
    return this.batch.size;
  }

  position(book: B, p: Position): void {
    const b = this.batch;
    b.kind(POSITION);
    b.refs.push(book);
    b.refs.push(p);
    b.num2(p.onHand, p.reserved);
    b.num2(p.allocated, p.feedAsOf);
  }

  orderQty(p: Position, orderId: string): void {
    this.entry(new OrderQty<B>(p, orderId));
  }

  reservation(r: Reservation): void {
    const b = this.batch;
    b.kind(RESERVATION_FIELDS);
    b.refs.push(r);
    b.refs.push(r.state);
    b.refs.push(r.orderId);
    b.num2(r.endedAt, r.dueAt);
  }

  reservationAdded(book: B, r: Reservation): void {
    const b = this.batch;
    b.kind(RESERVATION_ADDED);
    b.refs.push(book);
    b.refs.push(r);
  }

  reservationDeleted(book: B, r: Reservation): void {
    const b = this.batch;
    b.kind(RESERVATION_DELETED);
    b.refs.push(book);
    b.refs.push(r);
    b.purged.push(r);
  }

  /** Before a position's ledger of changes since its feed is replaced (feeds, ships, deltas:
   * never on the reserve path). */
  changesSinceFeed(p: Position): void {
    this.entry(new ChangesSinceFeed<B>(p));
  }

  recentOp(book: B, id: string, evicted: RecentOp | null): void {
    this.entry(new RecentOpPresence<B>(book, id, evicted));
  }

  lsn(book: B): void {
    const b = this.batch;
    b.kind(BOOK_LSN);
    b.refs.push(book);
    b.num(book.lsn);
  }

  metaLsn(previous: number): void {
    this.entry(new MetaLsn<B>(previous));
  }

  positionCreated(book: B, p: Position): void {
    this.entry(new PositionCreated<B>(book, p));
  }

  rules(previous: ChannelRules): void {
    this.entry(new RulesChange<B>(previous));
  }

  location(id: string, existing: Location | undefined): void {
    this.entry(new LocationChange<B>(id, existing));
  }

  product(sku: string, book: B | null, previous: Product): void {
    this.entry(new ProductChange<B>(sku, book, previous));
  }

  custom(revert: () => void): void {
    this.entry(new CustomChange<B>(revert));
  }

  private entry(e: UndoEntry<B>): void {
    this.batch.kind(OBJECT);
    this.batch.refs.push(e);
  }

  /** Hands over the recorded changes and starts a new batch. */
  take(): UndoBatch {
    const out = this.batch;
    const spare = this.spare;
    this.spare = null;
    this.batch = spare ?? new UndoBatch();
    return out;
  }

  /** A batch handed over by `take` is no longer needed (its window is durable): reuse it. */
  recycle(batch: UndoBatch): void {
    if (batch === this.batch) return;
    for (let i = 0; i < batch.purged.length; i++) batch.purged.at(i).dispose();
    batch.clear();
    this.spare = batch;
  }
}

/** Undoes a batch's changes newest first, each restoring what it saw. */
export function rollback<B extends UndoableBook>(batch: UndoBatch, target: UndoTarget<B>): void {
  const { kinds, refs, nums } = batch;
  let ri = refs.length;
  let ni = batch.numCount;
  for (let k = batch.size - 1; k >= 0; k--) {
    switch (kinds[k]) {
      case POSITION: {
        ri -= 2;
        ni -= 4;
        const book = refs.at(ri) as B;
        const p = refs.at(ri + 1) as Position;
        p.onHand = nums[ni] as number;
        p.reserved = nums[ni + 1] as number;
        p.allocated = nums[ni + 2] as number;
        p.feedAsOf = nums[ni + 3] as number;
        book.restale(p);
        target.changed(book);
        break;
      }
      case RESERVATION_FIELDS: {
        ri -= 3;
        ni -= 2;
        const r = refs.at(ri) as Reservation;
        r.state = refs.at(ri + 1) as ReservationState;
        r.orderId = refs.at(ri + 2) as string | null;
        r.endedAt = nums[ni] as number;
        r.dueAt = nums[ni + 1] as number;
        target.reschedule(r, true);
        break;
      }
      case RESERVATION_ADDED:
      case RESERVATION_DELETED: {
        ri -= 2;
        const book = refs.at(ri) as B;
        const r = refs.at(ri + 1) as Reservation;
        const added = kinds[k] === RESERVATION_ADDED;
        if (added) book.reservations.remove(r);
        else book.reservations.add(r);
        target.reschedule(r, !added);
        // A grant taken back: nothing refers to the reservation any more.
        if (added) r.dispose();
        break;
      }
      case BOOK_LSN: {
        ri -= 1;
        ni -= 1;
        (refs.at(ri) as B).lsn = nums[ni] as number;
        break;
      }
      default: {
        ri -= 1;
        (refs.at(ri) as UndoEntry<B>).undo(target);
      }
    }
  }
}
