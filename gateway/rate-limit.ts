/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. Refill is computed lazily from
 * the clock on each take, so an idle bucket costs nothing. One bucket per API key, shared by all
 * of that key's connections and HTTP requests.
 */
/** What a key's requests take their tokens from: one thread's bucket, or one all workers share. */
export interface RateBucket {
  take(n: number): boolean;
  secondsUntil(n: number): number;
}

/** Bytes of shared memory one shared bucket uses (a lock word, then tokens and time). */
export const SHARED_BUCKET_BYTES = 24;

/** Absolute ms: each thread's performance.now() has its own origin, shared state needs one clock. */
const absoluteNow = (): number => performance.timeOrigin + performance.now();

/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. Refill is computed lazily from
 * the clock on each take, so an idle bucket costs nothing. One bucket per API key, shared by all
 * of that key's connections and HTTP requests.
 *
 * Its state is two float64s (tokens, and the time in ms of the last refill). With worker threads
 * (server.workers > 1) they live in shared memory every worker takes from (sharedTokenBucket), so
 * a key's limit holds across workers instead of multiplying by their number; a spin lock word
 * then guards them: the critical section is a few arithmetic steps, so a waiting thread spins
 * for nanoseconds and never sleeps.
 */
export class TokenBucket implements RateBucket {
  private readonly perMs: number;

  constructor(
    private readonly burst: number,
    perSecond: number,
    private readonly now: () => number,
    private readonly state: Float64Array = new Float64Array([burst, now()]),
    private readonly lock: Int32Array | null = null,
  ) {
    this.perMs = perSecond / 1_000;
  }

  /** Takes `n` tokens if there are that many; false (and nothing taken) otherwise. */
  take(n: number): boolean {
    if (this.lock !== null) this.acquire(this.lock);
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
      if (this.lock !== null) Atomics.store(this.lock, 0, 0);
    }
  }

  /** Whole seconds until `n` tokens are there (for Retry-After). */
  secondsUntil(n: number): number {
    const missing = n - (this.state[0] as number);
    return missing <= 0 ? 0 : Math.max(1, Math.ceil(missing / this.perMs / 1_000));
  }

  private acquire(lock: Int32Array): void {
    while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) {
      // Another worker is inside take(): a few instructions away from releasing.
    }
  }
}

/** The bucket whose state is at `offset` in shared memory (filled by fillSharedBucket). */
export function sharedTokenBucket(
  memory: SharedArrayBuffer,
  offset: number,
  burst: number,
  perSecond: number,
): TokenBucket {
  return new TokenBucket(
    burst,
    perSecond,
    absoluteNow,
    new Float64Array(memory, offset + 8, 2),
    new Int32Array(memory, offset, 2),
  );
}

/** Fills a shared bucket (once, by whoever allocates the memory, before any worker takes). */
export function fillSharedBucket(memory: SharedArrayBuffer, offset: number, burst: number): void {
  new Float64Array(memory, offset + 8, 2).set([burst, absoluteNow()]);
}
