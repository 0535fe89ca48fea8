import type { OrderInput } from './order-input.ts';
import type { OutboxMessage } from './outbox-dispatcher.ts';
import type {
  ReturnHoldResolvedChange,
  ReturnReceivedChange,
  ReturnRefundedChange,
  ReturnRequestedChange,
} from './return-events.ts';

/**
 * What happened to an order, as the journal keeps it. Events are facts, never requests: the
 * sourcing plan, the fulfilment ids and the outbound messages are decided before the event is
 * recorded and travel inside it, so replay reproduces the order exactly whatever the sourcing
 * configuration or the stock is at replay time.
 */

interface EventBase {
  readonly orderId: string;
  /** The order's version after this event (1 for `received`): replay applies each once. */
  readonly version: number;
  readonly at: number;
  /** Messages to send because of this event (fulfilment requests, customer notifications). */
  readonly messages: readonly OutboxMessage[];
}

export interface PlannedFulfilment {
  readonly fulfilmentId: string;
  readonly location: string;
  /** [sku, qty] */
  readonly lines: readonly (readonly [string, number])[];
  /** Answer expected by then, or it is escalated and re-sourced. */
  readonly dueBy: number;
}

export interface ReceivedEvent extends EventBase {
  readonly kind: 'received';
  readonly input: OrderInput;
  readonly idempotencyKey: string | null;
  readonly fingerprint: string;
}

export interface SourcedEvent extends EventBase {
  readonly kind: 'sourced';
  readonly attempt: number;
  readonly fulfilments: readonly PlannedFulfilment[];
  /** [sku, qty] still to be sourced after this attempt (replaces the previous backorder). */
  readonly backordered: readonly (readonly [string, number])[];
  /** The SourcingExplanation as JSON text: an order keeps one string per decision instead of
   * dozens of small objects (the view parses it). */
  readonly explanation: string | null;
}

/** Placement could not be sourced under the profile's split policy: the order is cancelled. */
export interface FailedEvent extends EventBase {
  readonly kind: 'failed';
  readonly code: string;
  readonly message: string;
  /** As for SourcedEvent. */
  readonly explanation: string | null;
}

export type FulfilmentUpdate =
  | 'accepted'
  | 'rejected'
  | 'short_picked'
  | 'picked'
  | 'shipped'
  | 'delivered'
  | 'timed_out'
  | 'problem';

export interface FulfilmentEvent extends EventBase {
  readonly kind: 'fulfilment';
  readonly fulfilmentId: string;
  readonly update: FulfilmentUpdate;
  /** For short_picked: [sku, qty picked]. */
  readonly picked: readonly (readonly [string, number])[] | null;
  readonly carrier: string | null;
  readonly tracking: string | null;
  readonly reason: string | null;
}

export interface CancelledEvent extends EventBase {
  readonly kind: 'cancelled';
  /** [lineId, qty cancelled now]; every open unit of those lines. */
  readonly lines: readonly (readonly [string, number])[];
  /** [fulfilmentId, sku, qty taken off] to bring fulfilments down to what is still ordered. */
  readonly reduce: readonly (readonly [string, string, number])[];
  readonly reason: string;
}

/**
 * Messages of one order its receivers acknowledged (or that were given up): they are not sent
 * again after a restart. Not an order event: acknowledgements of many orders share one journal
 * record per turn and need no step of the order's own (see JournalEntry `acks`).
 */
export interface OrderAck {
  readonly orderId: string;
  readonly delivered: readonly string[];
  /** [messageId, error]: given up (not retryable), kept on the order for support to see. */
  readonly deadLettered: readonly (readonly [string, string])[];
}

/** A completed order past its retention: dropped from memory. */
export interface PurgedEvent extends EventBase {
  readonly kind: 'purged';
}

/** Returns (RMA) of the order's shipped units: requested, received, refunded, holds resolved. */
export type ReturnEvent =
  | (EventBase & ReturnRequestedChange)
  | (EventBase & ReturnReceivedChange)
  | (EventBase & ReturnRefundedChange)
  | (EventBase & ReturnHoldResolvedChange);

export type OrderEvent =
  | ReceivedEvent
  | SourcedEvent
  | FailedEvent
  | FulfilmentEvent
  | CancelledEvent
  | PurgedEvent
  | ReturnEvent;

/** What the order service keeps in the engine's journal: an order's event, or a turn's acks. */
export type OrderRecord = { readonly event: OrderEvent } | { readonly acks: readonly OrderAck[] };
