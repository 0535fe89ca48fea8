/**
 * Strings read straight from bytes (a WebSocket frame, a journal record) when they are ASCII,
 * without a decoder: a few repeated names (channels, locations, ops) come back as the same
 * string each time, which is then neither allocated again nor hashed again by the maps the
 * engine looks it up in (V8 keeps a string's hash in the string once computed).
 */

/** Strings up to this many bytes are built in JS (see asciiString). */
const SHORT_ASCII = 24;
/** One array of codes per length from 9 to SHORT_ASCII, refilled for each string built. */
const CODES: number[][] = Array.from({ length: SHORT_ASCII + 1 }, (_, n) =>
  new Array<number>(n).fill(0),
);

/**
 * The string of bytes[start, start + n) if every byte is ASCII, else null. Up to 8 bytes it is
 * one String.fromCharCode call with the codes as arguments, a flat string built in JS: Buffer's
 * toString, a call into C++, measured about 6 times that for them; up to SHORT_ASCII (most ids
 * and SKUs) one String.fromCharCode over an array of the codes, about half what the call into
 * C++ costs at 12 bytes; longer ones are Buffer's latin1 slice, which for ASCII is the same text.
 */
export function asciiString(b: Buffer, start: number, n: number): string | null {
  if (n > 8 && n <= SHORT_ASCII) return viaCodes(b, start, n);
  const end = start + n;
  for (let i = start; i < end; i++) if ((b[i] as number) >= 0x80) return null;
  switch (n) {
    case 0:
      return '';
    case 1:
      return String.fromCharCode(b[start] as number);
    case 2:
      return String.fromCharCode(b[start] as number, b[start + 1] as number);
    case 3:
      return String.fromCharCode(
        b[start] as number,
        b[start + 1] as number,
        b[start + 2] as number,
      );
    case 4:
      return String.fromCharCode(
        b[start] as number,
        b[start + 1] as number,
        b[start + 2] as number,
        b[start + 3] as number,
      );
    case 5:
      return String.fromCharCode(
        b[start] as number,
        b[start + 1] as number,
        b[start + 2] as number,
        b[start + 3] as number,
        b[start + 4] as number,
      );
    case 6:
      return String.fromCharCode(
        b[start] as number,
        b[start + 1] as number,
        b[start + 2] as number,
        b[start + 3] as number,
        b[start + 4] as number,
        b[start + 5] as number,
      );
    case 7:
      return String.fromCharCode(
        b[start] as number,
        b[start + 1] as number,
        b[start + 2] as number,
        b[start + 3] as number,
        b[start + 4] as number,
        b[start + 5] as number,
        b[start + 6] as number,
      );
    case 8:
      return String.fromCharCode(
        b[start] as number,
        b[start + 1] as number,
        b[start + 2] as number,
        b[start + 3] as number,
        b[start + 4] as number,
        b[start + 5] as number,
        b[start + 6] as number,
        b[start + 7] as number,
      );
    default:
      return b.toString('latin1', start, end);
  }
}

/** asciiString for 9 to SHORT_ASCII bytes: the check and the copy of the codes in one loop. */
function viaCodes(b: Buffer, start: number, n: number): string | null {
  const codes = CODES[n] as number[];
  for (let i = 0; i < n; i++) {
    const c = b[start + i] as number;
    if (c >= 0x80) return null;
    codes[i] = c;
  }
  return String.fromCharCode.apply(null, codes);
}

/**
 * A small direct-mapped cache of ASCII names by their bytes: `read` gives the cached string
 * when the bytes match the one in their slot, else reads (and keeps) the new one. Meant for the
 * fields that take a handful of values across millions of messages; a miss costs one hash of
 * the bytes over reading the string anyway.
 */
export class NameCache {
  private readonly names: string[];
  private readonly lengths: Int32Array;
  private readonly mask: number;

  constructor(
    slots = 256,
    /** Longer names are read every time, never cached. */
    private readonly maxBytes = 32,
  ) {
    if ((slots & (slots - 1)) !== 0) throw new Error('NameCache slots must be a power of 2');
    this.names = new Array<string>(slots).fill('');
    this.lengths = new Int32Array(slots).fill(-1);
    this.mask = slots - 1;
  }

  /** The string of bytes[start, start + n) if they are ASCII, else null. */
  read(b: Buffer, start: number, n: number): string | null {
    if (n > this.maxBytes) return asciiString(b, start, n);
    let h = n;
    for (let i = start; i < start + n; i++) h = (Math.imul(h, 31) + (b[i] as number)) | 0;
    const slot = h & this.mask;
    if (this.lengths[slot] === n) {
      const cached = this.names[slot] as string;
      let i = 0;
      while (i < n && cached.charCodeAt(i) === b[start + i]) i++;
      if (i === n) return cached;
    }
    const s = asciiString(b, start, n);
    if (s !== null) {
      this.names[slot] = s;
      this.lengths[slot] = n;
    }
    return s;
  }
}
