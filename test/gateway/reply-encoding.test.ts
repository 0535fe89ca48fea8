import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../engine/index.ts';
import { FrameCodec } from '../../gateway/frame-codec.ts';
import { AvailabilityMessage, ErrorReply, ReservationReply } from '../../gateway/ws-protocol.ts';

// The hand-written msgpack encoder (an internal module, tested directly) must write exactly what
// a msgpack decoder reads back as the JSON form of the same reply.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const codec = new FrameCodec();

const text = fc.oneof(
  fc.string({ maxLength: 140 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  // Names an object lookup could find on Object.prototype.
  fc.constantFrom('valueOf', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'held'),
);
const id = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 128 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const count = fc.oneof(
  fc.nat({ max: 300 }),
  fc.nat(),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.constant(1_767_225_600_000),
);

const reservation = fc
  .record({
    op: fc.constantFrom('reserve' as const, 'release' as const, 'confirm' as const),
    id,
    reservationId: text,
    channel: text,
    sku: text,
    qty: count,
    state: fc.constantFrom('held', 'released', 'expired', 'confirmed'),
    lines: fc.array(fc.record({ location: text, qty: count }), { maxLength: 30 }),
    expiresAt: count,
    orderId: fc.option(text, { nil: null }),
    duplicate: fc.boolean(),
  })
  .map(
    (r) =>
      new ReservationReply(
        r.op,
        r.id,
        r.reservationId,
        r.channel,
        r.sku,
        r.qty,
        r.state,
        r.lines,
        r.expiresAt,
        r.orderId,
        r.duplicate,
      ),
  );
const error = fc
  .record({
    id,
    code: fc.constantFrom(...Object.values(ErrorCode)),
    message: fc.oneof(text, fc.string({ maxLength: 3_000 })),
    reason: fc.option(text, { nil: null }),
    available: fc.option(count, { nil: null }),
  })
  .map((e) => new ErrorReply(e.id, e.code, e.message, e.reason, e.available));
const delta = fc
  .tuple(text, count, fc.nat())
  .map(([topic, available, seq]) => new AvailabilityMessage(topic, available, seq));

describe('msgpack reply encoding', () => {
  it('round-trips every hot reply shape to what JSON would carry', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(reservation, error, delta), { maxLength: 50, size: 'max' }),
        (replies) => {
          // Encode them all first: later replies must not overwrite earlier ones.
          const encoded = replies.map((r) => codec.encode(r, true) as Uint8Array);
          encoded.forEach((bytes, i) => {
            expect(unpackr.unpack(bytes)).toEqual(JSON.parse(JSON.stringify(replies[i])));
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});
