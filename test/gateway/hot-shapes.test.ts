import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  checkConfirm,
  checkRelease,
  checkReserve,
  ShapeProblem,
} from '../../gateway/hot-shapes.ts';
import {
  batchedConfirm,
  batchedRelease,
  batchedReserve,
  confirmMessage,
  describeIssue,
  releaseMessage,
  reserveMessage,
} from '../../gateway/message-schemas.ts';

type Check = (value: unknown, idRequired: boolean) => object;

/** Each hand check beside the zod schemas it stands in for on the WebSocket. */
const PAIRS: readonly { op: string; check: Check; frame: z.ZodType; batched: z.ZodType }[] = [
  { op: 'reserve', check: checkReserve, frame: reserveMessage, batched: batchedReserve },
  { op: 'release', check: checkRelease, frame: releaseMessage, batched: batchedRelease },
  { op: 'confirm', check: checkConfirm, frame: confirmMessage, batched: batchedConfirm },
];

/** A value of the right type most of the time, anything else now and then. */
function mostly<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: good },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(null, Number.NaN, Infinity, -Infinity, true, '') },
    { weight: 1, arbitrary: fc.anything() },
    { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(2), Buffer.from('ab'), [1], {}) },
  );
}

/** Frames near the hot shapes: every field present or absent, of the right type or not. */
const nearFrame = fc.record(
  {
    id: mostly(fc.oneof(fc.integer(), fc.string({ maxLength: 130 }), fc.double())),
    op: mostly(fc.constantFrom('reserve', 'release', 'confirm', 'subscribe')),
    reservationId: mostly(fc.string({ maxLength: 20 })),
    channel: mostly(fc.constantFrom('web', 'app', '')),
    sku: mostly(fc.string({ maxLength: 10 })),
    qty: mostly(fc.oneof(fc.integer(), fc.double())),
    location: mostly(fc.string({ maxLength: 10 })),
    ttlMs: mostly(fc.integer()),
    orderId: mostly(fc.string({ maxLength: 10 })),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

/** Anything at all: primitives, arrays, objects of any keys. */
const anyFrame = fc.oneof(nearFrame, fc.anything());

/** The outcome as both sides can state it: the value, or the message describeIssue gives. */
function viaZod(schema: z.ZodType, value: unknown): { ok: true; value: unknown } | string {
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : describeIssue(parsed.error);
}

function viaHand(check: Check, value: unknown, idRequired: boolean) {
  const out = check(value, idRequired);
  return out instanceof ShapeProblem ? out.message : { ok: true as const, value: out };
}

describe('the hand-written shape checks of reserve, release and confirm', () => {
  for (const { op, check, frame, batched } of PAIRS) {
    it(`agree with zod on ${op}: accept or refuse, the value, and the first problem`, () => {
      fc.assert(
        fc.property(anyFrame, fc.boolean(), (value, idRequired) => {
          const zod = viaZod(idRequired ? frame : batched, value);
          const hand = viaHand(check, value, idRequired);
          // toEqual: zod leaves an absent optional field out, the check sets it undefined.
          expect(hand).toEqual(zod);
        }),
        { numRuns: 10_000, seed: 11 },
      );
    });
  }

  it('accept what they should (the generator reaches both sides)', () => {
    // Without this, a generator that never made a valid frame would let any check pass above.
    const samples = fc.sample(nearFrame, { numRuns: 20_000, seed: 11 });
    for (const { check } of PAIRS) {
      const accepted = samples.filter((v) => !(check(v, true) instanceof ShapeProblem)).length;
      expect(accepted).toBeGreaterThan(50);
      expect(accepted).toBeLessThan(samples.length);
    }
  });
});
