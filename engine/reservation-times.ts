const INITIAL_CAPACITY = 1_024;

/**
 * The times of an engine's reservations (expiry, end, next due), as columns of doubles indexed
 * by a handle each reservation takes when it is made. A time kept in an object field is a boxed
 * number on the garbage-collected heap, one more object per time per held reservation for every
 * collection to copy and mark; here it is 8 bytes the collector never looks at.
 *
 * A handle is given back once its reservation is gone for good: purged with no journal, or when
 * the journal write that purged it is durable, or when its grant is taken back. Until then no
 * other reservation gets it, so an undone purge finds its times where they were.
 */
export class ReservationTimes {
  expiresAt = new Float64Array(INITIAL_CAPACITY);
  endedAt = new Float64Array(INITIAL_CAPACITY);
  dueAt = new Float64Array(INITIAL_CAPACITY);
  private readonly free: number[] = [];
  private next = 0;

  /** Handles in use. */
  get size(): number {
    return this.next - this.free.length;
  }

  /** A handle for a new reservation: a given-back one first. */
  take(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.next === this.expiresAt.length) this.grow();
    return this.next++;
  }

  giveBack(handle: number): void {
    this.free.push(handle);
  }

  /** Every reservation is gone (an import starts). */
  clear(): void {
    this.next = 0;
    this.free.length = 0;
  }

  private grow(): void {
    const capacity = this.expiresAt.length * 2;
    this.expiresAt = grown(this.expiresAt, capacity);
    this.endedAt = grown(this.endedAt, capacity);
    this.dueAt = grown(this.dueAt, capacity);
  }
}

function grown(column: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const next = new Float64Array(capacity);
  next.set(column);
  return next;
}
