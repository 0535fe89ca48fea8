import { PagedF64, PagedList } from './paged.ts';

/**
 * A binary min-heap of items keyed by `dueAt`, with each item's slot kept on the item so it can
 * be removed or re-keyed in O(log n). One heap serves the whole engine: no timer per reservation.
 */
export interface HeapItem {
  dueAt: number;
  heapIndex: number;
}

export class ExpiryHeap<T extends HeapItem> {
  /** The heap's slots, in pages: a heap of millions grows without copying (see paged.ts). */
  private readonly items: PagedList<T>;
  /**
   * Each slot's `dueAt` as of when it was placed (or re-keyed through `update`), beside the items:
   * sifting compares these instead of reaching every item it passes. A reservation keeps its times
   * in columns of its own (ReservationTimes), so reading a parent's `dueAt` was two cache misses
   * (the item, then its row) per push, a million times at recovery.
   */
  private readonly keys: PagedF64;

  /** `listPageBits` and `keyPageBits` set the page sizes (tests make them small). */
  constructor(listPageBits?: number, keyPageBits?: number) {
    this.items = new PagedList<T>(listPageBits);
    this.keys = new PagedF64(keyPageBits);
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items.length === 0 ? undefined : this.items.at(0);
  }

  push(item: T): void {
    if (item.heapIndex !== -1) {
      this.update(item);
      return;
    }
    const index = this.items.length;
    this.keys.ensure(index + 1);
    this.items.push(item);
    this.keys.set(index, item.dueAt);
    item.heapIndex = index;
    this.up(index);
  }

  pop(): T | undefined {
    if (this.items.length === 0) return undefined;
    const top = this.items.at(0);
    this.removeAt(0);
    return top;
  }

  remove(item: T): void {
    if (item.heapIndex !== -1) this.removeAt(item.heapIndex);
  }

  /** Restores heap order after `item.dueAt` changed. */
  update(item: T): void {
    this.keys.set(item.heapIndex, item.dueAt);
    this.up(item.heapIndex);
    this.down(item.heapIndex);
  }

  clear(): void {
    const items = this.items;
    for (let i = 0; i < items.length; i++) items.at(i).heapIndex = -1;
    items.clear();
  }

  private removeAt(index: number): void {
    const items = this.items;
    const removed = items.at(index);
    const last = items.pop() as T;
    removed.heapIndex = -1;
    if (index < items.length) {
      items.set(index, last);
      this.keys.set(index, this.keys.at(items.length));
      last.heapIndex = index;
      this.up(index);
      this.down(last.heapIndex);
    }
  }

  private up(index: number): void {
    const items = this.items;
    const keys = this.keys;
    const item = items.at(index);
    const key = keys.at(index);
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parentKey = keys.at(parentIndex);
      if (parentKey <= key) break;
      const parent = items.at(parentIndex);
      items.set(index, parent);
      keys.set(index, parentKey);
      parent.heapIndex = index;
      index = parentIndex;
    }
    items.set(index, item);
    keys.set(index, key);
    item.heapIndex = index;
  }

  private down(index: number): void {
    const items = this.items;
    const keys = this.keys;
    const n = items.length;
    const item = items.at(index);
    const key = keys.at(index);
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && keys.at(right) < keys.at(left)) child = right;
      const childKey = keys.at(child);
      if (childKey >= key) break;
      const c = items.at(child);
      items.set(index, c);
      keys.set(index, childKey);
      c.heapIndex = index;
      index = child;
    }
    items.set(index, item);
    keys.set(index, key);
    item.heapIndex = index;
  }
}
