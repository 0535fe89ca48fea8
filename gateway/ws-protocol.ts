import type { CommandResult, ErrorCode, ReservationView } from '../engine/index.ts';
import type { RequestId } from './message-schemas.ts';

/**
 * Reply shapes of the WebSocket protocol (docs/api.md). Each kind of reply is one class, so
 * every reply of a kind has the same fields in the same order whatever the outcome.
 */

// Fields are declared in wire order (op first): with parameter properties the class fields
// (`op = ...`) would be defined first and the parameters after, putting `op` last on the wire.

/** `{op:"error", id, code, message, reason, available}`; `available` only for INSUFFICIENT_STOCK. */
export class ErrorReply {
  readonly op = 'error';
  readonly id: RequestId | null;
  readonly code: ErrorCode;
  readonly message: string;
  readonly reason: string | null;
  readonly available: number | null;

  constructor(
    id: RequestId | null,
    code: ErrorCode,
    message: string,
    reason: string | null = null,
    available: number | null = null,
  ) {
    this.id = id;
    this.code = code;
    this.message = message;
    this.reason = reason;
    this.available = available;
  }
}

/** The answer to reserve, release and confirm: the reservation as it stands afterwards. */
export class ReservationReply {
  constructor(
    readonly op: 'reserve' | 'release' | 'confirm',
    readonly id: RequestId | null,
    readonly reservationId: string,
    readonly channel: string,
    readonly sku: string,
    readonly qty: number,
    readonly state: string,
    readonly lines: readonly { readonly location: string; readonly qty: number }[],
    readonly expiresAt: number,
    readonly orderId: string | null,
    /** True when the request repeated one already applied (an idempotent retry). */
    readonly duplicate: boolean,
  ) {}
}

export class TopicSnapshot {
  constructor(
    readonly topic: string,
    readonly available: number,
    readonly seq: number,
  ) {}
}

export class SubscribeReply {
  readonly op = 'subscribe';
  readonly id: RequestId;
  readonly snapshots: readonly TopicSnapshot[];

  constructor(id: RequestId, snapshots: readonly TopicSnapshot[]) {
    this.id = id;
    this.snapshots = snapshots;
  }
}

export class UnsubscribeReply {
  readonly op = 'unsubscribe';
  readonly id: RequestId;
  readonly topics: readonly string[];

  constructor(id: RequestId, topics: readonly string[]) {
    this.id = id;
    this.topics = topics;
  }
}

export class BatchReply {
  readonly op = 'batch';
  readonly id: RequestId;
  readonly results: readonly (ReservationReply | ErrorReply)[];

  constructor(id: RequestId, results: readonly (ReservationReply | ErrorReply)[]) {
    this.id = id;
    this.results = results;
  }
}

/** A live availability update, published on the topic. */
export class AvailabilityMessage {
  readonly op = 'availability';
  readonly topic: string;
  readonly available: number;
  readonly seq: number;

  constructor(topic: string, available: number, seq: number) {
    this.topic = topic;
    this.available = available;
    this.seq = seq;
  }
}

export type ReplyOp = 'reserve' | 'release' | 'confirm';

function reservationReply(
  op: ReplyOp,
  id: RequestId | null,
  r: ReservationView,
  duplicate: boolean,
): ReservationReply {
  return new ReservationReply(
    op,
    id,
    r.reservationId,
    r.channel,
    r.sku,
    r.qty,
    r.state,
    r.lines,
    r.expiresAt,
    r.orderId,
    duplicate,
  );
}

/** The wire reply for an engine result of a reserve, release or confirm. */
export function commandReply(
  op: ReplyOp,
  id: RequestId | null,
  result: CommandResult,
): ReservationReply | ErrorReply {
  if (!result.ok) {
    return new ErrorReply(id, result.code, result.message, result.reason, result.available);
  }
  if (result.reservation === null) {
    // Every reservation command answers with its reservation; anything else is an engine bug.
    return new ErrorReply(id, 'INTERNAL', 'the engine answered without a reservation');
  }
  return reservationReply(op, id, result.reservation, result.duplicate);
}
