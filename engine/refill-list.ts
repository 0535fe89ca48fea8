/**
 * A list emptied and filled again over and over (a write window's held replies, a turn's queued
 * writes, an undo batch's references) that keeps its capacity. `array.length = 0` gives V8's
 * backing store back, so the next fill allocated it again, growing it step by step: on the
 * durable path that was about a fifth of what a reserve allocated (`npm run bench:alloc`).
 * Clearing here resets the length and drops the references, so nothing it held stays alive.
 * For references only: a number array cleared to null would box its numbers.
 */
export class RefillList<T> {
  private readonly items: (T | null)[] = [];
  length = 0;

  push(item: T): void {
    this.items[this.length++] = item;
  }

  /** The item at `i` (0 <= i < length). */
  at(i: number): T {
    return this.items[i] as T;
  }

  clear(): void {
    this.items.fill(null, 0, this.length);
    this.length = 0;
  }
}
