import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Location } from '../../engine/master-data.ts';
import { Position } from '../../engine/position.ts';
import { Reservation } from '../../engine/reservation.ts';
import { BookReservations, ReservationIndex } from '../../engine/reservation-index.ts';
import { ReservationTimes } from '../../engine/reservation-times.ts';

/**
 * A book's reservations are an intrusive list (newest first) with its two ends kept: a snapshot
 * walks it from the oldest. Whatever is added and removed, in any order, the list holds exactly
 * what is left, oldest first, and both ends are right.
 */
describe("a book's list of reservations (fast-check)", () => {
  it('keeps what is left in order, and its oldest and newest, over any adds and removes', () => {
    const book = {};
    const times = new ReservationTimes();
    const position = new Position('A', { id: 'S1' } as unknown as Location, 0);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant('add' as const), fc.nat({ max: 50 })), { maxLength: 120 }),
        (steps) => {
          const index = new ReservationIndex<object>(() => book);
          const list = new BookReservations(book, 'A', index);
          const model: Reservation[] = [];
          let next = 0;
          for (const step of steps) {
            if (step === 'add') {
              const r = new Reservation(`r${next++}`, 'web', 1, 'S1', position, 1, null, 1, times);
              list.add(r);
              model.push(r);
            } else if (model.length > 0) {
              const [r] = model.splice(step % model.length, 1);
              list.remove(r as Reservation);
            }
            expect(list.values()).toEqual(model);
            expect(list.size).toBe(model.length);
            expect(list.oldest).toBe(model[0] ?? null);
            expect(list.newest).toBe(model.at(-1) ?? null);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
