import type { Reservation } from './reservation.ts';

/** Where a reservation id lives: its SKU book, its reservation once granted, and how many
 * reserves of the id are on their way (routed, not yet answered). Generic over the book so this
 * file does not depend on the book's. */
export class ReservationSlot<B extends object> {
  inflight = 0;
  reservation: Reservation | null = null;

  constructor(
    readonly id: string,
    readonly book: B,
  ) {}
}

/**
 * The one index of reservation ids for the whole engine: the gateway routes a release or confirm
 * by id alone, and the book finds its reservation through the same slot, so a reservation costs
 * one hash-map entry, not one per index. A slot is claimed when a reserve is routed (so a release
 * in the same turn follows it to the same book) and dropped when it holds nothing and nothing is
 * on its way.
 */
export class ReservationIndex<B extends object> {
  private readonly slots = new Map<string, ReservationSlot<B>>();
  /** The slot of the command being applied: spares the hot path a second lookup. */
  current: ReservationSlot<B> | null = null;

  get(id: string): ReservationSlot<B> | undefined {
    const c = this.current;
    return c !== null && c.id === id ? c : this.slots.get(id);
  }

  /** The slot for a reserve of `id` on `book`, or null when the id belongs to another book. */
  claim(id: string, book: B): ReservationSlot<B> | null {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = new ReservationSlot(id, book);
      this.slots.set(id, slot);
    } else if (slot.book !== book) {
      return null;
    }
    return slot;
  }

  /** Drops the slot if it holds nothing and no reserve of its id is on its way. */
  release(slot: ReservationSlot<B>): void {
    if (slot.inflight === 0 && slot.reservation === null && this.slots.get(slot.id) === slot) {
      this.slots.delete(slot.id);
    }
  }

  clear(): void {
    this.slots.clear();
    this.current = null;
  }
}

/** A book's reservations: found through the engine's index, listed through an intrusive list. */
export class BookReservations<B extends object> {
  private head: Reservation | null = null;
  private count = 0;

  constructor(
    private readonly book: B,
    private readonly index: ReservationIndex<B>,
  ) {}

  get size(): number {
    return this.count;
  }

  get(id: string): Reservation | undefined {
    const slot = this.index.get(id);
    return slot?.book === this.book ? (slot.reservation ?? undefined) : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  add(r: Reservation): void {
    // On the hot path the slot is the one routed with the command: no second map lookup.
    const current = this.index.current;
    const slot =
      current !== null && current.id === r.id && current.book === this.book
        ? current
        : this.index.claim(r.id, this.book);
    if (slot === null) throw new Error(`reservation id ${r.id} belongs to another book`);
    slot.reservation = r;
    r.prev = null;
    r.next = this.head;
    if (this.head !== null) this.head.prev = r;
    this.head = r;
    this.count++;
  }

  remove(r: Reservation): void {
    if (r.prev !== null) r.prev.next = r.next;
    else if (this.head === r) this.head = r.next;
    if (r.next !== null) r.next.prev = r.prev;
    r.prev = null;
    r.next = null;
    this.count--;
    const slot = this.index.get(r.id);
    if (slot?.reservation === r) {
      slot.reservation = null;
      this.index.release(slot);
    }
  }

  /** Oldest first (the list is kept newest first). */
  values(): Reservation[] {
    const out: Reservation[] = [];
    for (let r = this.head; r !== null; r = r.next) out.push(r);
    return out.reverse();
  }
}
