/**
 * Growable arrays in fixed-size pages, for the columns that grow with the held reservations (a
 * flash sale takes them from none to millions). Growing adds one page: nothing is copied, and no
 * allocation is bigger than a page.
 *
 * Why: doubling one array means allocating the new one whole and copying the old one into it, in
 * one call. At a million reservations that call held the event loop for 65-270 ms on this project's
 * machine (fresh memory is slow to touch here: about 25 ns per 8-byte element), and every request
 * in flight waited it out: the longest latencies of a flash sale, once per doubling of each
 * structure. `npm run bench:growth` measures each structure against the one-array layout it
 * replaced; see docs/engine.md ("Structures that grow").
 */

/** Doubles per page of a {@link PagedF64}: 512 KiB, allocated zeroed by the OS on first touch. */
const F64_PAGE_BITS = 16;
/** Slots per page of a {@link PagedList}: 64 KiB of references. */
const LIST_PAGE_BITS = 13;

/** Doubles by index, zero until set; `ensure` makes room (a page at a time). */
export class PagedF64 {
  private readonly pages: Float64Array[] = [];
  private readonly shift: number;
  private readonly mask: number;

  constructor(pageBits = F64_PAGE_BITS) {
    this.shift = pageBits;
    this.mask = (1 << pageBits) - 1;
  }

  /** Indexes below this can be read and set. */
  get capacity(): number {
    return this.pages.length << this.shift;
  }

  /** Makes indexes below `n` usable (new ones read 0). */
  ensure(n: number): void {
    while (this.capacity < n) this.pages.push(new Float64Array(this.mask + 1));
  }

  at(i: number): number {
    return (this.pages[i >>> this.shift] as Float64Array)[i & this.mask] as number;
  }

  set(i: number, value: number): void {
    (this.pages[i >>> this.shift] as Float64Array)[i & this.mask] = value;
  }
}

/**
 * A list of references in pages: push, pop and indexed access, as on an array. A page is kept
 * once made (the memory a peak needed stays for the next one); a popped slot is cleared, so
 * nothing stays alive through it.
 */
export class PagedList<T> {
  private readonly pages: (T | undefined)[][] = [];
  private readonly shift: number;
  private readonly mask: number;
  private count = 0;

  constructor(pageBits = LIST_PAGE_BITS) {
    this.shift = pageBits;
    this.mask = (1 << pageBits) - 1;
  }

  get length(): number {
    return this.count;
  }

  /** The item at `i` (< length). */
  at(i: number): T {
    return (this.pages[i >>> this.shift] as T[])[i & this.mask] as T;
  }

  /** Replaces the item at `i` (< length). */
  set(i: number, item: T): void {
    (this.pages[i >>> this.shift] as T[])[i & this.mask] = item;
  }

  push(item: T): void {
    const i = this.count;
    const page = i >>> this.shift;
    if (page === this.pages.length) {
      this.pages.push(new Array<T | undefined>(this.mask + 1).fill(undefined));
    }
    (this.pages[page] as (T | undefined)[])[i & this.mask] = item;
    this.count = i + 1;
  }

  /** Takes the last item off, or undefined when empty. */
  pop(): T | undefined {
    if (this.count === 0) return undefined;
    const i = --this.count;
    const page = this.pages[i >>> this.shift] as (T | undefined)[];
    const item = page[i & this.mask];
    page[i & this.mask] = undefined;
    return item;
  }

  /** Empties the list (its pages are kept, cleared). */
  clear(): void {
    for (let p = 0; p * (this.mask + 1) < this.count; p++) {
      (this.pages[p] as (T | undefined)[]).fill(undefined);
    }
    this.count = 0;
  }
}
