import type { SkuBook } from './sku-book.ts';

/** FNV-1a over the UTF-16 code units, finished by murmur3's fmix32; never 0 (an empty slot). */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}

/**
 * The books by SKU as replay finds them. Every SKU replay reads is a fresh string from the
 * journal, and the first Map lookup of a fresh string has V8 compute its hash, which measured
 * about as much as the rest of the lookup (recovery looks up one per record, a million). Here the
 * hash is computed in JS over the characters, kept per slot in an Int32Array (open addressing,
 * linear probing), and a book is touched only on a hash match.
 *
 * Filled from the engine's books when first used, then extended by the books records name that
 * it does not hold yet; built again whenever the engine's `epoch` says a book went (an import
 * started, a change was undone), so it never finds a book the engine no longer has. Cleared once
 * a replay is over (recovery attaches the journal, a resync replayed), so it holds no memory
 * while the engine runs.
 */
export class ReplayBooks {
  private hashes = new Int32Array(0);
  private books: (SkuBook | undefined)[] = [];
  private mask = -1;
  private count = 0;
  private epoch = -1;

  find(sku: string, books: ReadonlyMap<string, SkuBook>, epoch: number): SkuBook | undefined {
    if (epoch !== this.epoch) this.rebuild(books, epoch);
    const h = hashOf(sku);
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const at = hashes[i];
      if (at === 0) break;
      if (at === h) {
        const book = this.books[i] as SkuBook;
        if (book.sku === sku) return book;
      }
    }
    const book = books.get(sku);
    if (book !== undefined) this.insert(h, book);
    return book;
  }

  /** Lets go of every book (replay is over): the next `find` fills the table again. */
  clear(): void {
    this.hashes = new Int32Array(0);
    this.books = [];
    this.mask = -1;
    this.count = 0;
    this.epoch = -1;
  }

  private rebuild(books: ReadonlyMap<string, SkuBook>, epoch: number): void {
    this.epoch = epoch;
    this.allocate(books.size);
    for (const book of books.values()) this.insert(hashOf(book.sku), book);
  }

  private allocate(entries: number): void {
    let capacity = 16;
    while (capacity < entries * 2) capacity *= 2;
    this.hashes = new Int32Array(capacity);
    this.books = new Array<SkuBook | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.count = 0;
  }

  private insert(h: number, book: SkuBook): void {
    if ((this.count + 1) * 2 > this.hashes.length) {
      const hashes = this.hashes;
      const books = this.books;
      this.allocate(this.count + 1);
      for (let i = 0; i < hashes.length; i++) {
        if (hashes[i] !== 0) this.insert(hashes[i] as number, books[i] as SkuBook);
      }
    }
    const mask = this.mask;
    let i = h & mask;
    while (this.hashes[i] !== 0) i = (i + 1) & mask;
    this.hashes[i] = h;
    this.books[i] = book;
    this.count++;
  }
}
