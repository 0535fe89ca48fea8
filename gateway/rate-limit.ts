/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. Refill is computed lazily from
 * the clock on each take, so an idle bucket costs nothing. One bucket per API key, shared by all
 * of that key's connections and HTTP requests.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    private readonly burst: number,
    perSecond: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.last = now();
    this.perMs = perSecond / 1_000;
  }

  /** Takes `n` tokens if there are that many; false (and nothing taken) otherwise. */
  take(n: number): boolean {
    const t = this.now();
    const elapsed = t - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs);
      this.last = t;
    }
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Whole seconds until `n` tokens are there (for Retry-After). */
  secondsUntil(n: number): number {
    const missing = n - this.tokens;
    return missing <= 0 ? 0 : Math.max(1, Math.ceil(missing / this.perMs / 1_000));
  }
}

/** What a key's requests take their tokens from: one thread's bucket, or one all workers share. */
export interface RateBucket {
  take(n: number): boolean;
  secondsUntil(n: number): number;
}

/** Bytes of shared memory one SharedTokenBucket uses (a lock word, then tokens and time). */
export const SHARED_BUCKET_BYTES = 24;

/**
 * A token bucket in shared memory, so a key's limit holds across every worker thread
 * (server.workers > 1) instead of multiplying by their number. The state is two float64s
 * (tokens, and the absolute time in ms of the last refill: each thread's performance.now() has
 * its own origin) guarded by a spin lock word: the critical section is a few arithmetic steps,
 * so a waiting thread spins for nanoseconds and never sleeps.
 */
export class SharedTokenBucket implements RateBucket {
  private readonly lock: Int32Array;
  private readonly state: Float64Array;
  private readonly perMs: number;

  constructor(
    memory: SharedArrayBuffer,
    offset: number,
    private readonly burst: number,
    perSecond: number,
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {
    this.lock = new Int32Array(memory, offset, 2);
    this.state = new Float64Array(memory, offset + 8, 2);
    this.perMs = perSecond / 1_000;
  }

  /** Fills the bucket (once, by whoever allocates the memory, before any worker takes). */
  init(): void {
    this.state[0] = this.burst;
    this.state[1] = this.now();
  }

  take(n: number): boolean {
    this.acquire();
    try {
      const t = this.now();
      const elapsed = t - (this.state[1] as number);
      let tokens = this.state[0] as number;
      if (elapsed > 0) {
        tokens = Math.min(this.burst, tokens + elapsed * this.perMs);
        this.state[1] = t;
      }
      if (tokens < n) {
        this.state[0] = tokens;
        return false;
      }
      this.state[0] = tokens - n;
      return true;
    } finally {
      Atomics.store(this.lock, 0, 0);
    }
  }

  secondsUntil(n: number): number {
    const missing = n - (this.state[0] as number);
    return missing <= 0 ? 0 : Math.max(1, Math.ceil(missing / this.perMs / 1_000));
  }

  private acquire(): void {
    while (Atomics.compareExchange(this.lock, 0, 0, 1) !== 0) {
      // Another worker is inside take(): a few instructions away from releasing.
    }
  }
}
