import {
  ByteWriter,
  type ByteReader,
  type Command,
  type ConfirmCommand,
  type ReleaseCommand,
  type ReserveCommand,
} from '../../engine/index.ts';

/**
 * The binary part of a message between two workers (docs/scaling.md, "Forwarding"). The hot items
 * (forwarded reserve, release and confirm commands and their answers) are written straight into
 * one reusable buffer per link with a fixed layout, instead of through msgpack: a profile of two
 * workers had packing and unpacking them at about 7% of a worker's busy time. The layout follows
 * the journal's (persistence/journal-codec.ts): strings are u16 byte length + UTF-8, numbers f64
 * (exact for every number, -0 included), optional fields announced by a flags byte.
 *
 * The other side reads exactly what msgpack gave it before: strings through UTF-8 (a lone
 * surrogate becomes U+FFFD either way), -0 as 0 (msgpack writes it as the integer 0). An item is
 * a u8 tag, then its fields. Anything the layout cannot hold (another op, a field of an
 * unexpected type, a string over 65,535 bytes) is written as nothing here: the caller sends it as
 * msgpack, as before.
 */
export const ItemTag = {
  /** The next [kind, id, payload] of the message's msgpack part. */
  Packed: 0,
  Reserve: 1,
  Release: 2,
  Confirm: 3,
  /** A command's answer holding its reservation (answer-codec.ts). */
  Reservation: 4,
  /** A command's refusal (answer-codec.ts). */
  Refusal: 5,
} as const;

/** Writes items into a buffer that grows as needed and is reused for every message. */
export class PeerWriter extends ByteWriter {
  constructor() {
    super(16 * 1024);
  }

  override f64(v: number): void {
    // -0 as 0, as msgpack sends it.
    super.f64(v === 0 ? 0 : v);
  }

  /** Writes `s`; false (and `at` somewhere past the string's start) when it cannot be held. */
  str(s: string): boolean {
    return this.str16(s) >= 0;
  }

  /** A string or nothing, as a flag bit says; false as for `str`. */
  optStr(s: string | undefined): boolean {
    return s === undefined || this.str(s);
  }

  /** The bytes written so far into `out` at `offset`. */
  copyTo(out: Uint8Array, offset: number): void {
    out.set(this.written(), offset);
  }
}

// ---- forwarded commands ----------------------------------------------------------------------

function isOptString(v: unknown): v is string | undefined {
  return v === undefined || typeof v === 'string';
}

/**
 * Writes request `id` carrying `cmd` when it is a reserve, release or confirm the layout holds
 * exactly; false (nothing written) otherwise.
 */
export function writeCommand(w: PeerWriter, id: number, cmd: Command): boolean {
  const mark = w.at;
  let done: boolean;
  switch (cmd.op) {
    case 'reserve':
      done = writeReserve(w, id, cmd);
      break;
    case 'release':
      done = writeRelease(w, id, cmd);
      break;
    case 'confirm':
      done = writeConfirm(w, id, cmd);
      break;
    default:
      return false;
  }
  if (!done) w.at = mark;
  return done;
}

function writeReserve(w: PeerWriter, id: number, cmd: ReserveCommand): boolean {
  // The gateway checked these types, but any caller may submit: what is not as expected goes
  // as msgpack, so the owner's engine refuses it exactly as it did.
  if (
    typeof cmd.reservationId !== 'string' ||
    typeof cmd.channel !== 'string' ||
    typeof cmd.sku !== 'string' ||
    typeof cmd.qty !== 'number' ||
    !isOptString(cmd.location) ||
    (cmd.ttlMs !== undefined && typeof cmd.ttlMs !== 'number') ||
    cmd.lines !== undefined
  ) {
    return false;
  }
  w.u8(ItemTag.Reserve);
  w.f64(id);
  w.u8((cmd.location !== undefined ? 1 : 0) | (cmd.ttlMs !== undefined ? 2 : 0));
  if (!w.str(cmd.reservationId) || !w.str(cmd.channel) || !w.str(cmd.sku)) return false;
  w.f64(cmd.qty);
  if (!w.optStr(cmd.location)) return false;
  if (cmd.ttlMs !== undefined) w.f64(cmd.ttlMs);
  return true;
}

function writeRelease(w: PeerWriter, id: number, cmd: ReleaseCommand): boolean {
  if (typeof cmd.reservationId !== 'string' || !isOptString(cmd.channel)) return false;
  w.u8(ItemTag.Release);
  w.f64(id);
  w.u8(cmd.channel !== undefined ? 1 : 0);
  return w.str(cmd.reservationId) && w.optStr(cmd.channel);
}

function writeConfirm(w: PeerWriter, id: number, cmd: ConfirmCommand): boolean {
  if (
    typeof cmd.reservationId !== 'string' ||
    typeof cmd.orderId !== 'string' ||
    !isOptString(cmd.channel)
  ) {
    return false;
  }
  w.u8(ItemTag.Confirm);
  w.f64(id);
  w.u8(cmd.channel !== undefined ? 1 : 0);
  return w.str(cmd.reservationId) && w.str(cmd.orderId) && w.optStr(cmd.channel);
}

/**
 * The command of an item tagged Reserve, Release or Confirm (its id already read). Each op in
 * one object shape, absent fields undefined, as the gateway builds them (op-table.ts).
 */
export function readCommand(r: ByteReader, tag: number): Command {
  const flags = r.u8();
  switch (tag) {
    case ItemTag.Reserve: {
      const reservationId = r.str();
      const channel = r.name();
      const sku = r.str();
      const qty = r.f64();
      const location = (flags & 1) !== 0 ? r.name() : undefined;
      const ttlMs = (flags & 2) !== 0 ? r.f64() : undefined;
      return { op: 'reserve', reservationId, channel, sku, qty, location, ttlMs };
    }
    case ItemTag.Release: {
      const reservationId = r.str();
      const channel = (flags & 1) !== 0 ? r.name() : undefined;
      return { op: 'release', reservationId, channel };
    }
    case ItemTag.Confirm: {
      const reservationId = r.str();
      const orderId = r.str();
      const channel = (flags & 1) !== 0 ? r.name() : undefined;
      return { op: 'confirm', reservationId, orderId, channel };
    }
    default:
      throw new Error(`peer item ${tag} is not a command`);
  }
}
