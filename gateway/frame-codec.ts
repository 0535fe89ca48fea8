import { Packr, Unpackr } from 'msgpackr';
import { JsonGuard } from './json-guard.ts';
import { readHotFrame } from './hot-frame.ts';
import { MsgpackGuard, type GuardLimits, type GuardVerdict } from './msgpack-guard.ts';
import {
  ERROR_CODES,
  Reason,
  type CommandResult,
  type ErrorCode,
  type ReservationView,
} from '../engine/index.ts';
import type { RequestId } from './message-schemas.ts';
import { constants, KEYS, MAX_FAST_REPLY_BYTES, MsgpackWriter } from './msgpack-writer.ts';
import {
  AvailabilityMessage,
  commandReply,
  ErrorReply,
  ReservationReply,
  type ReplyOp,
} from './ws-protocol.ts';

/** What a reservation reply carries: an engine ReservationView or a ReservationReply. */
type ReservationFields = Pick<
  ReservationView,
  'reservationId' | 'channel' | 'sku' | 'qty' | 'lines' | 'expiresAt' | 'orderId'
> & { readonly state: string };

const REASONS = constants(Object.values(Reason));
const STATES = constants(['held', 'released', 'expired', 'confirmed']);

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

// Constant runs of bytes, each written with one copy: a map header, keys and constant values.
const RESERVATION_HEAD = constants(['reserve', 'release', 'confirm'] as const);
const HEADS: Readonly<Record<ReplyOp, Uint8Array>> = {
  reserve: concat(Uint8Array.of(0x8b), KEYS.op, RESERVATION_HEAD.reserve, KEYS.id),
  release: concat(Uint8Array.of(0x8b), KEYS.op, RESERVATION_HEAD.release, KEYS.id),
  confirm: concat(Uint8Array.of(0x8b), KEYS.op, RESERVATION_HEAD.confirm, KEYS.id),
};
const ERROR_HEAD = concat(Uint8Array.of(0x86), KEYS.op, constants(['error']).error, KEYS.id);
const CODE_THEN_MESSAGE = Object.fromEntries(
  ERROR_CODES.map((c) => [c, concat(KEYS.code, constants([c])[c], KEYS.message)]),
) as Readonly<Record<ErrorCode, Uint8Array>>;
const AVAILABILITY_HEAD = concat(
  Uint8Array.of(0x84),
  KEYS.op,
  constants(['availability']).availability,
  KEYS.topic,
);

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

  constructor(
    limits: GuardLimits = FRAME_LIMITS,
    /** Read hot frames from their bytes (hot-frame.ts); off, every frame takes the general path
     * (the tests compare the two). */
    private readonly hotFrames = true,
  ) {
    this.msgpackGuard = new MsgpackGuard(limits);
    this.jsonGuard = new JsonGuard(limits);
  }

  /**
   * Decodes a frame (valid only during the uWS callback that handed it over). A reserve, release
   * or confirm in the shape client libraries send is read straight from its bytes (hot-frame.ts);
   * every other frame is checked by the guard, then unpacked.
   */
  decode(frame: ArrayBuffer, binary: boolean): unknown {
    if (binary) {
      const bytes = Buffer.from(frame);
      const hot = this.hotFrames ? readHotFrame(bytes) : null;
      if (hot !== null) return hot;
      const verdict = this.msgpackGuard.check(bytes);
      if (verdict !== null) return REJECTED[verdict];
      try {
        return this.unpackr.unpack(bytes) as unknown;
      } catch {
        return REJECTED.malformed;
      }
    }
    const bytes = new Uint8Array(frame);
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

  /**
   * The reply to a reserve, release or confirm, straight from the engine's result: msgpack
   * written by hand without building the reply object first, JSON through the reply object.
   */
  result(
    op: ReplyOp,
    id: RequestId | null,
    result: CommandResult,
    binary: boolean,
  ): Uint8Array | string {
    if (!binary) return JSON.stringify(commandReply(op, id, result));
    if (!result.ok) {
      if (result.message.length < 2_000) {
        return this.error(id, result.code, result.message, result.reason, result.available);
      }
    } else if (result.reservation !== null && linesFit(result.reservation.lines.length)) {
      return this.reservation(op, id, result.reservation, result.duplicate);
    }
    return this.packr.pack(commandReply(op, id, result));
  }

  /** A message as msgpack: the hot shapes by hand (msgpack-writer.ts), the rest by msgpackr. */
  pack(message: object): Uint8Array {
    if (message instanceof ReservationReply) {
      if (linesFit(message.lines.length)) {
        return this.reservation(message.op, message.id, message, message.duplicate);
      }
    } else if (message instanceof ErrorReply) {
      if (message.message.length < 2_000) {
        return this.error(
          message.id,
          message.code,
          message.message,
          message.reason,
          message.available,
        );
      }
    } else if (message instanceof AvailabilityMessage) {
      return this.availability(message);
    }
    return this.packr.pack(message);
  }

  private reservation(
    op: ReplyOp,
    id: RequestId | null,
    r: ReservationFields,
    duplicate: boolean,
  ): Uint8Array {
    const w = this.writer;
    w.begin();
    w.key(HEADS[op]);
    w.id(id);
    w.key(KEYS.reservationId);
    w.string(r.reservationId);
    w.key(KEYS.channel);
    w.string(r.channel);
    w.key(KEYS.sku);
    w.string(r.sku);
    w.key(KEYS.qty);
    w.number(r.qty);
    w.key(KEYS.state);
    const state = (STATES as Record<string, Uint8Array | undefined>)[r.state];
    if (state === undefined) w.string(r.state);
    else w.key(state);
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
    w.bool(duplicate);
    return w.end();
  }

  private error(
    id: RequestId | null,
    code: ErrorCode,
    message: string,
    reason: string | null,
    available: number | null,
  ): Uint8Array {
    const w = this.writer;
    w.begin();
    w.key(ERROR_HEAD);
    w.id(id);
    w.key(CODE_THEN_MESSAGE[code]);
    w.string(message);
    w.key(KEYS.reason);
    const r =
      reason === null ? undefined : (REASONS as Record<string, Uint8Array | undefined>)[reason];
    if (r !== undefined) w.key(r);
    else w.stringOrNil(reason);
    w.key(KEYS.available);
    w.numberOrNil(available);
    return w.end();
  }

  private availability(a: AvailabilityMessage): Uint8Array {
    const w = this.writer;
    w.begin();
    w.key(AVAILABILITY_HEAD);
    w.string(a.topic);
    w.key(KEYS.available);
    w.number(a.available);
    w.key(KEYS.seq);
    w.number(a.seq);
    return w.end();
  }
}

/** Ids are at most 128 characters (UTF-8: 4 bytes each at worst), each line two ids' worth. */
function linesFit(lines: number): boolean {
  return 5 * 600 + lines * 600 < MAX_FAST_REPLY_BYTES;
}
