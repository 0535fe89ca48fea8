import { idHash, SegmentedIdTable } from './id-table.ts';
import { Reservation } from './reservation.ts';

/** A reservation id while a reserve of it is on its way (routed, not yet answered): its SKU
 * book, its reservation if one is already granted, and how many reserves of the id are on their
 * way. Generic over the book so this file does not depend on the book's. */
export class ReservationSlot<B extends object> {
  inflight = 0;
  reservation: Reservation | null = null;

  constructor(
    readonly id: string,
    readonly book: B,
    /** The id's hash in the index, computed once for the claim and the release. */
    readonly hash: number,
  ) {}
}

/**
 * The one index of reservation ids for the whole engine: the gateway routes a release or confirm
 * by id alone, and the book finds its reservation through the same index, so a reservation costs
 * one hash-map entry, not one per index.
 *
 * An entry is a slot while a reserve of its id is on its way, and the reservation itself once it
 * is granted and nothing of its id is on its way: a held reservation costs no object beyond
 * itself (a flash sale holds millions). A slot is claimed when a reserve is routed (so a release
 * in the same turn follows it to the same book); when the last reserve of its id is answered it
 * becomes its reservation, or is dropped when it holds none.
 */
export class ReservationIndex<B extends object> {
  private readonly entries = new SegmentedIdTable<ReservationSlot<B> | Reservation>();
  /** The slot of the command being applied: spares the hot path a second lookup. */
  current: ReservationSlot<B> | null = null;

  constructor(
    /** The book a granted reservation belongs to (the book of its SKU). */
    private readonly bookOf: (reservation: Reservation) => B | undefined,
  ) {}

  /** The reservation granted under `id`, or null. */
  reservation(id: string): Reservation | null {
    const c = this.current;
    if (c !== null && c.id === id) return c.reservation;
    const entry = this.entries.get(id);
    if (entry === undefined) return null;
    return entry instanceof Reservation ? entry : entry.reservation;
  }

  known(id: string, hash = idHash(id)): boolean {
    return this.entries.has(id, hash);
  }

  /** The book `id` belongs to, or undefined when it is not known. */
  book(id: string): B | undefined {
    const c = this.current;
    if (c !== null && c.id === id) return c.book;
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    return entry instanceof Reservation ? this.bookOf(entry) : entry.book;
  }

  /** The slot for a reserve of `id` on `book`, or null when the id belongs to another book. */
  claim(id: string, book: B): ReservationSlot<B> | null {
    const hash = idHash(id);
    const entry = this.entries.get(id, hash);
    if (entry === undefined) {
      const slot = new ReservationSlot(id, book, hash);
      this.entries.set(id, slot, hash);
      return slot;
    }
    if (!(entry instanceof Reservation)) return entry.book === book ? entry : null;
    if (this.bookOf(entry) !== book) return null;
    // A granted reservation whose id is asked for again: a slot again while that is on its way.
    const slot = new ReservationSlot(id, book, hash);
    slot.reservation = entry;
    this.entries.set(id, slot, hash);
    return slot;
  }

  /** Once no reserve of its id is on its way, the slot becomes its reservation or is dropped. */
  release(slot: ReservationSlot<B>): void {
    if (slot.inflight !== 0 || this.entries.get(slot.id, slot.hash) !== slot) return;
    if (slot.reservation === null) this.entries.delete(slot.id, slot.hash);
    else this.entries.set(slot.id, slot.reservation, slot.hash);
  }

  /** Records `r` as granted under its id (on `book`); `hash`: its id's, when the caller has it. */
  add(r: Reservation, book: B, hash?: number): void {
    // On the hot path the slot is the one routed with the command: no second map lookup.
    const current = this.current;
    const slot = current !== null && current.id === r.id && current.book === book ? current : null;
    if (slot !== null) {
      slot.reservation = r;
      return;
    }
    const h = hash ?? idHash(r.id);
    const entry = this.entries.get(r.id, h);
    if (entry === undefined || entry === r) {
      this.entries.set(r.id, r, h);
    } else if (!(entry instanceof Reservation) && entry.book === book) {
      entry.reservation = r;
    } else {
      throw new Error(`reservation id ${r.id} belongs to another book`);
    }
  }

  /** Forgets `r` (purged, or its grant taken back). */
  remove(r: Reservation): void {
    const c = this.current;
    const slot = c !== null && c.id === r.id ? c : null;
    const hash = slot === null ? idHash(r.id) : slot.hash;
    const entry = slot ?? this.entries.get(r.id, hash);
    if (entry === r) {
      this.entries.delete(r.id, hash);
    } else if (entry !== undefined && !(entry instanceof Reservation) && entry.reservation === r) {
      entry.reservation = null;
      this.release(entry);
    }
  }

  clear(): void {
    this.entries.clear();
    this.current = null;
  }
}

/** A book's reservations: found through the engine's index, listed through an intrusive list. */
export class BookReservations<B extends object> {
  private head: Reservation | null = null;
  /** The oldest: a snapshot walks the list from it (oldest first) without building a list. */
  private tail: Reservation | null = null;
  private count = 0;

  constructor(
    private readonly book: B,
    /** The book's SKU: a reservation is the book's when its position is. */
    private readonly sku: string,
    private readonly index: ReservationIndex<B>,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The newest reservation; `next` leads to older ones (for a walk without building a list). */
  get newest(): Reservation | null {
    return this.head;
  }

  /** The oldest reservation; `prev` leads to newer ones. */
  get oldest(): Reservation | null {
    return this.tail;
  }

  get(id: string): Reservation | undefined {
    const r = this.index.reservation(id);
    return r !== null && r.position.sku === this.sku ? r : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Whether the engine knows `id` at all (a reservation of any book, or a reserve on its way);
   * `hash`: the id's (idHash), when the caller has it. */
  known(id: string, hash?: number): boolean {
    return this.index.known(id, hash);
  }

  /** `hash`: the id's (idHash), when the caller has it (replay hashes each id once). */
  add(r: Reservation, hash?: number): void {
    this.index.add(r, this.book, hash);
    r.prev = null;
    r.next = this.head;
    if (this.head !== null) this.head.prev = r;
    else this.tail = r;
    this.head = r;
    this.count++;
  }

  remove(r: Reservation): void {
    if (r.prev !== null) r.prev.next = r.next;
    else if (this.head === r) this.head = r.next;
    if (r.next !== null) r.next.prev = r.prev;
    else if (this.tail === r) this.tail = r.prev;
    r.prev = null;
    r.next = null;
    this.count--;
    this.index.remove(r);
  }

  /** Oldest first (the list is kept newest first). */
  values(): Reservation[] {
    const out: Reservation[] = [];
    for (let r = this.tail; r !== null; r = r.prev) out.push(r);
    return out;
  }
}
