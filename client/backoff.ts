/** Reconnect delays; every field has a default (Centrifugo's: 0.5 s growing to 20 s). */
export interface BackoffOptions {
  /** The first delay's floor and the growth's base, milliseconds. Default 500. */
  readonly minDelayMs?: number;
  /** No delay is longer. Default 20,000. */
  readonly maxDelayMs?: number;
  /** A number in [0, 1); Math.random by default (tests inject their own). */
  readonly random?: () => number;
}

export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 20_000;

/**
 * Exponential backoff with full jitter, as Centrifugo's clients do it: the n-th delay (from 0)
 * is `min(max, min + random × min(max, min × 2ⁿ))`. The jitter spreads the reconnects of many
 * clients after a server restart over the whole window instead of a thundering herd; the floor
 * keeps a client from hammering a server that refuses at once.
 */
export class Backoff {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.minDelayMs = options.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.random = options.random ?? Math.random;
    if (!Number.isFinite(this.minDelayMs) || this.minDelayMs < 0) {
      throw new RangeError(`minDelayMs must be a number >= 0, not ${this.minDelayMs}`);
    }
    if (!Number.isFinite(this.maxDelayMs) || this.maxDelayMs < this.minDelayMs) {
      throw new RangeError(
        `maxDelayMs must be a number >= minDelayMs (${this.minDelayMs}), not ${this.maxDelayMs}`,
      );
    }
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay, milliseconds. */
  next(): number {
    // 2^31 × min is far beyond any cap; bounding the exponent keeps the number finite.
    const step = Math.min(this.attempt, 31);
    this.attempt++;
    const window = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** step);
    return Math.min(this.maxDelayMs, this.minDelayMs + Math.floor(this.random() * window));
  }

  /** After a connection that worked: the next delay is a first one again. */
  reset(): void {
    this.attempt = 0;
  }
}
