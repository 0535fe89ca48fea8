import { Packr, Unpackr } from 'msgpackr';
import {
  ByteReader,
  ByteWriter,
  type Command,
  type JournalEntry,
  type JournalRecord,
} from '../engine/index.ts';
import { PersistenceError } from './persistence-error.ts';

/**
 * The journal's binary record layout (format 2). A group commit's records are written straight
 * into one reusable buffer with a fixed layout per stock command, instead of through a generic
 * encoder: stock commands are nearly every record, and encoding them was about a tenth of the
 * server's CPU per durable reserve. Everything else (rules, master data, journal extensions) is
 * one msgpack value inside the record.
 *
 * Payload: MAGIC (0xc1, a byte msgpack never uses, so a format 1 payload, a msgpack array, is
 * never mistaken for it), FORMAT (2), then records until the end. A record: u8 tag, f64 seq,
 * f64 at, then the tag's fields. Strings are u16 byte length + UTF-8; numbers are f64 (exact for
 * every integer the engine accepts, negative deltas included); optional fields are announced by
 * a flags byte. The frame around the payload (length, CRC-32) is record-codec.ts's.
 */
export const JOURNAL_MAGIC = 0xc1;
export const JOURNAL_FORMAT = 2;

// Record tags: written into data, so never renumbered (a new kind of record takes a new tag).
const Tag = {
  Entry: 0,
  SetOnHand: 1,
  Adjust: 2,
  Reserve: 3,
  Release: 4,
  Confirm: 5,
  Allocate: 6,
  Deallocate: 7,
  Ship: 8,
  Expire: 9,
} as const;
type Tag = (typeof Tag)[keyof typeof Tag];

// Entries other than stock commands: msgpack, each value on its own (no shared structures).
const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Writes records into a buffer that grows as needed and is reused across calls. */
class RecordWriter extends ByteWriter {
  constructor() {
    super(64 * 1024);
  }

  reset(): void {
    this.at = 0;
  }

  str(s: string): void {
    const n = this.str16(s);
    if (n < 0)
      throw new RangeError(`journal string of ${Buffer.byteLength(s)} bytes is over 65,535`);
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }

  /** The bytes written, placed after `header` spare bytes of a fresh buffer. */
  take(header: number): Buffer {
    const out = Buffer.allocUnsafe(header + this.at);
    out.set(this.written(), header);
    return out;
  }
}

const writer = new RecordWriter();

/** The records as a format 2 payload, in a fresh buffer after `header` spare bytes. */
export function encodeJournalPayload(records: readonly JournalRecord[], header: number): Buffer {
  const w = writer;
  w.reset();
  w.u8(JOURNAL_MAGIC);
  w.u8(JOURNAL_FORMAT);
  for (const r of records) writeRecord(w, r);
  return w.take(header);
}

function writeRecord(w: RecordWriter, r: JournalRecord): void {
  const entry = r.entry;
  if (entry.type !== 'command') {
    w.u8(Tag.Entry);
    w.f64(r.seq);
    w.f64(r.at);
    w.bytes(packr.pack(entry));
    return;
  }
  const cmd = entry.cmd;
  switch (cmd.op) {
    case 'reserve': {
      head(w, Tag.Reserve, r);
      const lines = cmd.lines;
      w.u8(
        (cmd.location !== undefined ? 1 : 0) |
          (cmd.ttlMs !== undefined ? 2 : 0) |
          (lines !== undefined ? 4 : 0),
      );
      w.str(cmd.reservationId);
      w.str(cmd.channel);
      w.str(cmd.sku);
      w.f64(cmd.qty);
      if (cmd.location !== undefined) w.str(cmd.location);
      if (cmd.ttlMs !== undefined) w.f64(cmd.ttlMs);
      if (lines !== undefined) {
        w.f64(lines.length);
        for (const [location, qty] of lines) {
          w.str(location);
          w.f64(qty);
        }
      }
      return;
    }
    case 'release':
      head(w, Tag.Release, r);
      w.u8(cmd.channel !== undefined ? 1 : 0);
      w.str(cmd.reservationId);
      if (cmd.channel !== undefined) w.str(cmd.channel);
      return;
    case 'confirm':
      head(w, Tag.Confirm, r);
      w.u8(cmd.channel !== undefined ? 1 : 0);
      w.str(cmd.reservationId);
      w.str(cmd.orderId);
      if (cmd.channel !== undefined) w.str(cmd.channel);
      return;
    case 'expire':
      head(w, Tag.Expire, r);
      w.str(cmd.reservationId);
      w.f64(cmd.at);
      return;
    case 'setOnHand':
      head(w, Tag.SetOnHand, r);
      w.str(cmd.sku);
      w.str(cmd.location);
      w.f64(cmd.onHand);
      w.f64(cmd.asOf);
      return;
    case 'adjust':
      head(w, Tag.Adjust, r);
      w.u8(cmd.asOf !== undefined ? 1 : 0);
      w.str(cmd.adjustmentId);
      w.str(cmd.sku);
      w.str(cmd.location);
      w.f64(cmd.delta);
      if (cmd.asOf !== undefined) w.f64(cmd.asOf);
      return;
    case 'allocate':
      head(w, Tag.Allocate, r);
      w.str(cmd.allocationId);
      w.str(cmd.orderId);
      w.str(cmd.channel);
      w.str(cmd.sku);
      w.str(cmd.location);
      w.f64(cmd.qty);
      return;
    case 'deallocate':
    case 'ship':
      head(w, cmd.op === 'ship' ? Tag.Ship : Tag.Deallocate, r);
      w.str(cmd.op === 'ship' ? cmd.shipmentId : cmd.requestId);
      w.str(cmd.orderId);
      w.str(cmd.sku);
      w.str(cmd.location);
      w.f64(cmd.qty);
      return;
  }
}

function head(w: RecordWriter, tag: Tag, r: JournalRecord): void {
  w.u8(tag);
  w.f64(r.seq);
  w.f64(r.at);
}

export class RecordReader {
  /** Sequence of the last record read or stepped over; 0 before the first. */
  lastSeq = 0;
  /** The payload after its magic and format bytes. */
  private readonly r: ByteReader;

  constructor(buf: Buffer) {
    this.r = new ByteReader(buf, 2, 'journal record runs past its frame');
    if (buf.length < 2 || buf[0] !== JOURNAL_MAGIC) throw new Error('not a binary journal payload');
    const format = buf[1] ?? 0;
    if (format > JOURNAL_FORMAT) {
      // A whole frame (its CRC matched) of a later version: never cut as if torn.
      throw new PersistenceError(
        'STORE_TOO_NEW',
        `the journal holds records in format ${format}, newer than this version reads ` +
          `(${JOURNAL_FORMAT}): run the Stockflow version that wrote them, or a later one`,
      );
    }
    if (format !== JOURNAL_FORMAT) throw new Error(`unknown journal format ${format}`);
  }

  /**
   * The records with seq >= fromSeq. Those before it (a segment holds records from before the
   * snapshot recovery starts from) are stepped over field by field, checked as strictly, but
   * nothing is built for them.
   */
  records(fromSeq = -Infinity): JournalRecord[] {
    const out: JournalRecord[] = [];
    this.take(fromSeq, Infinity, out);
    return out;
  }

  /** Whether every record has been read or stepped over. */
  get done(): boolean {
    return this.r.done;
  }

  /**
   * Reads on until `out` holds `max` records or the payload ends, appending the records with
   * seq >= fromSeq (see `records`). Recovery reads a frame a slice at a time and applies each
   * slice before building the next: a group commit of tens of thousands of records, built whole,
   * stayed alive across young-generation collections, which copied it (and promoted it) for
   * nothing.
   */
  take(fromSeq: number, max: number, out: JournalRecord[]): void {
    while (out.length < max && !this.r.done) {
      const tag = this.r.u8();
      const seq = this.r.f64();
      const at = this.r.f64();
      this.lastSeq = seq;
      if (seq < fromSeq) this.skip(tag);
      else out.push(this.record(tag, seq, at));
    }
  }

  /**
   * Steps over every record left, checking each as strictly as `records` reads it, building
   * none but the (rare) msgpack entries, whose decoding is their check. `lastSeq` is then the
   * payload's last sequence. Throws on anything `records` would throw on, so a frame can be
   * checked whole before any of it is applied.
   */
  check(): void {
    while (!this.r.done) {
      const tag = this.r.u8();
      const seq = this.r.f64();
      const at = this.r.f64();
      this.lastSeq = seq;
      if (tag === Tag.Entry) this.record(tag, seq, at);
      else this.skip(tag);
    }
  }

  private skipStrs(count: number): void {
    for (let i = 0; i < count; i++) this.r.skipStr();
  }

  /** Steps over a record's fields: the same layout as `command` reads (and `writeRecord` writes). */
  private skip(tag: number): void {
    switch (tag) {
      case Tag.Entry:
        this.r.skip(this.r.u32());
        return;
      case Tag.Reserve: {
        const flags = this.r.u8();
        this.skipStrs(3);
        this.r.skip(8);
        if ((flags & 1) !== 0) this.r.skipStr();
        if ((flags & 2) !== 0) this.r.skip(8);
        if ((flags & 4) !== 0) {
          const n = this.r.f64();
          if (!Number.isInteger(n) || n < 0 || n > 10_000) throw new Error('implausible lines');
          for (let i = 0; i < n; i++) {
            this.r.skipStr();
            this.r.skip(8);
          }
        }
        return;
      }
      case Tag.Release:
      case Tag.Confirm: {
        const flags = this.r.u8();
        this.skipStrs(tag === Tag.Confirm ? 2 : 1);
        if ((flags & 1) !== 0) this.r.skipStr();
        return;
      }
      case Tag.Expire:
        this.r.skipStr();
        this.r.skip(8);
        return;
      case Tag.SetOnHand:
        this.skipStrs(2);
        this.r.skip(16);
        return;
      case Tag.Adjust: {
        const flags = this.r.u8();
        this.skipStrs(3);
        this.r.skip((flags & 1) !== 0 ? 16 : 8);
        return;
      }
      case Tag.Allocate:
        this.skipStrs(5);
        this.r.skip(8);
        return;
      case Tag.Deallocate:
      case Tag.Ship:
        this.skipStrs(4);
        this.r.skip(8);
        return;
      default:
        throw new Error(`unknown journal record tag ${tag}`);
    }
  }

  private record(tag: number, seq: number, at: number): JournalRecord {
    if (tag === Tag.Entry) {
      const n = this.r.u32();
      const from = this.r.at;
      this.r.skip(n);
      const entry: unknown = unpackr.unpack(this.r.buf.subarray(from, from + n));
      if (typeof entry !== 'object' || entry === null || !('type' in entry)) {
        throw new Error('journal entry is not an entry');
      }
      return { seq, at, entry: entry as JournalEntry };
    }
    return { seq, at, entry: { type: 'command', cmd: this.command(tag) } };
  }

  private command(tag: number): Command {
    switch (tag) {
      case Tag.Reserve: {
        const flags = this.r.u8();
        const reservationId = this.r.str();
        const channel = this.r.name();
        const sku = this.r.str();
        const qty = this.r.f64();
        const location = (flags & 1) !== 0 ? this.r.name() : undefined;
        const ttlMs = (flags & 2) !== 0 ? this.r.f64() : undefined;
        let lines: [string, number][] | undefined;
        if ((flags & 4) !== 0) {
          const n = this.r.f64();
          if (!Number.isInteger(n) || n < 0 || n > 10_000) throw new Error('implausible lines');
          lines = [];
          for (let i = 0; i < n; i++) lines.push([this.r.str(), this.r.f64()]);
        }
        // Every reserve of one shape (absent fields undefined), built without spreading: nearly
        // every record replayed is one.
        return { op: 'reserve', reservationId, channel, sku, qty, location, ttlMs, lines };
      }
      case Tag.Release: {
        const flags = this.r.u8();
        const reservationId = this.r.str();
        return (flags & 1) !== 0
          ? { op: 'release', reservationId, channel: this.r.str() }
          : { op: 'release', reservationId };
      }
      case Tag.Confirm: {
        const flags = this.r.u8();
        const reservationId = this.r.str();
        const orderId = this.r.str();
        return (flags & 1) !== 0
          ? { op: 'confirm', reservationId, orderId, channel: this.r.str() }
          : { op: 'confirm', reservationId, orderId };
      }
      case Tag.Expire:
        return { op: 'expire', reservationId: this.r.str(), at: this.r.f64() };
      case Tag.SetOnHand:
        return {
          op: 'setOnHand',
          sku: this.r.str(),
          location: this.r.str(),
          onHand: this.r.f64(),
          asOf: this.r.f64(),
        };
      case Tag.Adjust: {
        const flags = this.r.u8();
        const adjustmentId = this.r.str();
        const sku = this.r.str();
        const location = this.r.str();
        const delta = this.r.f64();
        return (flags & 1) !== 0
          ? { op: 'adjust', adjustmentId, sku, location, delta, asOf: this.r.f64() }
          : { op: 'adjust', adjustmentId, sku, location, delta };
      }
      case Tag.Allocate:
        return {
          op: 'allocate',
          allocationId: this.r.str(),
          orderId: this.r.str(),
          channel: this.r.str(),
          sku: this.r.str(),
          location: this.r.str(),
          qty: this.r.f64(),
        };
      case Tag.Deallocate:
        return {
          op: 'deallocate',
          requestId: this.r.str(),
          orderId: this.r.str(),
          sku: this.r.str(),
          location: this.r.str(),
          qty: this.r.f64(),
        };
      case Tag.Ship:
        return {
          op: 'ship',
          shipmentId: this.r.str(),
          orderId: this.r.str(),
          sku: this.r.str(),
          location: this.r.str(),
          qty: this.r.f64(),
        };
      default:
        throw new Error(`unknown journal record tag ${tag}`);
    }
  }
}
