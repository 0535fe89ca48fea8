import { Packr, Unpackr } from 'msgpackr';
import { JsonGuard } from './json-guard.ts';
import { MsgpackGuard, type GuardLimits, type GuardVerdict } from './msgpack-guard.ts';
import { KEYS, MAX_FAST_REPLY_BYTES, MsgpackWriter } from './msgpack-writer.ts';
import { AvailabilityMessage, ErrorReply, ReservationReply } from './ws-protocol.ts';

/** Why a frame could not be decoded: a guard verdict or a parser failure. */
export type FrameRejection = Exclude<GuardVerdict, null> | 'malformed' | 'forbidden_key';

/** A frame that could not be decoded (one shared instance per reason, nothing allocated). */
export class RejectedFrame {
  constructor(
    readonly reason: FrameRejection,
    readonly message: string,
  ) {}
}

const MESSAGES: Record<FrameRejection, string> = {
  truncated: 'frame ends inside a value',
  trailing_bytes: 'frame holds bytes after its one value',
  too_deep: 'frame nests too deep',
  too_many_entries: 'frame holds a container with too many entries',
  bad_length: 'frame declares a length beyond its end',
  extension_type: 'msgpack extension types are not accepted',
  invalid_byte: 'frame holds an invalid msgpack byte',
  non_string_key: 'map keys must be strings',
  forbidden_key: 'keys __proto__, constructor and prototype are not accepted',
  malformed: 'frame is not valid',
};

const REJECTED = Object.fromEntries(
  (Object.keys(MESSAGES) as FrameRejection[]).map((r) => [r, new RejectedFrame(r, MESSAGES[r])]),
) as Record<FrameRejection, RejectedFrame>;

/** Depth and container bounds for every frame (see docs/api.md, "Limits"). */
export const FRAME_LIMITS: GuardLimits = Object.freeze({ maxDepth: 8, maxEntries: 1_024 });

/**
 * Encoding and decoding of WebSocket frames: binary frames are msgpack, text frames JSON, with
 * the same message shapes. One Packr and one Unpackr for the whole gateway; the guards run first.
 * A packed reply is a view into Packr's buffer that later packs never overwrite (msgpackr starts
 * a new buffer when the current one fills), so it may wait in a reply queue until the flush.
 */
export class FrameCodec {
  private readonly packr = new Packr({
    useRecords: false,
    variableMapSize: true,
    encodeUndefinedAsNil: true,
  });
  private readonly unpackr = new Unpackr({
    useRecords: false,
    mapsAsObjects: true,
    int64AsType: 'number',
  });
  private readonly writer = new MsgpackWriter();
  private readonly msgpackGuard: MsgpackGuard;
  private readonly jsonGuard: JsonGuard;
  private readonly textDecoder = new TextDecoder('utf-8', { fatal: false });

  constructor(limits: GuardLimits = FRAME_LIMITS) {
    this.msgpackGuard = new MsgpackGuard(limits);
    this.jsonGuard = new JsonGuard(limits);
  }

  /** Decodes a frame (valid only during the uWS callback that handed it over). */
  decode(frame: ArrayBuffer, binary: boolean): unknown {
    const bytes = new Uint8Array(frame);
    if (binary) {
      const verdict = this.msgpackGuard.check(bytes);
      if (verdict !== null) return REJECTED[verdict];
      try {
        return this.unpackr.unpack(bytes) as unknown;
      } catch {
        return REJECTED.malformed;
      }
    }
    const verdict = this.jsonGuard.scan(bytes);
    if (verdict !== null) return REJECTED[verdict];
    let value: unknown;
    try {
      value = JSON.parse(this.textDecoder.decode(bytes));
    } catch {
      return REJECTED.malformed;
    }
    if (this.jsonGuard.hasForbiddenKey(value)) return REJECTED.forbidden_key;
    return value;
  }

  /** A reply as msgpack bytes (binary) or a JSON string (text). */
  encode(message: object, binary: boolean): Uint8Array | string {
    return binary ? this.pack(message) : JSON.stringify(message);
  }

  /** A message as msgpack: the hot shapes by hand (msgpack-writer.ts), the rest by msgpackr. */
  pack(message: object): Uint8Array {
    if (message instanceof ReservationReply) {
      if (reservationFits(message)) return this.reservation(message);
    } else if (message instanceof ErrorReply) {
      if (message.message.length < 2_000) return this.error(message);
    } else if (message instanceof AvailabilityMessage) {
      return this.availability(message);
    }
    return this.packr.pack(message);
  }

  private reservation(r: ReservationReply): Uint8Array {
    const w = this.writer;
    w.begin();
    w.map(11);
    w.key(KEYS.op);
    w.string(r.op);
    w.key(KEYS.id);
    w.id(r.id);
    w.key(KEYS.reservationId);
    w.string(r.reservationId);
    w.key(KEYS.channel);
    w.string(r.channel);
    w.key(KEYS.sku);
    w.string(r.sku);
    w.key(KEYS.qty);
    w.number(r.qty);
    w.key(KEYS.state);
    w.string(r.state);
    w.key(KEYS.lines);
    w.array(r.lines.length);
    for (const line of r.lines) {
      w.map(2);
      w.key(KEYS.location);
      w.string(line.location);
      w.key(KEYS.qty);
      w.number(line.qty);
    }
    w.key(KEYS.expiresAt);
    w.number(r.expiresAt);
    w.key(KEYS.orderId);
    w.stringOrNil(r.orderId);
    w.key(KEYS.duplicate);
    w.bool(r.duplicate);
    return w.end();
  }

  private error(e: ErrorReply): Uint8Array {
    const w = this.writer;
    w.begin();
    w.map(6);
    w.key(KEYS.op);
    w.string(e.op);
    w.key(KEYS.id);
    w.id(e.id);
    w.key(KEYS.code);
    w.string(e.code);
    w.key(KEYS.message);
    w.string(e.message);
    w.key(KEYS.reason);
    w.stringOrNil(e.reason);
    w.key(KEYS.available);
    w.numberOrNil(e.available);
    return w.end();
  }

  private availability(a: AvailabilityMessage): Uint8Array {
    const w = this.writer;
    w.begin();
    w.map(4);
    w.key(KEYS.op);
    w.string(a.op);
    w.key(KEYS.topic);
    w.string(a.topic);
    w.key(KEYS.available);
    w.number(a.available);
    w.key(KEYS.seq);
    w.number(a.seq);
    return w.end();
  }
}

/** Ids are at most 128 characters (UTF-8: 4 bytes each at worst), each line two ids' worth. */
function reservationFits(r: ReservationReply): boolean {
  return 5 * 600 + r.lines.length * 600 < MAX_FAST_REPLY_BYTES;
}
