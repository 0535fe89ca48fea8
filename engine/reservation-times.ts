import { PagedF64, PagedList } from './paged.ts';

/** A row's fields, in this order, ROW numbers per reservation. */
const EXPIRES_AT = 0;
const ENDED_AT = 1;
const DUE_AT = 2;
const ROW = 3;

/**
 * The times of an engine's reservations (expiry, end, next due), as rows of doubles in typed
 * arrays (pages of a PagedF64: a flash sale's growth adds pages, never copies), indexed by a
 * handle each reservation takes when it is made. A time kept in an object field is a boxed
 * number on the garbage-collected heap, one more object per time per held reservation for every
 * collection to copy and mark; here it is 8 bytes the collector never looks at. A reservation's three times sit side by side, one cache line where three columns
 * were three for a snapshot walking a million reservations (measured: within the noise, a whole
 * snapshot's main-thread time 1.50 against 1.55 s, bench:snapshot alternated twice).
 *
 * A handle is given back once its reservation is gone for good: purged with no journal, or when
 * the journal write that purged it is durable, or when its grant is taken back. Until then no
 * other reservation gets it, so an undone purge finds its times where they were.
 */
export class ReservationTimes {
  /** In pages: growing never copies (see paged.ts). */
  private readonly rows: PagedF64;
  /** Handles given back, for reuse (a million purged at once must not copy either). */
  private readonly free = new PagedList<number>();
  private next = 0;

  constructor(pageBits?: number) {
    this.rows = new PagedF64(pageBits);
  }

  /** Handles in use. */
  get size(): number {
    return this.next - this.free.length;
  }

  /** A handle for a new reservation (its times set): a given-back one first. */
  take(expiresAt: number, endedAt: number, dueAt: number): number {
    let h = this.free.pop();
    if (h === undefined) {
      h = this.next++;
      this.rows.ensure(this.next * ROW);
    }
    const at = h * ROW;
    const rows = this.rows;
    rows.set(at + EXPIRES_AT, expiresAt);
    rows.set(at + ENDED_AT, endedAt);
    rows.set(at + DUE_AT, dueAt);
    return h;
  }

  expiresAt(h: number): number {
    return this.rows.at(h * ROW + EXPIRES_AT);
  }

  endedAt(h: number): number {
    return this.rows.at(h * ROW + ENDED_AT);
  }

  setEndedAt(h: number, at: number): void {
    this.rows.set(h * ROW + ENDED_AT, at);
  }

  dueAt(h: number): number {
    return this.rows.at(h * ROW + DUE_AT);
  }

  setDueAt(h: number, at: number): void {
    this.rows.set(h * ROW + DUE_AT, at);
  }

  giveBack(handle: number): void {
    this.free.push(handle);
  }

  /** Every reservation is gone (an import starts). */
  clear(): void {
    this.next = 0;
    this.free.clear();
  }
}
