import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReservationTimes } from '../../engine/reservation-times.ts';

describe('ReservationTimes', () => {
  it('never hands out a handle in use, and keeps every row through growth', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(-1), fc.nat({ max: 5_000 })), {
          maxLength: 3_000,
          size: 'max',
        }),
        (steps) => {
          const times = new ReservationTimes();
          const live = new Map<number, number>();
          let stamp = 1.5e12;
          for (const step of steps) {
            if (step === -1 || live.size === 0) {
              const h = times.take();
              expect(live.has(h)).toBe(false);
              stamp += 1;
              times.expiresAt[h] = stamp;
              times.dueAt[h] = stamp + 0.5;
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
            expect(times.expiresAt[h]).toBe(at);
            expect(times.dueAt[h]).toBe(at + 0.5);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});
