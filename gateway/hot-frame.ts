/**
 * The WebSocket's most common frames read straight from their bytes: a msgpack map (fixmap, or
 * map16 as msgpackr writes by default) of at most 15 fields whose keys are the fields of reserve, release and confirm, whose values are ASCII
 * strings or whole numbers within 32 bits. That is every frame a client library sends for the
 * three hot ops; reading it this way costs about a third of the general path (MsgpackGuard's scan,
 * then msgpackr's unpack), which every reserve took.
 *
 * Anything else (another op, a key outside the set, a repeated key, a nil, a float, a nested
 * value, a string that is not ASCII, bytes after the map) gives null, and the frame takes the
 * general path, which answers it as before. Where this reader gives a message, it is the one
 * the general path would give (test/gateway/hot-frame.test.ts checks both on random frames), so
 * what a client sees never depends on which path read its frame.
 */

import { asciiString, NameCache } from '../engine/index.ts';

/** A hot frame's fields; those it did not carry are undefined, as on a decoded object. */
export class HotFrame {
  op: string | undefined = undefined;
  id: string | number | undefined = undefined;
  reservationId: string | undefined = undefined;
  channel: string | undefined = undefined;
  sku: string | undefined = undefined;
  qty: number | undefined = undefined;
  location: string | undefined = undefined;
  ttlMs: number | undefined = undefined;
  orderId: string | undefined = undefined;
}

const enum Field {
  op = 1,
  id = 2,
  reservationId = 4,
  channel = 8,
  sku = 16,
  qty = 32,
  location = 64,
  ttlMs = 128,
  orderId = 256,
}

/** The field a fixstr key names (its bytes at `at`, `length` long), or 0. */
function fieldAt(b: Uint8Array, at: number, length: number): Field | 0 {
  // First letter and length tell the keys apart; the rest of the key is then compared.
  switch (length) {
    case 2:
      if (b[at] === 0x6f && b[at + 1] === 0x70) return Field.op; // op
      if (b[at] === 0x69 && b[at + 1] === 0x64) return Field.id; // id
      return 0;
    case 3:
      if (b[at] === 0x73) return same(b, at, 'sku') ? Field.sku : 0;
      if (b[at] === 0x71) return same(b, at, 'qty') ? Field.qty : 0;
      return 0;
    case 5:
      return same(b, at, 'ttlMs') ? Field.ttlMs : 0;
    case 7:
      if (b[at] === 0x63) return same(b, at, 'channel') ? Field.channel : 0;
      if (b[at] === 0x6f) return same(b, at, 'orderId') ? Field.orderId : 0;
      return 0;
    case 8:
      return same(b, at, 'location') ? Field.location : 0;
    case 13:
      return same(b, at, 'reservationId') ? Field.reservationId : 0;
    default:
      return 0;
  }
}

function same(b: Uint8Array, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (b[at + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** Where a value starts and what it is, for the reader's one pass. */
class Cursor {
  at = 0;
}

const NOT_SIMPLE = -1;
/** The one cursor: a frame is read start to end within one call. */
const cursor = new Cursor();

/**
 * Reads a whole number within 32 bits at `c.at` and moves past it, or gives NaN (and leaves the
 * cursor) for anything else.
 */
function readInt(b: Uint8Array, c: Cursor): number {
  const at = c.at;
  const t = b[at] as number;
  if (t < 0x80) {
    c.at = at + 1;
    return t;
  }
  if (t >= 0xe0) {
    c.at = at + 1;
    return t - 0x100;
  }
  switch (t) {
    case 0xcc:
      if (at + 2 > b.length) return NaN;
      c.at = at + 2;
      return b[at + 1] as number;
    case 0xcd:
      if (at + 3 > b.length) return NaN;
      c.at = at + 3;
      return ((b[at + 1] as number) << 8) | (b[at + 2] as number);
    case 0xce:
      if (at + 5 > b.length) return NaN;
      c.at = at + 5;
      return (
        ((b[at + 1] as number) * 0x1000000 +
          (((b[at + 2] as number) << 16) |
            ((b[at + 3] as number) << 8) |
            (b[at + 4] as number))) >>>
        0
      );
    case 0xd0:
      if (at + 2 > b.length) return NaN;
      c.at = at + 2;
      return ((b[at + 1] as number) << 24) >> 24;
    case 0xd1:
      if (at + 3 > b.length) return NaN;
      c.at = at + 3;
      return (((b[at + 1] as number) << 24) | ((b[at + 2] as number) << 16)) >> 16;
    case 0xd2:
      if (at + 5 > b.length) return NaN;
      c.at = at + 5;
      return (
        ((b[at + 1] as number) << 24) |
        ((b[at + 2] as number) << 16) |
        ((b[at + 3] as number) << 8) |
        (b[at + 4] as number)
      );
    default:
      return NaN;
  }
}

/** The length of a string at `c.at` (fixstr, str8, str16) whose bytes follow in the frame,
 * the cursor moved to those bytes; or NOT_SIMPLE for anything else (the cursor is then left). */
function readStringLength(b: Uint8Array, c: Cursor): number {
  const at = c.at;
  const t = b[at] as number;
  let start: number;
  let length: number;
  if (t >= 0xa0 && t <= 0xbf) {
    start = at + 1;
    length = t & 0x1f;
  } else if (t === 0xd9) {
    if (at + 2 > b.length) return NOT_SIMPLE;
    start = at + 2;
    length = b[at + 1] as number;
  } else if (t === 0xda) {
    if (at + 3 > b.length) return NOT_SIMPLE;
    start = at + 3;
    length = ((b[at + 1] as number) << 8) | (b[at + 2] as number);
  } else {
    return NOT_SIMPLE;
  }
  if (start + length > b.length) return NOT_SIMPLE;
  c.at = start;
  return length;
}

/** Ops, channels and locations take a handful of values: one string each (see NameCache). */
const names = new NameCache();

/**
 * The hot frame in `bytes`, or null when it is not one (the general path reads it). `bytes` is
 * the frame itself (a Buffer over uWS's ArrayBuffer: read now, never kept).
 */
export function readHotFrame(bytes: Buffer): HotFrame | null {
  const n = bytes.length;
  if (n === 0) return null;
  const head = bytes[0] as number;
  const c = cursor;
  let entries: number;
  if (head >= 0x80 && head <= 0x8f) {
    entries = head & 0x0f;
    c.at = 1;
  } else if (head === 0xde && n > 3 && bytes[1] === 0) {
    // map16, as msgpackr writes every map unless told otherwise.
    entries = bytes[2] as number;
    c.at = 3;
  } else {
    return null;
  }
  if (entries > 15) return null;
  const f = new HotFrame();
  let seen = 0;
  for (let e = 0; e < entries; e++) {
    if (c.at >= n) return null;
    const k = bytes[c.at] as number;
    if (k < 0xa0 || k > 0xbf) return null;
    const keyLength = k & 0x1f;
    if (c.at + 1 + keyLength >= n) return null;
    const field = fieldAt(bytes, c.at + 1, keyLength);
    if (field === 0 || (seen & field) !== 0) return null;
    seen |= field;
    c.at += 1 + keyLength;
    if (field === Field.qty || field === Field.ttlMs || field === Field.id) {
      const value = readInt(bytes, c);
      if (!Number.isNaN(value)) {
        if (field === Field.qty) f.qty = value;
        else if (field === Field.ttlMs) f.ttlMs = value;
        else f.id = value;
        continue;
      }
      if (field !== Field.id) return null;
    }
    const length = readStringLength(bytes, c);
    if (length === NOT_SIMPLE) return null;
    const named = field === Field.op || field === Field.channel || field === Field.location;
    const value = named ? names.read(bytes, c.at, length) : asciiString(bytes, c.at, length);
    if (value === null) return null;
    c.at += length;
    switch (field) {
      case Field.op:
        f.op = value;
        break;
      case Field.id:
        f.id = value;
        break;
      case Field.reservationId:
        f.reservationId = value;
        break;
      case Field.channel:
        f.channel = value;
        break;
      case Field.sku:
        f.sku = value;
        break;
      case Field.location:
        f.location = value;
        break;
      case Field.orderId:
        f.orderId = value;
        break;
      default:
        return null;
    }
  }
  if (c.at !== n) return null;
  const op = f.op;
  return op === 'reserve' || op === 'release' || op === 'confirm' ? f : null;
}
