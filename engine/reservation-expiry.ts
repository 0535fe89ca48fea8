import type { Clock, TimerHandle } from './clock.ts';
import { ExpiryHeap } from './expiry-heap.ts';
import type { Reservation } from './reservation.ts';

/**
 * Reservation time for the whole engine: one heap ordered by each reservation's next due time
 * and one armed clock timer for the earliest. When it fires, every due reservation is handed to
 * `onDue` (the engine turns each into an `expire` command for the owning actor).
 */
export class ReservationExpiry {
  private readonly heap = new ExpiryHeap<Reservation>();
  private timer: TimerHandle | null = null;
  private armedAt = Infinity;
  private readonly fire = (): void => {
    this.timer = null;
    this.armedAt = Infinity;
    this.runDue();
  };

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (reservation: Reservation, now: number) => void,
  ) {}

  get size(): number {
    return this.heap.size;
  }

  schedule(reservation: Reservation): void {
    this.heap.push(reservation);
    this.arm();
  }

  remove(reservation: Reservation): void {
    this.heap.remove(reservation);
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
  }

  stop(): void {
    this.disarm();
  }

  private arm(): void {
    const next = this.heap.peek();
    if (next === undefined) {
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
