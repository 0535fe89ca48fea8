import { ByteReader } from './byte-reader.ts';
import { ByteWriter } from './byte-writer.ts';
import type { ReservationState } from './commands.ts';
import type { Reservation } from './reservation.ts';

/**
 * A book's reservations in a snapshot (state format 4) as one binary block with a fixed layout,
 * instead of a msgpack map per reservation: a snapshot carries every held reservation (a flash
 * sale holds millions), and packing them as maps was about half of a snapshot's CPU in a profile.
 * A whole snapshot of 1M reservations through the file store: 2.6-3.0 s of CPU before, 1.9 s
 * with blocks (bench/snapshot-cost.ts). msgpack still frames the chunk: a block is one `bin` value
 * in it.
 *
 * Block: u8 BLOCK_VERSION, u32 count, then each reservation, oldest first:
 * - u8 flags: bits 0-1 the state (STATES), bit 2 asked at a location (one line, its location the
 *   requested one), bit 3 has an order id;
 * - id, channel (strings: u16 byte length + UTF-8);
 * - qty, expiresAt, endedAt (f64);
 * - at a location: the location; otherwise u32 line count, then per line location and qty (f64);
 * - with an order id: the order id.
 */
export const BLOCK_VERSION = 1;

/** A state's number in the flags: written into data, so never renumbered (a snapshot's frozen
 * columns keep states as these numbers too). */
export const STATES: readonly ReservationState[] = ['held', 'released', 'expired', 'confirmed'];
export const STATE_BITS: Readonly<Record<ReservationState, number>> = {
  held: 0,
  released: 1,
  expired: 2,
  confirmed: 3,
};
const AT_LOCATION = 4;
const HAS_ORDER = 8;

/**
 * Writes one block at a time: `start`, an `add` per reservation (with the fields that change over
 * its life as the snapshot saw them), `finish`.
 */
class BlockWriter extends ByteWriter {
  private countAt = 0;
  private count = 0;

  constructor() {
    super(256 * 1024);
  }

  start(): void {
    this.at = 0;
    this.count = 0;
    this.u8(BLOCK_VERSION);
    this.countAt = this.at;
    this.u32(0);
  }

  str(s: string): void {
    if (this.str16(s) < 0) {
      throw new RangeError(`reservation string of ${Buffer.byteLength(s)} bytes is over 65,535`);
    }
  }

  add(
    r: Reservation,
    state: ReservationState,
    orderId: string | null,
    endedAt: number,
    expiresAt: number,
  ): void {
    const requested = r.requestedLocation;
    this.u8(
      STATE_BITS[state] |
        (requested !== null ? AT_LOCATION : 0) |
        (orderId !== null ? HAS_ORDER : 0),
    );
    this.str(r.id);
    this.str(r.channel);
    this.f64(r.qty);
    this.f64(expiresAt);
    this.f64(endedAt);
    if (requested !== null) {
      this.str(requested);
    } else {
      const n = r.lineCount;
      this.u32(n);
      for (let i = 0; i < n; i++) {
        this.str(r.linePosition(i).location.id);
        this.f64(r.lineQty(i));
      }
    }
    if (orderId !== null) this.str(orderId);
    this.count++;
  }

  /**
   * The block: a copy, the writer's buffer is reused. Buffer.allocUnsafe takes a small one out of
   * Node's shared pool: a snapshot makes one per book, and an ArrayBuffer of its own for each
   * (what Uint8Array's slice makes) cost more than the encoding, and the collector more again.
   */
  finish(): Buffer {
    const bytes = this.written();
    bytes.writeUInt32LE(this.count, this.countAt);
    const out = Buffer.allocUnsafe(bytes.length);
    bytes.copy(out);
    return out;
  }
}

/** The one block writer (its buffer is reused for every block). */
export const blockWriter = new BlockWriter();

/** A whole book's reservations, oldest first, as they are now: a walk of its list from the
 * oldest (`prev` leads to newer ones), no list built. */
export function encodeOldestFirst(oldest: Reservation | null): Uint8Array {
  blockWriter.start();
  for (let r = oldest; r !== null; r = r.prev) {
    blockWriter.add(r, r.state, r.orderId, r.endedAt, r.expiresAt);
  }
  return blockWriter.finish();
}

/** A block's reservation as read; reused for every reservation of a block (`readReservations`). */
export interface ReadReservation {
  id: string;
  channel: string;
  qty: number;
  expiresAt: number;
  endedAt: number;
  state: ReservationState;
  orderId: string | null;
  /** The requested location, or null for a network reservation. */
  location: string | null;
  /** [location, qty, location, qty, ...]: the lines (one when asked at a location). */
  lines: (string | number)[];
}

/**
 * Calls `visit` with each reservation of a block, oldest first, in one object reused for every
 * call (copy what is kept). Throws on a block of another version, or cut short, or with bytes
 * left over.
 */
export function readReservations(bytes: Uint8Array, visit: (r: ReadReservation) => void): void {
  const reader = new ByteReader(bytes, 0, 'reservation block is cut short');
  const version = reader.u8();
  if (version !== BLOCK_VERSION) throw new Error(`unknown reservation block version ${version}`);
  const count = reader.u32();
  const r: ReadReservation = {
    id: '',
    channel: '',
    qty: 0,
    expiresAt: 0,
    endedAt: 0,
    state: 'held',
    orderId: null,
    location: null,
    lines: [],
  };
  for (let k = 0; k < count; k++) {
    const flags = reader.u8();
    if (flags > 15) throw new Error(`reservation block holds unknown flags ${flags}`);
    r.state = STATES[flags & 3] as ReservationState;
    r.id = reader.str();
    r.channel = reader.name();
    r.qty = reader.f64();
    r.expiresAt = reader.f64();
    r.endedAt = reader.f64();
    const lines = r.lines;
    lines.length = 0;
    if ((flags & AT_LOCATION) !== 0) {
      const location = reader.name();
      r.location = location;
      lines.push(location, r.qty);
    } else {
      r.location = null;
      const n = reader.u32();
      if (n === 0) throw new Error(`reservation ${r.id} has no lines`);
      for (let i = 0; i < n; i++) lines.push(reader.name(), reader.f64());
    }
    r.orderId = (flags & HAS_ORDER) !== 0 ? reader.str() : null;
    visit(r);
  }
  if (!reader.done) throw new Error('reservation block has bytes past its last reservation');
}
