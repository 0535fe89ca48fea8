import type { CommandResult, ErrorCode, ReservationView } from '../engine/index.ts';
import type { FulfilmentView, OrderView, OutboxMessage } from '../orders/index.ts';
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

// ---- orders ---------------------------------------------------------------------------------

/** The answer to placeOrder and cancelOrder: the order as it stands afterwards. */
export class OrderReply {
  readonly op: 'placeOrder' | 'cancelOrder';
  readonly id: RequestId;
  readonly ok = true;
  readonly order: OrderView;
  /** True when nothing changed: an idempotent repeat (or nothing left to cancel). */
  readonly duplicate: boolean;

  constructor(
    op: 'placeOrder' | 'cancelOrder',
    id: RequestId,
    order: OrderView,
    duplicate: boolean,
  ) {
    this.op = op;
    this.id = id;
    this.order = order;
    this.duplicate = duplicate;
  }
}

/**
 * A refused placeOrder or cancelOrder: an ErrorReply's fields plus the order when the refusal
 * concerns one (e.g. NOT_SOURCEABLE answers the cancelled order). Not an ErrorReply on purpose:
 * the codec writes ErrorReply by hand with exactly its six fields.
 */
export class OrderErrorReply {
  readonly op = 'error';
  readonly id: RequestId;
  readonly code: ErrorCode;
  readonly message: string;
  readonly reason: string | null;
  readonly available: number | null;
  readonly order: OrderView | null;

  constructor(
    id: RequestId,
    error: {
      readonly code: ErrorCode;
      readonly message: string;
      readonly reason: string | null;
      readonly available: number | null;
    },
    order: OrderView | null,
  ) {
    this.id = id;
    this.code = error.code;
    this.message = error.message;
    this.reason = error.reason;
    this.available = error.available;
    this.order = order;
  }
}

/** The answer to fulfilmentAnswer: the fulfilment as it stands afterwards. */
export class FulfilmentAnswerReply {
  readonly op = 'fulfilmentAnswer';
  readonly id: RequestId;
  readonly orderId: string;
  readonly fulfilment: FulfilmentView | null;
  readonly duplicate: boolean;

  constructor(
    id: RequestId,
    orderId: string,
    fulfilment: FulfilmentView | null,
    duplicate: boolean,
  ) {
    this.id = id;
    this.orderId = orderId;
    this.fulfilment = fulfilment;
    this.duplicate = duplicate;
  }
}

/**
 * A refused fulfilmentAnswer: an ErrorReply's fields plus the fulfilment as it stands, when the
 * caller may see it (a location is shown its own fulfilment, never the whole order).
 */
export class FulfilmentErrorReply {
  readonly op = 'error';
  readonly id: RequestId;
  readonly code: ErrorCode;
  readonly message: string;
  readonly reason: string | null;
  readonly available: number | null;
  readonly orderId: string | null;
  readonly fulfilment: FulfilmentView | null;

  constructor(
    id: RequestId,
    error: {
      readonly code: ErrorCode;
      readonly message: string;
      readonly reason: string | null;
      readonly available: number | null;
    },
    orderId: string | null,
    fulfilment: FulfilmentView | null,
  ) {
    this.id = id;
    this.code = error.code;
    this.message = error.message;
    this.reason = error.reason;
    this.available = error.available;
    this.orderId = orderId;
    this.fulfilment = fulfilment;
  }
}

export class AckReply {
  readonly op = 'ack';
  readonly id: RequestId;
  /** How many of the named messages were waiting for this ack (repeats and unknown ids are not). */
  readonly acked: number;

  constructor(id: RequestId, acked: number) {
    this.id = id;
    this.acked = acked;
  }
}

/**
 * A message of the order service for a location, pushed on its WebSocket (and listed by
 * GET /v1/fulfilments?location=): `type` says what it is (`fulfilment.requested`,
 * `fulfilment.cancelled`), `data` is its body. At least once: drop repeats by `messageId`.
 */
export class FulfilmentPush {
  readonly op = 'fulfilment';
  readonly messageId: string;
  readonly type: string;
  readonly orderId: string;
  /** ISO 8601, when the order service recorded it. */
  readonly createdAt: string;
  readonly data: unknown;

  constructor(message: OutboxMessage) {
    this.messageId = message.messageId;
    this.type = message.type;
    this.orderId = message.orderId;
    this.createdAt = new Date(message.createdAt).toISOString();
    this.data = message.body ?? null;
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
