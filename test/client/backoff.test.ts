import { describe, expect, it } from 'vitest';
import { Backoff } from '../../client/index.ts';

/** A random source replaying `values`, then repeating the last. */
function replay(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('reconnect backoff (full jitter, Centrifugo-style)', () => {
  it('grows the window exponentially from the floor and caps it', () => {
    // random() just below 1 shows each step's window: min + min × 2ⁿ, capped at max.
    const b = new Backoff({ minDelayMs: 500, maxDelayMs: 20_000, random: () => 0.999_999 });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays).toEqual([999, 1_499, 2_499, 4_499, 8_499, 16_499, 20_000, 20_000]);
  });

  it('never goes below the floor: random() = 0 gives the minimum every time', () => {
    const b = new Backoff({ minDelayMs: 500, maxDelayMs: 20_000, random: () => 0 });
    expect(Array.from({ length: 10 }, () => b.next())).toEqual(Array(10).fill(500));
  });

  it('spreads over the whole window (full jitter, not ± a little)', () => {
    const b = new Backoff({ minDelayMs: 100, maxDelayMs: 10_000, random: replay(0.5, 0.25, 0.75) });
    // windows 100, 200, 400 → 100 + 50, 100 + 50, 100 + 300
    expect([b.next(), b.next(), b.next()]).toEqual([150, 150, 400]);
  });

  it('starts over after a reset (a connection that worked)', () => {
    const b = new Backoff({ minDelayMs: 500, maxDelayMs: 20_000, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(750);
  });

  it('stays finite after very many attempts', () => {
    const b = new Backoff({ minDelayMs: 500, maxDelayMs: 20_000, random: () => 0.5 });
    let last = 0;
    for (let i = 0; i < 5_000; i++) last = b.next();
    expect(last).toBe(500 + 10_000); // half of the capped window, above the floor
  });

  it('defaults to 0.5 s growing to 20 s', () => {
    const b = new Backoff({ random: () => 0.999_999_999 });
    expect(b.minDelayMs).toBe(500);
    expect(b.maxDelayMs).toBe(20_000);
    let last = 0;
    for (let i = 0; i < 12; i++) last = b.next();
    expect(last).toBe(20_000);
  });

  it('refuses a cap below the floor, or a negative floor', () => {
    expect(() => new Backoff({ minDelayMs: 1_000, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
    expect(() => new Backoff({ minDelayMs: -1 })).toThrow(/minDelayMs/);
  });
});
