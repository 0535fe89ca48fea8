import type { ChannelRules } from './channel-rules.ts';
import type { Location, LocationInput } from './master-data.ts';
import type { Position } from './position.ts';
import type { Reservation } from './reservation.ts';
import type { ReservationState } from './commands.ts';
import type { RecentOp } from './recent-op.ts';

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
  restoreGroup(book: B, group: string): void;
  restoreMetaLsn(lsn: number): void;
  /** Removes a position created by an undone change (always the book's newest). */
  removePosition(book: B, p: Position): void;
}

/** One undoable change. Entries are undone newest first, so each restores what it saw. */
export interface UndoEntry<B extends UndoableBook> {
  undo(target: UndoTarget<B>): void;
}

class PositionFields<B extends UndoableBook> implements UndoEntry<B> {
  private readonly onHand: number;
  private readonly reserved: number;
  private readonly allocated: number;
  private readonly feedAsOf: number;

  constructor(
    private readonly book: B,
    private readonly p: Position,
  ) {
    this.onHand = p.onHand;
    this.reserved = p.reserved;
    this.allocated = p.allocated;
    this.feedAsOf = p.feedAsOf;
  }

  undo(target: UndoTarget<B>): void {
    this.p.onHand = this.onHand;
    this.p.reserved = this.reserved;
    this.p.allocated = this.allocated;
    this.p.feedAsOf = this.feedAsOf;
    this.book.restale(this.p);
    target.changed(this.book);
  }
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

class ReservationFields<B extends UndoableBook> implements UndoEntry<B> {
  private readonly state: ReservationState;
  private readonly orderId: string | null;
  private readonly endedAt: number;
  private readonly dueAt: number;

  constructor(private readonly r: Reservation) {
    this.state = r.state;
    this.orderId = r.orderId;
    this.endedAt = r.endedAt;
    this.dueAt = r.dueAt;
  }

  undo(target: UndoTarget<B>): void {
    this.r.state = this.state;
    this.r.orderId = this.orderId;
    this.r.endedAt = this.endedAt;
    this.r.dueAt = this.dueAt;
    target.reschedule(this.r, true);
  }
}

class ReservationPresence<B extends UndoableBook> implements UndoEntry<B> {
  constructor(
    private readonly book: B,
    private readonly r: Reservation,
    /** True when the change added it (undo removes it), false when it deleted it. */
    private readonly added: boolean,
  ) {}

  undo(target: UndoTarget<B>): void {
    if (this.added) this.book.reservations.remove(this.r);
    else this.book.reservations.add(this.r);
    target.reschedule(this.r, !this.added);
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

class BookLsn<B extends UndoableBook> implements UndoEntry<B> {
  private readonly lsn: number;

  constructor(private readonly book: B) {
    this.lsn = book.lsn;
  }

  undo(): void {
    this.book.lsn = this.lsn;
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

class ProductChange<B extends UndoableBook> implements UndoEntry<B> {
  constructor(
    private readonly sku: string,
    /** The book whose group changed, or null when the change created the book. */
    private readonly book: B | null,
    private readonly group: string,
  ) {}

  undo(target: UndoTarget<B>): void {
    if (this.book === null) target.removeBook(this.sku);
    else target.restoreGroup(this.book, this.group);
  }
}

/** A change outside the books (an order event) that knows how to take itself back. */
class CustomChange<B extends UndoableBook> implements UndoEntry<B> {
  constructor(private readonly revert: () => void) {}

  undo(): void {
    this.revert();
  }
}

/**
 * The changes of commands that are applied but not yet durable, so that a failed journal write
 * takes them back out of memory. Recording is off (null log) when the engine runs without a
 * journal, and the hot path then allocates nothing for it.
 */
export class UndoLog<B extends UndoableBook> {
  private entries: UndoEntry<B>[] = [];

  get size(): number {
    return this.entries.length;
  }

  position(book: B, p: Position): void {
    this.entries.push(new PositionFields<B>(book, p));
  }

  orderQty(p: Position, orderId: string): void {
    this.entries.push(new OrderQty<B>(p, orderId));
  }

  reservation(r: Reservation): void {
    this.entries.push(new ReservationFields<B>(r));
  }

  reservationAdded(book: B, r: Reservation): void {
    this.entries.push(new ReservationPresence<B>(book, r, true));
  }

  reservationDeleted(book: B, r: Reservation): void {
    this.entries.push(new ReservationPresence<B>(book, r, false));
  }

  recentOp(book: B, id: string, evicted: RecentOp | null): void {
    this.entries.push(new RecentOpPresence<B>(book, id, evicted));
  }

  lsn(book: B): void {
    this.entries.push(new BookLsn<B>(book));
  }

  metaLsn(previous: number): void {
    this.entries.push(new MetaLsn<B>(previous));
  }

  positionCreated(book: B, p: Position): void {
    this.entries.push(new PositionCreated<B>(book, p));
  }

  rules(previous: ChannelRules): void {
    this.entries.push(new RulesChange<B>(previous));
  }

  location(id: string, existing: Location | undefined): void {
    this.entries.push(new LocationChange<B>(id, existing));
  }

  product(sku: string, book: B | null, group: string): void {
    this.entries.push(new ProductChange<B>(sku, book, group));
  }

  custom(revert: () => void): void {
    this.entries.push(new CustomChange<B>(revert));
  }

  /** Hands over the recorded entries and starts a new list. */
  take(): UndoEntry<B>[] {
    const out = this.entries;
    this.entries = [];
    return out;
  }
}

/** Undoes entries newest first. */
export function rollback<B extends UndoableBook>(
  entries: readonly UndoEntry<B>[],
  target: UndoTarget<B>,
): void {
  for (let i = entries.length - 1; i >= 0; i--) (entries[i] as UndoEntry<B>).undo(target);
}
