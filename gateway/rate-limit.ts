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
