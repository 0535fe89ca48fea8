/**
 * The shapes the client sends and receives (docs/api.md). Written out here rather than imported
 * from the server's modules, so the client's declarations stand alone and a browser bundle pulls
 * in nothing of the server.
 */

/** The server's error codes, the same on the wire, in HTTP bodies and in metrics. */
export type ServerErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INSUFFICIENT_STOCK'
  | 'CONFLICT'
  | 'BUSY'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface ReservationLine {
  readonly location: string;
  readonly qty: number;
}

export type ReservationState = 'held' | 'released' | 'expired' | 'confirmed';

/** A reservation as it stands after a reserve, release or confirm. */
export interface Reservation {
  readonly reservationId: string;
  readonly channel: string;
  readonly sku: string;
  readonly qty: number;
  readonly state: ReservationState;
  readonly lines: readonly ReservationLine[];
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  readonly orderId: string | null;
  /** True when the request repeated one already applied (an idempotent retry). */
  readonly duplicate: boolean;
}

export interface ReserveRequest {
  /**
   * Makes the request idempotent; the client makes one (a random UUID) when it is left out, and
   * sends the same one again whenever it retries the request.
   */
  readonly reservationId?: string;
  readonly channel: string;
  readonly sku: string;
  readonly qty: number;
  /** Hold at one location (e.g. for pickup); without it the engine picks. */
  readonly location?: string;
  readonly ttlMs?: number;
}

export type BatchOperation =
  | ({ readonly op: 'reserve' } & ReserveRequest)
  | { readonly op: 'release'; readonly reservationId: string }
  | { readonly op: 'confirm'; readonly reservationId: string; readonly orderId: string };

export type OrderStatus =
  | 'received'
  | 'fulfilment_requested'
  | 'accepted'
  | 'picked'
  | 'partially_shipped'
  | 'shipped'
  | 'partially_delivered'
  | 'delivered'
  | 'backordered'
  | 'cancelled';

export type FulfilmentStatus =
  | 'requested'
  | 'accepted'
  | 'picked'
  | 'shipped'
  | 'delivered'
  | 'rejected'
  | 'short_picked'
  | 'timed_out'
  | 'cancelled';

export interface Fulfilment {
  readonly fulfilmentId: string;
  readonly location: string;
  readonly lines: readonly { readonly sku: string; readonly qty: number }[];
  readonly status: FulfilmentStatus;
  readonly attempt: number;
  readonly requestedAt: string;
  readonly dueBy: string;
  readonly updatedAt: string;
  readonly carrier: string | null;
  readonly tracking: string | null;
  readonly reason: string | null;
}

export interface OrderLine {
  readonly lineId: string;
  readonly sku: string;
  readonly qty: number;
  readonly unitPrice: number;
  readonly reservationId: string | null;
  readonly cancelled: number;
}

/** An order as `GET /v1/orders/:id` and the order ops return it (docs/orders.md). */
export interface Order {
  readonly orderId: string;
  readonly channel: string;
  readonly status: OrderStatus;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly customer: { readonly id: string; readonly name?: string } & Record<string, unknown>;
  readonly delivery: Record<string, unknown>;
  readonly payment: { readonly amount: number; readonly currency: string };
  readonly shippingAmount: number;
  readonly lines: readonly OrderLine[];
  readonly backordered: readonly { readonly sku: string; readonly qty: number }[];
  readonly fulfilments: readonly Fulfilment[];
  readonly history: readonly {
    readonly at: string;
    readonly event: string;
    readonly status: OrderStatus;
    readonly detail: string;
  }[];
  readonly sourcing: readonly {
    readonly attempt: number;
    readonly at: string;
    readonly explanation: unknown;
  }[];
  readonly cancelReason: string | null;
  readonly pendingMessages: number;
  readonly deadLetters: readonly { readonly messageId: string; readonly error: string }[];
}

/** What placeOrder sends: the order as `POST /v1/orders` takes it (docs/api.md, "the order"). */
export interface OrderInput {
  readonly orderId: string;
  readonly channel: string;
  readonly customer: { readonly id: string } & Record<string, unknown>;
  readonly lines: readonly {
    readonly sku: string;
    readonly qty: number;
    readonly unitPrice: number;
    readonly reservationId?: string;
  }[];
  readonly delivery:
    | {
        readonly type: 'ship';
        readonly address: { readonly lat: number; readonly lon: number } & Record<string, unknown>;
      }
    | { readonly type: 'pickup'; readonly location: string };
  readonly payment: { readonly amount: number; readonly currency: string };
  readonly shippingAmount?: number;
}

export interface OrderResult {
  readonly order: Order;
  /** True when nothing changed: an idempotent repeat (or nothing left to cancel). */
  readonly duplicate: boolean;
}

export interface CancelOrderRequest {
  readonly orderId: string;
  /** Without lines every unit not yet shipped is cancelled. */
  readonly lines?: readonly { readonly lineId: string; readonly qty?: number }[];
  readonly reason?: string;
}

/** A location's answer about one of its fulfilments (docs/api.md, "fulfilment answers"). */
export type FulfilmentAnswer = { readonly type: string } & Record<string, unknown>;

export interface FulfilmentAnswerResult {
  readonly orderId: string;
  readonly fulfilment: Fulfilment | null;
  readonly duplicate: boolean;
}

/** A message of the order service for a location, pushed on its WebSocket. */
export interface FulfilmentMessage {
  readonly messageId: string;
  /** `fulfilment.requested` or `fulfilment.cancelled`. */
  readonly type: string;
  readonly orderId: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly data: unknown;
}
