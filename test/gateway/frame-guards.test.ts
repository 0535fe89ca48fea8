import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { FRAME_LIMITS } from '../../gateway/index.ts';
import { JsonGuard } from '../../gateway/json-guard.ts';
import { MsgpackGuard } from '../../gateway/msgpack-guard.ts';

// Unit tests of the two pre-parse guards (internal modules, tested directly).
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const msgpack = new MsgpackGuard(FRAME_LIMITS);
const json = new JsonGuard(FRAME_LIMITS);

const safeKey = fc
  .string({ maxLength: 12 })
  .filter((k) => k !== '__proto__' && k !== 'constructor' && k !== 'prototype');
const { value: plain } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.string({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(safeKey, tie('value'), { maxKeys: 6 }),
  ),
}));

function depthOf(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('MsgpackGuard', () => {
  it('lets every plain value within the depth bound through, and msgpackr decodes it back', () => {
    fc.assert(
      fc.property(plain, (v) => {
        const bytes = packr.pack(v);
        const verdict = msgpack.check(bytes);
        if (depthOf(v) > FRAME_LIMITS.maxDepth) expect(verdict).toBe('too_deep');
        else {
          expect(verdict).toBeNull();
          expect(unpackr.unpack(bytes)).toEqual(v);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on random bytes, and what it accepts msgpackr decodes without allocating beyond the frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const verdict = msgpack.check(bytes);
        if (verdict === null) {
          try {
            unpackr.unpack(bytes);
          } catch {
            // A decoding error is fine (the gateway answers it); a hang or huge allocation is not.
          }
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses hostile shapes', () => {
    const map = (key: string): Uint8Array =>
      Uint8Array.from([0x81, 0xa0 | key.length, ...Buffer.from(key), 0xc0]);
    expect(msgpack.check(map('__proto__'))).toBe('forbidden_key');
    expect(msgpack.check(map('constructor'))).toBe('forbidden_key');
    expect(msgpack.check(map('prototype'))).toBe('forbidden_key');
    expect(msgpack.check(Uint8Array.from([0x81, 0x01, 0xc0]))).toBe('non_string_key');
    expect(msgpack.check(Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]))).toBe('too_many_entries');
    expect(msgpack.check(Uint8Array.from([0xdc, 0x00, 0x10, 0xc0]))).toBe('bad_length');
    expect(msgpack.check(Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]))).toBe('bad_length');
    expect(msgpack.check(Uint8Array.from([0xc6, 0x7f, 0xff, 0xff, 0xff]))).toBe('bad_length');
    expect(msgpack.check(Uint8Array.from([0xd4, 0x72, 0x00]))).toBe('extension_type');
    expect(msgpack.check(Uint8Array.from([0xc7, 0x01, 0x72, 0x00]))).toBe('extension_type');
    expect(msgpack.check(Uint8Array.from([0xc0, 0xc0]))).toBe('trailing_bytes');
    expect(msgpack.check(Uint8Array.from([0xcd, 0x01]))).toBe('truncated');
    expect(msgpack.check(Uint8Array.from([0xc1]))).toBe('invalid_byte');
    expect(msgpack.check(new Uint8Array(0))).toBe('truncated');
    expect(msgpack.check(Uint8Array.from([...Array<number>(9).fill(0x91), 0xc0]))).toBe('too_deep');
    expect(msgpack.check(Uint8Array.from([...Array<number>(8).fill(0x91), 0xc0]))).toBeNull();
  });
});

describe('JsonGuard', () => {
  it('bounds depth and entries outside strings only', () => {
    const enc = (s: string): Uint8Array => Buffer.from(s);
    expect(json.scan(enc('[[[[[[[[1]]]]]]]]'))).toBeNull();
    expect(json.scan(enc('[[[[[[[[[1]]]]]]]]]'))).toBe('too_deep');
    expect(json.scan(enc(`"${'['.repeat(100)}"`))).toBeNull();
    expect(json.scan(enc(`["\\"${'['.repeat(100)}"]`))).toBeNull();
    expect(json.scan(enc(`[${'1,'.repeat(1_100)}1]`))).toBe('too_many_entries');
    expect(json.scan(enc(`["${','.repeat(5_000)}"]`))).toBeNull();
  });

  it('finds forbidden keys however they are written', () => {
    expect(json.hasForbiddenKey(JSON.parse('{"a":[{"__proto__":1}]}'))).toBe(true);
    expect(json.hasForbiddenKey(JSON.parse('{"\\u005f_proto__":1}'))).toBe(true);
    expect(json.hasForbiddenKey(JSON.parse('{"a":{"constructor":{}}}'))).toBe(true);
    expect(json.hasForbiddenKey(JSON.parse('{"a":{"proto":{}}}'))).toBe(false);
  });
});
