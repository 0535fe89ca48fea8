import { ErrorCode, fail, Reason, type Command, type ErrorResult } from '../engine/index.ts';
import type { OrderEvent } from './order-events.ts';
import { Order } from './order-state.ts';
import type { OutboxMessage } from './outbox-dispatcher.ts';

/**
 * What a command decides, before anything happens. Each command (place, cancel, a fulfilment
 * answer, a timeout) is one pure `decide` function of the order, the command and a read-only
 * context: it reads nothing else and changes nothing. The order runner performs what it returns:
 * stock commands first, then the event with its messages, then reconciliation (see
 * order-runner.ts).
 */

/** An event as decided: the runner adds the order id, version, time and message ids. */
export type NewEvent = OrderEvent extends infer E
  ? E extends OrderEvent
    ? Omit<E, 'version' | 'at' | 'orderId' | 'messages'>
    : never
  : never;

/** An outbound message as decided: the runner adds its id, order and time. */
export type MessageDraft = Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>;

/** The order service's counters (see OrderStats). */
export interface OrderCounts {
  placed: number;
  placementsFailed: number;
  cancelled: number;
  fulfilmentAnswers: number;
  timeouts: number;
  resourcings: number;
}

/**
 * After the event: reconcile the order's stock with what it needs (see reconcile.ts): `fresh`
 * for an order created by this command, `always`, `ifPending` (only when the event left it
 * waiting for sourcing), or `none`.
 */
export type Reconcile = 'none' | 'fresh' | 'always' | 'ifPending';

export interface Decision {
  readonly ok: true;
  /** Repeats a command already applied: nothing to do, answer the order as it stands. */
  readonly duplicate: boolean;
  /** Engine commands that must succeed before the event is recorded. */
  readonly stock: readonly Command[];
  readonly event: NewEvent | null;
  /** Sent once the event is durable. */
  readonly messages: readonly MessageDraft[];
  readonly reconcile: Reconcile;
  /** A reconciliation counts as a re-sourcing. */
  readonly resourcing: boolean;
  /** The counter this command bumps once its event is recorded. */
  readonly count: keyof OrderCounts | null;
}

export interface Refusal {
  readonly ok: false;
  readonly error: ErrorResult;
  /** Whether the answer shows the order as it stands (false: the caller may not see it). */
  readonly withOrder: boolean;
}

export type Decided = Decision | Refusal;

export const DUPLICATE: Decision = {
  ok: true,
  duplicate: true,
  stock: [],
  event: null,
  messages: [],
  reconcile: 'none',
  resourcing: false,
  count: null,
};

/**
 * A step that records `event` (after its stock commands) and sends `messages`, with nothing to
 * reconcile and no counter: the shape of every return step.
 */
export function recordStep(
  event: NewEvent,
  messages: readonly MessageDraft[],
  stock: readonly Command[] = [],
): Decision {
  return {
    ok: true,
    duplicate: false,
    stock,
    event,
    messages,
    reconcile: 'none',
    resourcing: false,
    count: null,
  };
}

export function refuse(error: ErrorResult, withOrder: boolean): Refusal {
  return { ok: false, error, withOrder };
}

/**
 * The order a step is about, when it is there and the calling storefront's (`channel` null: an
 * admin key, any order); otherwise the refusal to answer with.
 */
export function callersOrder(
  order: Order | null,
  orderId: string,
  channel: string | null,
): Order | Refusal {
  if (order === null) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_ORDER, `unknown order ${orderId}`),
      false,
    );
  }
  if (channel !== null && order.input.channel !== channel) {
    return refuse(
      fail(ErrorCode.FORBIDDEN, Reason.OTHER_CHANNEL, `order ${orderId} is not ${channel}'s`),
      false,
    );
  }
  return order;
}

/**
 * A step sent again under an id it already used (`what` names it: `receipt r-1`): with the same
 * content it is a duplicate and changes nothing; with other content, CONFLICT (ID_REUSED).
 */
export function repeated(
  seenFingerprint: string,
  fingerprint: string,
  what: string,
  withOrder: boolean,
): Decided {
  if (seenFingerprint === fingerprint) return DUPLICATE;
  return refuse(
    fail(ErrorCode.CONFLICT, Reason.ID_REUSED, `${what} exists with other content`),
    withOrder,
  );
}

/** What every decision may read besides the order and the command. */
export interface DecideContext {
  /** Whether customer notifications are produced (a customer webhook is configured). */
  readonly notifyCustomers: boolean;
  /**
   * The streams settlement events go to (`erp:webhook`, `erp:redis`; none: no ERP sink). The
   * order runner drafts them for every event it records (settlement.ts).
   */
  readonly settlementStreams: readonly string[];
}

/** Adds a customer notification to `out`, when customers are notified. */
export function notifyCustomer(
  context: DecideContext,
  out: MessageDraft[],
  order: Order,
  type: string,
  body: Record<string, unknown>,
): void {
  if (!context.notifyCustomers) return;
  out.push({
    stream: 'customer',
    type,
    body: {
      orderId: order.orderId,
      customer: order.input.customer,
      channel: order.input.channel,
      ...body,
    },
  });
}

/** The stream of a location's messages. */
export function locationStream(location: string): string {
  return `location:${location}`;
}
