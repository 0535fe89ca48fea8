import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReservationTimes } from '../../engine/reservation-times.ts';

describe('ReservationTimes', () => {
  it('never hands out a handle in use, and keeps every row through growth', () => {
    // Pages of 4 or 32 doubles: rows straddle pages and growth adds many (the default, too).
    fc.assert(
      fc.property(
        fc.constantFrom(2, 5, undefined),
        fc.array(fc.oneof(fc.constant(-1), fc.nat({ max: 5_000 })), {
          maxLength: 3_000,
          size: 'max',
        }),
        (pageBits, steps) => {
          const times = new ReservationTimes(pageBits);
          const live = new Map<number, number>();
          let stamp = 1.5e12;
          for (const step of steps) {
            if (step === -1 || live.size === 0) {
              stamp += 1;
              const h = times.take(stamp, 0, stamp + 0.5);
              expect(live.has(h)).toBe(false);
              if (stamp % 3 === 0) times.setEndedAt(h, stamp + 0.25);
              live.set(h, stamp);
            } else {
              const handles = [...live.keys()];
              const h = handles[step % handles.length] as number;
              live.delete(h);
              times.giveBack(h);
            }
          }
          expect(times.size).toBe(live.size);
          for (const [h, at] of live) {
            expect(times.expiresAt(h)).toBe(at);
            expect(times.dueAt(h)).toBe(at + 0.5);
            expect(times.endedAt(h)).toBe(at % 3 === 0 ? at + 0.25 : 0);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});
