import type { Clock, TimerHandle } from './clock.ts';
import { ExpiryHeap, type HeapItem } from './expiry-heap.ts';

/**
 * Things that fall due at a time, for a whole component: one heap ordered by `dueAt` and one
 * armed clock timer for the earliest, never a timer per item. When it fires, every due item is
 * handed to `onDue` in due order, then `afterDue` runs once. Serves reservation expiry (the engine
 * turns each into an `expire` command), outbox retries and fulfilment deadlines.
 *
 * `remove` re-arms only to disarm when nothing is left: a timer armed for a removed item
 * otherwise fires, finds nothing due, and arms for the next. After `stop` nothing arms again.
 */
export class DueQueue<T extends HeapItem> {
  private readonly heap = new ExpiryHeap<T>();
  private timer: TimerHandle | null = null;
  private armedAt = Infinity;
  private stopped = false;
  /** While held, items are kept but no timer is armed (see `hold`). */
  private held = false;
  private readonly fire = (): void => {
    this.timer = null;
    this.armedAt = Infinity;
    this.runDue();
  };

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (item: T, now: number) => void,
    private readonly afterDue: (() => void) | null = null,
  ) {}

  get size(): number {
    return this.heap.size;
  }

  /** Adds the item, or moves it to its current `dueAt`. */
  schedule(item: T): void {
    this.heap.push(item);
    // Held (recovery replaying a million holds), there is nothing to arm: arm() would disarm.
    if (!this.held) this.arm();
  }

  remove(item: T): void {
    this.heap.remove(item);
    if (this.heap.size === 0) this.disarm();
  }

  clear(): void {
    this.heap.clear();
    this.disarm();
  }

  /** Hands over everything due by now, then re-arms for the next. */
  runDue(): void {
    const now = this.clock.now();
    for (
      let next = this.heap.peek();
      next !== undefined && next.dueAt <= now;
      next = this.heap.peek()
    ) {
      this.heap.pop();
      this.onDue(next, now);
    }
    this.arm();
    this.afterDue?.();
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  /**
   * Keeps items but arms no timer until `release`: nothing falls due in between, however late it
   * is (recovery holds reservation expiry until the journal is attached, so an expiry is never
   * applied unjournaled in the middle of a replay).
   */
  hold(): void {
    this.held = true;
    this.disarm();
  }

  /** Ends a `hold`: arms for the earliest item (one already due fires on the next turn). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.arm();
  }

  private arm(): void {
    const next = this.heap.peek();
    if (next === undefined || this.stopped || this.held) {
      this.disarm();
      return;
    }
    if (next.dueAt >= this.armedAt) return;
    this.disarm();
    this.armedAt = next.dueAt;
    this.timer = this.clock.schedule(next.dueAt, this.fire);
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
  }
}
