import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { FRAME_LIMITS, FrameCodec, RejectedFrame } from '../../gateway/frame-codec.ts';
import { HotFrame, readHotFrame } from '../../gateway/hot-frame.ts';

const FIELDS = [
  'op',
  'id',
  'reservationId',
  'channel',
  'sku',
  'qty',
  'location',
  'ttlMs',
  'orderId',
] as const;

/** The general path alone: the guard, then msgpackr. */
const general = new FrameCodec(FRAME_LIMITS, false);
const codec = new FrameCodec();

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

/** msgpack of a string key, then of a value (msgpackr picks the smallest encoding). */
function entry(key: string, value: unknown): Buffer {
  return Buffer.concat([pack(key), pack(value)]);
}

function fixmap(entries: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries]);
}

/** The same map as map16 (what msgpackr's pack writes unless told variableMapSize). */
function map16(entries: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0xde, 0, entries.length]), ...entries]);
}

const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode) });
/** Values of every msgpack kind a frame may carry, weighted to the ones the reader takes. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('reserve', 'release', 'confirm', 'batch', 'subscribe') },
  { weight: 4, arbitrary: ascii },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: ascii, minLength: 30, maxLength: 300 }) },
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.integer({ min: -40, max: 300 }),
      fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
      fc.integer({ min: 0, max: 0xffff_ffff }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(0.5, -1.25, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, NaN),
  },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [1], { a: 1 }, new Uint8Array(2)) },
);
/** A field's value: of the kind the reader takes most of the time, anything now and then. */
function mostly(good: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: value });
}
const text = fc.oneof({ weight: 4, arbitrary: ascii }, { weight: 1, arbitrary: value });
const whole = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer({ min: -0x8000, max: 0xffff }),
  fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);
const FIELD_VALUES: Record<(typeof FIELDS)[number], fc.Arbitrary<unknown>> = {
  op: mostly(fc.constantFrom('reserve', 'release', 'confirm')),
  id: mostly(fc.oneof(whole, ascii)),
  reservationId: text,
  channel: text,
  sku: text,
  qty: mostly(whole),
  location: text,
  ttlMs: mostly(whole),
  orderId: text,
};
const odd = fc.constantFrom('ops', 'skU', 'channels', '__proto__', 'x', '');

/** A byte to write over another: any, or one where msgpack's kinds and ASCII end. */
const boundaryByte = fc.oneof(
  fc.nat(255),
  fc.constantFrom(0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xd9, 0xde, 0xdf, 0xe0, 0xff),
);

/** Frames near the hot shapes: any subset of the fields in any order, values mostly of the
 * right kind, now and then a repeated or unknown key, cut short, a byte after the map, or a
 * byte changed; as fixmap or map16. */
const frame: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.record(FIELD_VALUES, { requiredKeys: [] }),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), odd), value), { maxLength: 2 }),
    fc.nat(),
    fc.boolean(),
    fc.oneof(
      { weight: 6, arbitrary: fc.constant({ kind: 'whole' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), by: fc.nat(5) }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('trail' as const), byte: fc.nat(255) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('flip' as const),
          at: fc.nat(),
          byte: boundaryByte,
        }),
      },
    ),
  )
  .map(([fields, extra, rotate, wide, change]) => {
    const entries = [...Object.entries(fields), ...extra];
    const turned = entries.map(
      (_, i) => entries[(i + rotate) % entries.length] as [string, unknown],
    );
    const bytes = (wide ? map16 : fixmap)(turned.map(([k, v]) => entry(k, v)));
    switch (change.kind) {
      case 'whole':
        return bytes;
      case 'cut':
        return bytes.subarray(0, Math.max(0, bytes.length - 1 - change.by));
      case 'trail':
        return Buffer.concat([bytes, Buffer.from([change.byte])]);
      case 'flip': {
        const copy = Buffer.from(bytes);
        copy[change.at % copy.length] = change.byte;
        return copy;
      }
    }
  });

describe('hot frames read from their bytes', () => {
  it('give exactly what the guard and msgpackr give, or step aside', () => {
    let read = 0;
    fc.assert(
      fc.property(frame, (bytes) => {
        const hot = readHotFrame(bytes);
        if (hot === null) return;
        read++;
        const slow = general.decode(arrayBufferOf(bytes), true);
        expect(slow).not.toBeInstanceOf(RejectedFrame);
        const fields = slow as Record<string, unknown>;
        for (const k of Object.keys(fields)) expect(FIELDS).toContain(k);
        for (const k of FIELDS) expect(hot[k]).toStrictEqual(fields[k]);
        expect(['reserve', 'release', 'confirm']).toContain(hot.op);
      }),
      { numRuns: 3_000 },
    );
    // The property means little unless the reader took a fair share of the frames.
    expect(read).toBeGreaterThan(100);
  });

  it('take what client libraries send for the three hot ops', () => {
    const frames = [
      {
        op: 'reserve',
        id: 7,
        reservationId: 'r-1',
        channel: 'web',
        sku: 'SKU-1',
        qty: 2,
        location: 'DC-1',
        ttlMs: 900_000,
      },
      {
        op: 'reserve',
        id: 'req-1',
        reservationId: 'r'.repeat(128),
        channel: 'web',
        sku: 'S',
        qty: 1,
      },
      { op: 'release', id: 4_000_000_000, reservationId: 'r-1' },
      { op: 'confirm', id: -3, reservationId: 'r-1', orderId: 'o-1' },
    ];
    for (const message of frames) {
      const decoded = codec.decode(arrayBufferOf(pack(message)), true);
      expect(decoded).toBeInstanceOf(HotFrame);
      const fields = decoded as HotFrame;
      for (const k of FIELDS) expect(fields[k]).toBe((message as Record<string, unknown>)[k]);
    }
  });

  it('leave every other frame to the general path', () => {
    const others = [
      { op: 'subscribe', id: 1, topics: ['web:SKU-1'] },
      { op: 'reserve', id: 1, reservationId: 'r', channel: 'web', sku: 'S', qty: 1.5 },
      { op: 'reserve', id: 1, reservationId: 'é', channel: 'web', sku: 'S', qty: 1 },
      { op: 'reserve', id: null, reservationId: 'r', channel: 'web', sku: 'S', qty: 1 },
      { op: 'reserve', id: 1, reservationId: 'r', channel: 'web', sku: 'S', qty: 1, extra: 1 },
    ];
    for (const message of others) expect(readHotFrame(pack(message))).toBeNull();
    // A string byte of 0x80 or above is not ASCII: latin1 would read it otherwise than UTF-8.
    for (const byte of [0x80, 0xc3, 0xff]) {
      const bytes = pack({ op: 'release', id: 1, reservationId: 'r-x' });
      bytes[bytes.length - 1] = byte;
      expect(readHotFrame(bytes)).toBeNull();
    }
    // A repeated key (msgpackr keeps the last) and a trailing byte (the guard refuses it).
    const twice = fixmap([entry('op', 'release'), entry('id', 1), entry('id', 2)]);
    expect(readHotFrame(twice)).toBeNull();
    const trailing = Buffer.concat([
      pack({ op: 'release', id: 1, reservationId: 'r' }),
      Buffer.from([0]),
    ]);
    expect(readHotFrame(trailing)).toBeNull();
    expect(codec.decode(arrayBufferOf(trailing), true)).toBeInstanceOf(RejectedFrame);
  });
});
