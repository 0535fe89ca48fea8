/**
 * A binary min-heap of items keyed by `dueAt`, with each item's slot kept on the item so it can
 * be removed or re-keyed in O(log n). One heap serves the whole engine: no timer per reservation.
 */
export interface HeapItem {
  dueAt: number;
  heapIndex: number;
}

export class ExpiryHeap<T extends HeapItem> {
  private readonly items: T[] = [];
  /**
   * Each slot's `dueAt` as of when it was placed (or re-keyed through `update`), beside the items:
   * sifting compares these instead of reaching every item it passes. A reservation keeps its times
   * in columns of its own (ReservationTimes), so reading a parent's `dueAt` was two cache misses
   * (the item, then its row) per push, a million times at recovery.
   */
  private keys = new Float64Array(64);

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (item.heapIndex !== -1) {
      this.update(item);
      return;
    }
    const index = this.items.length;
    if (index === this.keys.length) {
      const keys = new Float64Array(index * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.items.push(item);
    this.keys[index] = item.dueAt;
    item.heapIndex = index;
    this.up(index);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return top;
  }

  remove(item: T): void {
    if (item.heapIndex !== -1) this.removeAt(item.heapIndex);
  }

  /** Restores heap order after `item.dueAt` changed. */
  update(item: T): void {
    this.keys[item.heapIndex] = item.dueAt;
    this.up(item.heapIndex);
    this.down(item.heapIndex);
  }

  clear(): void {
    for (const item of this.items) item.heapIndex = -1;
    this.items.length = 0;
  }

  private removeAt(index: number): void {
    const items = this.items;
    const removed = items[index] as T;
    const last = items.pop() as T;
    removed.heapIndex = -1;
    if (index < items.length) {
      items[index] = last;
      this.keys[index] = this.keys[items.length] as number;
      last.heapIndex = index;
      this.up(index);
      this.down(last.heapIndex);
    }
  }

  private up(index: number): void {
    const items = this.items;
    const keys = this.keys;
    const item = items[index] as T;
    const key = keys[index] as number;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parentKey = keys[parentIndex] as number;
      if (parentKey <= key) break;
      const parent = items[parentIndex] as T;
      items[index] = parent;
      keys[index] = parentKey;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    keys[index] = key;
    item.heapIndex = index;
  }

  private down(index: number): void {
    const items = this.items;
    const keys = this.keys;
    const n = items.length;
    const item = items[index] as T;
    const key = keys[index] as number;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (keys[right] as number) < (keys[left] as number)) child = right;
      const childKey = keys[child] as number;
      if (childKey >= key) break;
      const c = items[child] as T;
      items[index] = c;
      keys[index] = childKey;
      c.heapIndex = index;
      index = child;
    }
    items[index] = item;
    keys[index] = key;
    item.heapIndex = index;
  }
}
