import type { ChannelRules } from './channel-rules.ts';
import type { Location, LocationInput } from './master-data.ts';
import type { Position } from './position.ts';
import type { Reservation } from './reservation.ts';
import type { ReservationState } from './commands.ts';
import type { RecentOp, SkuBook } from './sku-book.ts';

/**
 * What the engine must do around an undone change (indexes and schedules that are derived from
 * the books, not part of them).
 */
export interface UndoTarget {
  /** Puts a reservation back in the expiry schedule at its current `dueAt`, or takes it out. */
  reschedule(reservation: Reservation, present: boolean): void;
  changed(book: SkuBook): void;
  restoreRules(rules: ChannelRules): void;
  restoreLocation(id: string, previous: LocationInput | null): void;
  removeBook(sku: string): void;
  restoreGroup(book: SkuBook, group: string): void;
  restoreMetaLsn(lsn: number): void;
  /** Removes a position created by an undone change (always the book's newest). */
  removePosition(book: SkuBook, p: Position): void;
}

/** One undoable change. Entries are undone newest first, so each restores what it saw. */
export interface UndoEntry {
  undo(target: UndoTarget): void;
}

class PositionFields implements UndoEntry {
  private readonly onHand: number;
  private readonly reserved: number;
  private readonly allocated: number;
  private readonly feedAsOf: number;

  constructor(
    private readonly book: SkuBook,
    private readonly p: Position,
  ) {
    this.onHand = p.onHand;
    this.reserved = p.reserved;
    this.allocated = p.allocated;
    this.feedAsOf = p.feedAsOf;
  }

  undo(target: UndoTarget): void {
    this.p.onHand = this.onHand;
    this.p.reserved = this.reserved;
    this.p.allocated = this.allocated;
    this.p.feedAsOf = this.feedAsOf;
    this.book.restale(this.p);
    target.changed(this.book);
  }
}

class OrderQty implements UndoEntry {
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

class ReservationFields implements UndoEntry {
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

  undo(target: UndoTarget): void {
    this.r.state = this.state;
    this.r.orderId = this.orderId;
    this.r.endedAt = this.endedAt;
    this.r.dueAt = this.dueAt;
    target.reschedule(this.r, true);
  }
}

class ReservationPresence implements UndoEntry {
  constructor(
    private readonly book: SkuBook,
    private readonly r: Reservation,
    /** True when the change added it (undo removes it), false when it deleted it. */
    private readonly added: boolean,
  ) {}

  undo(target: UndoTarget): void {
    if (this.added) this.book.reservations.remove(this.r);
    else this.book.reservations.add(this.r);
    target.reschedule(this.r, !this.added);
  }
}

class RecentOpPresence implements UndoEntry {
  constructor(
    private readonly book: SkuBook,
    private readonly id: string,
    /** The op that was evicted, to put back; null when the change added `id`. */
    private readonly evicted: RecentOp | null,
  ) {}

  undo(): void {
    if (this.evicted === null) this.book.dropRecentOp(this.id);
    else this.book.putRecentOp(this.id, this.evicted);
  }
}

class BookLsn implements UndoEntry {
  private readonly lsn: number;

  constructor(private readonly book: SkuBook) {
    this.lsn = book.lsn;
  }

  undo(): void {
    this.book.lsn = this.lsn;
  }
}

class MetaLsn implements UndoEntry {
  constructor(private readonly lsn: number) {}

  undo(target: UndoTarget): void {
    target.restoreMetaLsn(this.lsn);
  }
}

class PositionCreated implements UndoEntry {
  constructor(
    private readonly book: SkuBook,
    private readonly p: Position,
  ) {}

  undo(target: UndoTarget): void {
    target.removePosition(this.book, this.p);
  }
}

class RulesChange implements UndoEntry {
  constructor(private readonly previous: ChannelRules) {}

  undo(target: UndoTarget): void {
    target.restoreRules(this.previous);
  }
}

class LocationChange implements UndoEntry {
  private readonly previous: LocationInput | null;

  constructor(
    private readonly id: string,
    existing: Location | undefined,
  ) {
    this.previous = existing === undefined ? null : existing.toInput();
  }

  undo(target: UndoTarget): void {
    target.restoreLocation(this.id, this.previous);
  }
}

class ProductChange implements UndoEntry {
  constructor(
    private readonly sku: string,
    /** The book whose group changed, or null when the change created the book. */
    private readonly book: SkuBook | null,
    private readonly group: string,
  ) {}

  undo(target: UndoTarget): void {
    if (this.book === null) target.removeBook(this.sku);
    else target.restoreGroup(this.book, this.group);
  }
}

/** A change outside the books (an order event) that knows how to take itself back. */
class CustomChange implements UndoEntry {
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
export class UndoLog {
  private entries: UndoEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  position(book: SkuBook, p: Position): void {
    this.entries.push(new PositionFields(book, p));
  }

  orderQty(p: Position, orderId: string): void {
    this.entries.push(new OrderQty(p, orderId));
  }

  reservation(r: Reservation): void {
    this.entries.push(new ReservationFields(r));
  }

  reservationAdded(book: SkuBook, r: Reservation): void {
    this.entries.push(new ReservationPresence(book, r, true));
  }

  reservationDeleted(book: SkuBook, r: Reservation): void {
    this.entries.push(new ReservationPresence(book, r, false));
  }

  recentOp(book: SkuBook, id: string, evicted: RecentOp | null): void {
    this.entries.push(new RecentOpPresence(book, id, evicted));
  }

  lsn(book: SkuBook): void {
    this.entries.push(new BookLsn(book));
  }

  metaLsn(previous: number): void {
    this.entries.push(new MetaLsn(previous));
  }

  positionCreated(book: SkuBook, p: Position): void {
    this.entries.push(new PositionCreated(book, p));
  }

  rules(previous: ChannelRules): void {
    this.entries.push(new RulesChange(previous));
  }

  location(id: string, existing: Location | undefined): void {
    this.entries.push(new LocationChange(id, existing));
  }

  product(sku: string, book: SkuBook | null, group: string): void {
    this.entries.push(new ProductChange(sku, book, group));
  }

  custom(revert: () => void): void {
    this.entries.push(new CustomChange(revert));
  }

  /** Hands over the recorded entries and starts a new list. */
  take(): UndoEntry[] {
    const out = this.entries;
    this.entries = [];
    return out;
  }
}

/** Undoes entries newest first. */
export function rollback(entries: readonly UndoEntry[], target: UndoTarget): void {
  for (let i = entries.length - 1; i >= 0; i--) (entries[i] as UndoEntry).undo(target);
}
