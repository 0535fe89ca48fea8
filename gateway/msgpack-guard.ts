/**
 * A byte-level pre-scan of a msgpack frame, run before msgpackr sees it. msgpackr is fast but
 * has had memory-exhaustion and prototype-pollution bugs on hostile input, so only a plain
 * subset reaches it:
 *
 * - one value filling the frame exactly (no trailing bytes);
 * - nil, booleans, integers, floats, strings, binary, arrays and maps: no extension types (which
 *   carry msgpackr's records, bundled strings and structured-clone references);
 * - map keys are strings, and never `__proto__`, `constructor` or `prototype`;
 * - containers nest at most `maxDepth` deep and hold at most `maxEntries` entries each;
 * - every declared length fits in what is left of the frame (each array entry needs at least one
 *   byte, each map entry two), so no declared size can make the decoder allocate beyond the frame.
 *
 * The scan is a loop over the bytes with a small stack of remaining-entry counts: no recursion,
 * no allocation besides the two fixed stacks.
 */
export interface GuardLimits {
  readonly maxDepth: number;
  readonly maxEntries: number;
}

/** Why a frame was refused; null means it may be decoded. Stable strings (metric label values). */
export type GuardVerdict =
  | null
  | 'truncated'
  | 'trailing_bytes'
  | 'too_deep'
  | 'too_many_entries'
  | 'bad_length'
  | 'extension_type'
  | 'invalid_byte'
  | 'non_string_key'
  | 'forbidden_key';

// '__proto__', 'constructor', 'prototype' as bytes.
const FORBIDDEN: readonly Uint8Array[] = ['__proto__', 'constructor', 'prototype'].map((k) =>
  Uint8Array.from(k, (c) => c.charCodeAt(0)),
);

function isForbiddenKey(buf: Uint8Array, start: number, len: number): boolean {
  if (len !== 9 && len !== 11) return false;
  for (const word of FORBIDDEN) {
    if (word.length !== len) continue;
    let same = true;
    for (let i = 0; i < len; i++) {
      if (buf[start + i] !== word[i]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

export class MsgpackGuard {
  private readonly remaining: Float64Array;
  private readonly isMap: Uint8Array;

  constructor(private readonly limits: GuardLimits) {
    this.remaining = new Float64Array(limits.maxDepth + 1);
    this.isMap = new Uint8Array(limits.maxDepth + 1);
  }

  check(buf: Uint8Array): GuardVerdict {
    const len = buf.length;
    const { maxDepth, maxEntries } = this.limits;
    const remaining = this.remaining;
    const isMap = this.isMap;
    let pos = 0;
    let depth = 0;
    for (;;) {
      if (pos >= len) return 'truncated';
      const keyExpected =
        depth > 0 && isMap[depth - 1] === 1 && (remaining[depth - 1] ?? 0) % 2 === 0;
      const b = buf[pos++] as number;
      // What this item is: a scalar of `skip` more bytes, a string of `strLen` bytes, or a
      // container of `entries` entries (maps count keys and values).
      let skip = 0;
      let strLen = -1;
      let entries = -1;
      let map = false;
      let lenBytes = 0;
      if (b <= 0x7f || b >= 0xe0) {
        skip = 0;
      } else if (b <= 0x8f) {
        entries = (b & 0x0f) * 2;
        map = true;
      } else if (b <= 0x9f) {
        entries = b & 0x0f;
      } else if (b <= 0xbf) {
        strLen = b & 0x1f;
      } else {
        switch (b) {
          case 0xc0:
          case 0xc2:
          case 0xc3:
            break;
          case 0xc4:
          case 0xd9:
            lenBytes = 1;
            break;
          case 0xc5:
          case 0xda:
            lenBytes = 2;
            break;
          case 0xc6:
          case 0xdb:
            lenBytes = 4;
            break;
          case 0xca:
            skip = 4;
            break;
          case 0xcb:
            skip = 8;
            break;
          case 0xcc:
          case 0xd0:
            skip = 1;
            break;
          case 0xcd:
          case 0xd1:
            skip = 2;
            break;
          case 0xce:
          case 0xd2:
            skip = 4;
            break;
          case 0xcf:
          case 0xd3:
            skip = 8;
            break;
          case 0xdc:
            lenBytes = 2;
            entries = 0;
            break;
          case 0xdd:
            lenBytes = 4;
            entries = 0;
            break;
          case 0xde:
            lenBytes = 2;
            entries = 0;
            map = true;
            break;
          case 0xdf:
            lenBytes = 4;
            entries = 0;
            map = true;
            break;
          case 0xc7:
          case 0xc8:
          case 0xc9:
          case 0xd4:
          case 0xd5:
          case 0xd6:
          case 0xd7:
          case 0xd8:
            return 'extension_type';
          default:
            return 'invalid_byte';
        }
        if (lenBytes > 0) {
          if (pos + lenBytes > len) return 'truncated';
          let n = 0;
          for (let i = 0; i < lenBytes; i++) n = n * 256 + (buf[pos + i] as number);
          pos += lenBytes;
          if (entries === 0) entries = map ? n * 2 : n;
          else strLen = n;
        }
      }
      if (keyExpected) {
        // Strings only: str types, never bin (0xc4-0xc6 share the length path above).
        const isStr = (b >= 0xa0 && b <= 0xbf) || b === 0xd9 || b === 0xda || b === 0xdb;
        if (!isStr) return 'non_string_key';
        if (pos + strLen > len) return 'bad_length';
        if (isForbiddenKey(buf, pos, strLen)) return 'forbidden_key';
      }
      if (strLen >= 0) {
        if (pos + strLen > len) return 'bad_length';
        pos += strLen;
      } else if (skip > 0) {
        if (pos + skip > len) return 'truncated';
        pos += skip;
      }
      if (depth > 0) remaining[depth - 1] = (remaining[depth - 1] ?? 0) - 1;
      if (entries > 0) {
        if (depth + 1 > maxDepth) return 'too_deep';
        if ((map ? entries / 2 : entries) > maxEntries) return 'too_many_entries';
        // Each entry takes at least one byte of what is left.
        if (entries > len - pos) return 'bad_length';
        remaining[depth] = entries;
        isMap[depth] = map ? 1 : 0;
        depth++;
      } else if (entries === 0 && depth + 1 > maxDepth) {
        return 'too_deep';
      }
      while (depth > 0 && remaining[depth - 1] === 0) depth--;
      if (depth === 0) return pos === len ? null : 'trailing_bytes';
    }
  }
}
