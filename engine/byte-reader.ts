import { asciiString, NameCache } from './ascii.ts';

/** Channels and locations take a handful of values: one string each, whatever reads them. */
const names = new NameCache();

/**
 * Reads what a ByteWriter wrote (little-endian numbers, strings as a u16 byte length and their
 * UTF-8), checking every read against the end: the journal's binary records
 * (persistence/journal-codec.ts) and a snapshot's reservation blocks (reservation-block.ts).
 * Anything cut short throws `cutShort`.
 */
export class ByteReader {
  at: number;
  readonly buf: Buffer;
  /** The same bytes: DataView's getters are inlined by the compiler, Buffer's readDoubleLE
   * assembles the double byte by byte (about 20 times slower, measured). */
  private readonly view: DataView;

  constructor(
    bytes: Uint8Array,
    from: number,
    /** What a read past the end throws. */
    private readonly cutShort: string,
  ) {
    this.buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = from;
  }

  /** Whether every byte has been read. */
  get done(): boolean {
    return this.at >= this.buf.length;
  }

  need(bytes: number): void {
    if (this.at + bytes > this.buf.length) throw new Error(this.cutShort);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++] as number;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  str(): string {
    const n = this.strBytes();
    const start = this.at - n;
    return asciiString(this.buf, start, n) ?? this.buf.toString('utf8', start, start + n);
  }

  /**
   * A string a few values repeat in (a channel, a location), read through a small cache: the
   * same text is the same string each time, neither allocated again nor hashed again by the maps
   * it is looked up in.
   */
  name(): string {
    const n = this.strBytes();
    const start = this.at - n;
    return names.read(this.buf, start, n) ?? this.buf.toString('utf8', start, start + n);
  }

  /** Steps over a string. */
  skipStr(): void {
    this.strBytes();
  }

  /** Steps over `bytes` bytes. */
  skip(bytes: number): void {
    this.need(bytes);
    this.at += bytes;
  }

  /** Steps over a string's length and bytes, answering how many bytes it has. */
  private strBytes(): number {
    this.need(2);
    const n = this.view.getUint16(this.at, true);
    this.need(2 + n);
    this.at += 2 + n;
    return n;
  }
}
