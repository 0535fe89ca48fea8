/**
 * A buffer that grows as needed and is reused for every message, written field by field: the
 * journal's binary records (persistence/journal-codec.ts) and the items forwarded between
 * workers (gateway/shards/peer-codec.ts) both write through it. Numbers are little-endian,
 * strings a u16 byte length and their UTF-8.
 */
export class ByteWriter {
  private buf: Buffer;
  /** The same bytes: DataView's setters are inlined, Buffer's writeDoubleLE and co. are not. */
  private view: DataView;
  at = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
    this.view = viewOf(this.buf);
  }

  /** Makes room for `bytes` more (the buffer doubles, what was written is kept). */
  room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + bytes) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
    this.view = viewOf(next);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }

  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /**
   * `s` as a u16 byte length and its UTF-8; answers its byte count, or -1 when that is over
   * 65,535 (then `at` is left past the string's start: the caller throws or rewinds).
   */
  str16(s: string): number {
    const n = s.length;
    // At most 3 bytes per UTF-16 unit; the length is checked after writing.
    this.room(2 + n * 3);
    const buf = this.buf;
    const start = this.at + 2;
    // Ids, SKUs, channels and locations are ASCII nearly always: copied by hand, which is
    // several times cheaper than a call into Buffer#write for a few bytes. The first char outside
    // ASCII sends the whole string the general way (over what was copied).
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
      i++;
    }
    const bytes = i < n ? buf.write(s, start, 'utf8') : n;
    if (bytes > 0xffff) return -1;
    this.view.setUint16(this.at, bytes, true);
    this.at = start + bytes;
    return bytes;
  }

  /** The bytes written so far (a view of the buffer: valid until the next write). */
  written(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
