/**
 * FNV-1a (32 bits) over a string's UTF-16 code units. Cheap, stable across processes and Node
 * versions (the shard layout stores it as part of the data directory's format).
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The hash an {@link IdTable} files a key under: FNV-1a finished by murmur3's fmix32, so the low
 * bits the table indexes by depend on every bit (within one shard every SKU has the same FNV-1a
 * modulo the shard count), never 0 (0 marks an empty slot).
 */
export function idHash(s: string): number {
  let h = fnv1a32(s);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h | 0;
}

const MIN_CAPACITY = 16;

/** Slots of the old table moved per insert or delete while the table grows (see IdTable). */
const MOVE_PER_OP = 64;

/** In a table being drained into its successor: a slot whose entry left (moved or deleted).
 * Probes go on past it, as past a live entry; no caller's hash is stored as it (see `stored`). */
const GONE = 1;

/** A caller's hash as the table stores it: 0 marks an empty slot and GONE a left one, so those
 * two are stored as 2 and 3 (any fixed mapping does: one key always gets the same hash). */
function stored(hash: number): number {
  return hash >>> 1 === 0 ? hash + 2 : hash;
}

/**
 * A string-keyed hash map for the engine's biggest index (every held reservation, millions in a
 * flash sale): open addressing with linear probing, each slot's hash kept in an Int32Array, so a
 * probe compares integers and touches a key only on a hash match, and deletion shifts the run
 * back (no tombstones, so a table that churns never slows down).
 *
 * Measured against `Map` with a million ids held and new ones coming in as old ones go, it does
 * the get, set and delete of a reserve in about half the time (V8's ordered hash map chains
 * through entries it has to reach by pointer, and rehashes to compact deleted ones). A caller
 * that looks a key up more than once hashes it once ({@link idHash}) and passes the hash.
 *
 * The table grows (doubling) past 5/8 full and never shrinks: the memory a peak needed stays
 * for the next one (a flash sale comes back). It grows incrementally, as Redis's dict rehashes:
 * the bigger table takes new keys at once, and every insert or delete then moves the next
 * MOVE_PER_OP slots of the old one over, which is drained long before the new one is 5/8 full.
 * Moving a million keys in one call held the event loop for 100-200 ms (a quiet machine; more
 * under load), which every request in flight waited out: the longest latencies of a flash sale.
 * While the old table drains, a key is in exactly one of the two, a lookup that misses the new
 * one tries the old one, and a slot the old one loses is marked GONE rather than emptied (a
 * backward shift could move a key behind the drain's cursor, and an empty slot would cut the
 * probe run of a key not moved yet).
 */
export class IdTable<V> {
  private hashes: Int32Array;
  /**
   * Slot i's key at 2i and its value at 2i + 1: side by side, a set or a hit touches one cache
   * line of them, not one in a keys array and another in a values array (at a million ids the
   * table is far bigger than the caches). Measured filling a table with a million fresh values
   * among short-lived garbage, as replay does: about a tenth faster than two arrays.
   */
  private entries: (string | V | undefined)[];
  private mask: number;
  private count = 0;
  private growAt: number;
  /** The table being drained after a growth, and the next of its slots to move; null when none. */
  private oldHashes: Int32Array | null = null;
  private oldEntries: (string | V | undefined)[] = [];
  private oldMask = 0;
  private moveAt = 0;

  constructor(
    capacity = MIN_CAPACITY,
    /** Old slots moved per insert or delete while growing (tests make it small). */
    private readonly movePerOp = MOVE_PER_OP,
  ) {
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap *= 2;
    this.hashes = new Int32Array(cap);
    this.entries = new Array<string | V | undefined>(cap * 2).fill(undefined);
    this.mask = cap - 1;
    this.growAt = (cap * 5) >>> 3;
  }

  get size(): number {
    return this.count;
  }

  /** Its slots (the old table's not counted while it drains). */
  get capacity(): number {
    return this.hashes.length;
  }

  /** Whether an older table is still being drained (for tests). */
  get growing(): boolean {
    return this.oldHashes !== null;
  }

  get(key: string, hash = idHash(key)): V | undefined {
    const h = stored(hash);
    const i = this.slotOf(key, h);
    if (i >= 0) return this.entries[2 * i + 1] as V | undefined;
    if (this.oldHashes === null) return undefined;
    const j = this.oldSlotOf(key, h);
    return j < 0 ? undefined : (this.oldEntries[2 * j + 1] as V | undefined);
  }

  has(key: string, hash = idHash(key)): boolean {
    const h = stored(hash);
    return this.slotOf(key, h) >= 0 || (this.oldHashes !== null && this.oldSlotOf(key, h) >= 0);
  }

  set(key: string, value: V, hash = idHash(key)): void {
    const h = stored(hash);
    const i = this.slotOf(key, h);
    if (i >= 0) {
      this.entries[2 * i + 1] = value;
      return;
    }
    if (this.oldHashes !== null) {
      const j = this.oldSlotOf(key, h);
      if (j >= 0) {
        // Still in the old table: it stays there (with its new value) until the drain moves it.
        this.oldEntries[2 * j + 1] = value;
        return;
      }
    }
    const free = -1 - i;
    this.hashes[free] = h;
    this.entries[2 * free] = key;
    this.entries[2 * free + 1] = value;
    this.count++;
    if (this.count > this.growAt) this.grow();
    else if (this.oldHashes !== null) this.drain(this.movePerOp);
  }

  delete(key: string, hash = idHash(key)): boolean {
    const h = stored(hash);
    let i = this.slotOf(key, h);
    if (i < 0) {
      if (this.oldHashes === null) return false;
      const j = this.oldSlotOf(key, h);
      if (j < 0) return false;
      this.oldHashes[j] = GONE;
      this.oldEntries[2 * j] = undefined;
      this.oldEntries[2 * j + 1] = undefined;
      this.count--;
      this.drain(this.movePerOp);
      return true;
    }
    const { hashes, entries, mask } = this;
    this.count--;
    // Backward-shift deletion: move each later entry of the run whose home is not between the
    // hole and it into the hole, so every entry stays reachable from its home without tombstones.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const hj = hashes[j] as number;
      if (hj === 0) break;
      const home = hj & mask;
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      hashes[i] = hj;
      entries[2 * i] = entries[2 * j];
      entries[2 * i + 1] = entries[2 * j + 1];
      i = j;
    }
    hashes[i] = 0;
    entries[2 * i] = undefined;
    entries[2 * i + 1] = undefined;
    if (this.oldHashes !== null) this.drain(this.movePerOp);
    return true;
  }

  clear(): void {
    this.hashes.fill(0);
    this.entries.fill(undefined);
    this.count = 0;
    this.oldHashes = null;
    this.oldEntries = [];
  }

  /** The slot holding `key`, or -1 - (the empty slot where it would go). */
  private slotOf(key: string, hash: number): number {
    const { hashes, entries, mask } = this;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const h = hashes[i] as number;
      if (h === 0) return -1 - i;
      if (h === hash && entries[2 * i] === key) return i;
    }
  }

  /** The old table's slot holding `key`, or -1. */
  private oldSlotOf(key: string, hash: number): number {
    const hashes = this.oldHashes as Int32Array;
    const { oldEntries: entries, oldMask: mask } = this;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const h = hashes[i] as number;
      if (h === 0) return -1;
      if (h === hash && entries[2 * i] === key) return i;
    }
  }

  /** Moves the old table's next `slots` slots into the new one; drops it once drained. */
  private drain(slots: number): void {
    const old = this.oldHashes as Int32Array;
    const oldEntries = this.oldEntries;
    const end = Math.min(old.length, this.moveAt + slots);
    const { hashes, entries, mask } = this;
    for (let j = this.moveAt; j < end; j++) {
      const h = old[j] as number;
      if (h === 0 || h === GONE) continue;
      let i = h & mask;
      while (hashes[i] !== 0) i = (i + 1) & mask;
      hashes[i] = h;
      entries[2 * i] = oldEntries[2 * j];
      entries[2 * i + 1] = oldEntries[2 * j + 1];
      old[j] = GONE;
      oldEntries[2 * j] = undefined;
      oldEntries[2 * j + 1] = undefined;
    }
    this.moveAt = end;
    if (end === old.length) {
      this.oldHashes = null;
      this.oldEntries = [];
    }
  }

  /** Starts draining into a table twice the size (a drain still running is finished first). */
  private grow(): void {
    if (this.oldHashes !== null) this.drain(this.oldHashes.length);
    const cap = this.hashes.length * 2;
    this.oldHashes = this.hashes;
    this.oldEntries = this.entries;
    this.oldMask = this.mask;
    this.moveAt = 0;
    this.hashes = new Int32Array(cap);
    this.entries = new Array<string | V | undefined>(cap * 2).fill(undefined);
    this.mask = cap - 1;
    this.growAt = (cap * 5) >>> 3;
  }
}

/** Segments of a {@link SegmentedIdTable}: picked by a hash's top bits. */
const SEGMENT_BITS = 6;

/**
 * An {@link IdTable} split in 64 by each key's hash (its top bits; a segment indexes by the low
 * ones), for the indexes that grow to millions of keys. Each segment grows on its own, so the
 * biggest allocation a growth makes is a 64th of the whole: one table of two million slots
 * allocated its entries array (four million references) in one call, and on this project's
 * machine that alone held the event loop for about 100 ms (see paged.ts for why fresh memory is
 * slow here). Lookups cost one more array read. The reservation index uses it; the SKU books'
 * table stays one IdTable (books come with master data, not during a sale, and segmented it made
 * bench:durable's spread over 100k SKUs 13-23% slower in three alternated rounds).
 */
export class SegmentedIdTable<V> {
  private readonly segments: IdTable<V>[];
  private readonly shift = 32 - SEGMENT_BITS;

  constructor(movePerOp = MOVE_PER_OP) {
    this.segments = Array.from({ length: 1 << SEGMENT_BITS }, () => new IdTable<V>(0, movePerOp));
  }

  get size(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /** The most slots one segment has (for tests: what one growth allocates, at most, is twice). */
  get largestSegment(): number {
    let most = 0;
    for (const s of this.segments) most = Math.max(most, s.capacity);
    return most;
  }

  get(key: string, hash = idHash(key)): V | undefined {
    return (this.segments[hash >>> this.shift] as IdTable<V>).get(key, hash);
  }

  has(key: string, hash = idHash(key)): boolean {
    return (this.segments[hash >>> this.shift] as IdTable<V>).has(key, hash);
  }

  set(key: string, value: V, hash = idHash(key)): void {
    (this.segments[hash >>> this.shift] as IdTable<V>).set(key, value, hash);
  }

  delete(key: string, hash = idHash(key)): boolean {
    return (this.segments[hash >>> this.shift] as IdTable<V>).delete(key, hash);
  }

  clear(): void {
    for (const s of this.segments) s.clear();
  }
}
