/**
 * Time enters the engine only through a Clock, so tests drive a simulated clock instead of real
 * timers or sleeps. One timer at a time is all the engine asks of it: the expiry scheduler and
 * the delta flusher each keep a single armed timer.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once, at or after `at` (epoch ms). */
  schedule(at: number, fn: () => void): TimerHandle;
  cancel(handle: TimerHandle): void;
}

class SystemTimer implements TimerHandle {
  constructor(
    readonly id: number,
    readonly timeout: NodeJS.Timeout,
  ) {}
}

/** Wall-clock time with unref'd Node timers (an armed timer never keeps the process alive). */
export class SystemClock implements Clock {
  private nextId = 1;

  now(): number {
    return Date.now();
  }

  schedule(at: number, fn: () => void): TimerHandle {
    const delay = Math.max(0, Math.min(at - Date.now(), 2_147_483_647));
    const timeout = setTimeout(fn, delay);
    timeout.unref();
    return new SystemTimer(this.nextId++, timeout);
  }

  cancel(handle: TimerHandle): void {
    if (handle instanceof SystemTimer) clearTimeout(handle.timeout);
  }
}

interface ManualTimer extends TimerHandle {
  readonly at: number;
  readonly fn: () => void;
}

/**
 * A simulated clock for tests: time moves only when `advance` or `set` is called, and every
 * timer that falls due runs synchronously inside that call, in deadline order.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  schedule(at: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { id: this.nextId++, at, fn };
    this.timers.set(timer.id, timer);
    return timer;
  }

  cancel(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  advance(ms: number): void {
    this.set(this.current + ms);
  }

  set(target: number): void {
    for (;;) {
      let due: ManualTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.at <= target && (due === undefined || timer.at < due.at)) due = timer;
      }
      if (due === undefined) break;
      this.timers.delete(due.id);
      if (due.at > this.current) this.current = due.at;
      due.fn();
    }
    if (target > this.current) this.current = target;
  }

  /** Timers still armed (for assertions that nothing leaks). */
  get pendingTimers(): number {
    return this.timers.size;
  }
}
