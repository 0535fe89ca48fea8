import { createHash } from 'node:crypto';
import { ErrorCode, fail, Reason } from '../engine/index.ts';
import { notifyCustomer, refuse, type MessageDraft, type Refusal } from './decision.ts';
import type { OrderInput } from './order-input.ts';
import type { Order } from './order-state.ts';
import type { ReturnContext } from './return-context.ts';
import type {
  ExchangeOutcome,
  ReceiptCounts,
  RequestedExchange,
  RequestedReturnLine,
} from './return-events.ts';
import type { ReturnRequest } from './return-input.ts';
import { restockingFee, type ReturnPolicy } from './return-policy.ts';
import { exchangeCredited, type OrderReturn } from './return-state.ts';

/**
 * Exchanges (docs/returns.md "Exchanges"): a return may name replacement lines, which become an
 * order of their own, placed like any other and paid for by the return's value. The rules the
 * return decisions share live here: the exchange order's derived id, what a return's units are
 * worth, when a receipt places or declines the exchange, and how much of a refund it settles.
 */

/** Part of every exchange order's id; client order ids may not contain it (order-service.ts). */
const EXCHANGE_MARK = '~x~';
const MAX_ID = 128;

/**
 * The exchange order's id: `<orderId>~x~<returnId>`, or, when that is longer than an order id may
 * be, a digest of the order id in its place. Derived, so every retry and every replay after a crash
 * names the same order, and placing it again is a duplicate.
 */
export function exchangeOrderId(orderId: string, returnId: string): string {
  const id = `${orderId}${EXCHANGE_MARK}${returnId}`;
  if (id.length <= MAX_ID) return id;
  const digest = createHash('sha256').update(orderId).digest('base64url').slice(0, 22);
  return `${digest}${EXCHANGE_MARK}${returnId}`;
}

/** Whether an order id is of the form exchange orders use (reserved for them). */
export function isExchangeOrderId(orderId: string): boolean {
  return orderId.includes(EXCHANGE_MARK);
}

/** What `qty` units of a line returned for `reason` credit: their price less the restocking fee. */
function creditOf(policy: ReturnPolicy, reason: string, qty: number, unitPrice: number): number {
  const amount = qty * unitPrice;
  return amount - restockingFee(policy, reason, amount);
}

/**
 * A return request's replacement lines checked against the order and the return's lines: known
 * SKUs, a known pickup location, and worth no more than the returned units credit at most (their
 * prices less restocking fees), so the exchange never costs the customer more than it returns.
 * Answers null when the request has no exchange.
 */
export function requestedExchange(
  order: Order,
  request: ReturnRequest,
  lines: readonly RequestedReturnLine[],
  context: ReturnContext,
): RequestedExchange | Refusal | null {
  const wanted = request.exchange;
  if (wanted === undefined) return null;
  for (const l of wanted.lines) {
    if (!context.hasProduct(l.sku)) {
      return refuse(fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${l.sku}`), true);
    }
  }
  const delivery = wanted.delivery ?? order.input.delivery;
  if (delivery.type === 'pickup' && !context.hasLocation(delivery.location)) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_LOCATION, `unknown location ${delivery.location}`),
      true,
    );
  }
  let value = 0;
  for (const l of wanted.lines) value += l.qty * l.unitPrice;
  let credit = 0;
  for (const l of lines) credit += creditOf(context.returnPolicy, l.reason, l.qty, l.unitPrice);
  if (!Number.isSafeInteger(value) || value > credit) {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.EXCHANGE_EXCEEDS_RETURN,
        `the replacement lines are worth ${String(value)}, the returned units credit at most ${String(credit)} (after restocking fees): return more, or place the difference as an order of its own`,
      ),
      true,
    );
  }
  return {
    orderId: exchangeOrderId(order.orderId, request.returnId),
    lines: wanted.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitPrice: l.unitPrice })),
    delivery,
    value,
    status: context.returnPolicy.exchangeOn === 'request' ? 'placed' : 'awaiting_receipt',
  };
}

/**
 * What a receipt decides about an exchange awaiting it: placed once the units received so far
 * (with this receipt) credit its value, declined once every unit is accounted for and they do
 * not, else nothing yet (null).
 */
export function exchangeAtReceipt(
  r: OrderReturn,
  counts: readonly ReceiptCounts[],
  policy: ReturnPolicy,
): ExchangeOutcome | null {
  const x = r.exchange;
  if (x?.status !== 'awaiting_receipt') return null;
  let credit = 0;
  let open = 0;
  for (const l of r.lines) {
    const c = counts.find((n) => n.lineId === l.lineId);
    const arrived = c === undefined ? 0 : c.restock + c.writeOff + c.returnToVendor + c.refurbish;
    const received = l.received + arrived;
    credit += creditOf(policy, l.reason, received, l.unitPrice);
    open += l.qty - received - l.missing - (c?.missing ?? 0);
  }
  if (credit >= x.value) return { status: 'placed', reason: null };
  if (open > 0) return null;
  return {
    status: 'declined',
    reason: `the units received credit ${String(credit)}, the replacement lines are worth ${String(x.value)}`,
  };
}

/**
 * How much of a refund worth `value` the return's exchange settles: what is left of the exchange
 * order's value (as it stands: cancelled or never-sourced units are not paid for) after earlier
 * credit notes of the return. 0 without a placed exchange.
 */
export function exchangeSettles(r: OrderReturn, value: number, context: ReturnContext): number {
  const x = r.exchange;
  if (x?.status !== 'placed') return 0;
  const worth = Math.min(x.value, context.orderValue(x.orderId) ?? x.value);
  return Math.max(0, Math.min(value, worth - exchangeCredited(r)));
}

/** Tells the customer (when customers are notified) the exchange became an order. */
export function exchangePlaced(
  context: ReturnContext,
  out: MessageDraft[],
  order: Order,
  returnId: string,
  x: Pick<RequestedExchange, 'orderId' | 'lines' | 'value'>,
): void {
  notifyCustomer(context, out, order, 'return.exchange_placed', {
    returnId,
    exchangeOrderId: x.orderId,
    lines: x.lines,
    value: x.value,
    currency: order.input.payment.currency,
  });
}

/** Tells the customer (when customers are notified) the exchange was declined, and why. */
export function exchangeDeclined(
  context: ReturnContext,
  out: MessageDraft[],
  order: Order,
  returnId: string,
  reason: string,
): void {
  notifyCustomer(context, out, order, 'return.exchange_declined', { returnId, reason });
}

/** The exchange order a return decided, as an order input, or null when none is due. */
export function exchangeInput(order: Order, r: OrderReturn): OrderInput | null {
  const x = r.exchange;
  if (x?.status !== 'placed') return null;
  return {
    orderId: x.orderId,
    channel: order.input.channel,
    customer: order.input.customer,
    lines: x.lines.map((l, i) => ({
      lineId: String(i + 1),
      sku: l.sku,
      qty: l.qty,
      unitPrice: l.unitPrice,
      reservationId: null,
    })),
    delivery: x.delivery,
    payment: {
      amount: x.value,
      currency: order.input.payment.currency,
      reference: `return:${r.returnId}`,
      provider: 'exchange',
    },
    shippingAmount: 0,
    exchangeFor: { orderId: order.orderId, returnId: r.returnId },
  };
}
