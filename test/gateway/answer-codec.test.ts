import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Command, CommandResult, ReservationState } from '../../engine/index.ts';
import { packAnswer, unpackAnswer } from '../../gateway/shards/answer-codec.ts';

// A forwarded command's answer crosses between workers without what the command already says;
// the asking worker must rebuild exactly the engine's result, for any reservation answer.

const id = fc.string({ minLength: 1, maxLength: 12 });
const state = fc.constantFrom<ReservationState>('held', 'released', 'expired', 'confirmed');

const case_ = fc
  .record({
    op: fc.constantFrom('reserve', 'release', 'confirm'),
    reservationId: id,
    sku: id,
    channel: id,
    otherSku: fc.option(id, { nil: null }),
    otherChannel: fc.option(id, { nil: null }),
    qty: fc.integer({ min: 1, max: 1_000_000 }),
    state,
    lines: fc.array(fc.record({ location: id, qty: fc.integer({ min: 1, max: 1_000 }) }), {
      maxLength: 4,
    }),
    expiresAt: fc.integer({ min: 0, max: 2 ** 45 }),
    orderId: fc.option(id, { nil: null }),
    applied: fc.boolean(),
    duplicate: fc.boolean(),
  })
  .map((c) => {
    const cmd: Command =
      c.op === 'reserve'
        ? {
            op: 'reserve',
            reservationId: c.reservationId,
            channel: c.channel,
            sku: c.sku,
            qty: c.qty,
          }
        : c.op === 'release'
          ? { op: 'release', reservationId: c.reservationId }
          : { op: 'confirm', reservationId: c.reservationId, orderId: c.orderId ?? 'o' };
    const result: CommandResult = {
      ok: true,
      applied: c.applied,
      duplicate: c.duplicate,
      position: null,
      reservation: {
        reservationId: c.reservationId,
        sku: c.otherSku ?? c.sku,
        channel: c.otherChannel ?? c.channel,
        qty: c.qty,
        state: c.state,
        lines: c.lines,
        expiresAt: c.expiresAt,
        orderId: c.orderId,
      },
    };
    return { cmd, result };
  });

describe('the answer codec between workers', () => {
  it('gives back the engine’s result for every reservation answer', () => {
    fc.assert(
      fc.property(case_, ({ cmd, result }) => {
        const packed = packAnswer(result, cmd);
        expect(Array.isArray(packed)).toBe(true);
        expect(unpackAnswer(structuredClone(packed), cmd)).toEqual(result);
      }),
      { numRuns: 500 },
    );
  });

  it('sends refusals and answers without a reservation whole', () => {
    const cmd: Command = { op: 'release', reservationId: 'r' };
    const refused: CommandResult = {
      ok: false,
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_RESERVATION',
      message: 'unknown reservation r',
      available: null,
    };
    expect(packAnswer(refused, cmd)).toBe(refused);
    const other = { ok: true, applied: true, duplicate: false, position: null, reservation: null };
    expect(unpackAnswer(packAnswer(other as CommandResult, cmd), cmd)).toEqual(other);
  });
});
