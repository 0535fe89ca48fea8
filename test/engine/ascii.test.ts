import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiString, NameCache } from '../../engine/ascii.ts';

/** What the bytes say as text when they are ASCII, null when they are not. */
function expected(bytes: Buffer, start: number, n: number): string | null {
  const slice = bytes.subarray(start, start + n);
  return slice.every((b) => b < 0x80) ? slice.toString('latin1') : null;
}

const bytesArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 60, max: 0x7f, size: 'max' }),
  fc.uint8Array({ minLength: 0, maxLength: 60, size: 'max' }),
);

describe('ASCII strings from bytes', () => {
  it('reads ASCII bytes as their text and refuses any other byte', () => {
    fc.assert(
      fc.property(bytesArb, fc.nat(10), (raw, pad) => {
        const bytes = Buffer.concat([Buffer.alloc(pad, 0x41), Buffer.from(raw)]);
        expect(asciiString(bytes, pad, raw.length)).toBe(expected(bytes, pad, raw.length));
      }),
    );
    // The first byte that is not ASCII, alone in otherwise plain text, short and long.
    for (const n of [2, 20]) {
      const bytes = Buffer.alloc(n, 0x41);
      bytes[n - 1] = 0x80;
      expect(asciiString(bytes, 0, n)).toBeNull();
    }
  });

  it('gives each name its text through a cache far smaller than the names read', () => {
    // 2,000 names over 16 slots: most reads miss or collide; every one must still be right.
    const cache = new NameCache(16, 8);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1_999), fc.boolean()), { maxLength: 500, size: 'max' }),
        (reads) => {
          for (const [i, accented] of reads) {
            const name = accented && i % 5 === 0 ? `Lé${i}` : `L${i}`;
            const bytes = Buffer.from(`xx${name}`, 'utf8');
            const n = bytes.length - 2;
            expect(cache.read(bytes, 2, n)).toBe(expected(bytes, 2, n));
          }
        },
      ),
    );
    expect(() => new NameCache(100)).toThrow(/power of 2/);
  });
});
