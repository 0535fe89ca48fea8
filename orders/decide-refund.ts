import { ErrorCode, fail, Reason } from '../engine/index.ts';
import {
  DUPLICATE,
  notifyCustomer,
  recordStep,
  refuse,
  type Decided,
  type MessageDraft,
} from './decision.ts';
import type { Order } from './order-state.ts';
import type { ReturnContext } from './return-context.ts';
import type { CreditNoteLine } from './return-events.ts';
import type { RefundRequest } from './return-input.ts';
import { exchangeSettles } from './return-exchange.ts';
import { restockingFee } from './return-policy.ts';
import { exchangePart } from './return-state.ts';

export interface RefundCommand {
  readonly returnId: string;
  readonly request: RefundRequest;
  /** The caller's channel, when the caller is bound to one; null: any. */
  readonly channel: string | null;
  readonly now: number;
}

/**
 * Refunds what a return brought back and was not refunded yet, as a credit note with its own
 * (client-given) id. Worked out from RECEIVED units only (never the announced or missing ones) at
 * the order's prices, minus the restocking fee of each line's reason; shipping comes back by
 * policy with the note that refunds the order's last unit. The order's refunds together never
 * exceed its payment. Separate from receiving, and idempotent under the credit note id. A return's
 * exchange order is paid from that value first (return-exchange.ts): the note pays back the rest.
 */
export function decideRefund(
  order: Order | null,
  command: RefundCommand,
  context: ReturnContext,
): Decided {
  const { returnId, request, channel, now } = command;
  const r = order?.findReturn(returnId);
  if (order === null || r === undefined) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_RETURN, `unknown return ${returnId}`),
      false,
    );
  }
  if (channel !== null && order.input.channel !== channel) {
    return refuse(
      fail(ErrorCode.FORBIDDEN, Reason.OTHER_CHANNEL, `return ${returnId} is not ${channel}'s`),
      false,
    );
  }
  const creditNoteId = request.creditNoteId;
  if (r.creditNotes.some((c) => c.creditNoteId === creditNoteId)) return DUPLICATE;
  if (r.exchange?.status === 'awaiting_receipt') {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.ORDER_STATE,
        `return ${returnId} awaits the units that pay for its exchange: refund once it is placed or declined`,
      ),
      true,
    );
  }
  let refundedBefore = 0;
  let shippingRefunded = false;
  let unitsRefunded = 0;
  for (const other of order.returns) {
    for (const c of other.creditNotes) {
      if (c.creditNoteId === creditNoteId) {
        return refuse(
          fail(
            ErrorCode.CONFLICT,
            Reason.ID_REUSED,
            `credit note ${creditNoteId} belongs to return ${other.returnId}`,
          ),
          true,
        );
      }
      refundedBefore += c.total + exchangePart(c);
      if (c.shipping > 0) shippingRefunded = true;
    }
    for (const l of other.lines) unitsRefunded += l.refunded;
  }
  const policy = context.returnPolicy;
  const lines: CreditNoteLine[] = [];
  let merchandise = 0;
  let fees = 0;
  for (const l of r.lines) {
    const qty = l.received - l.refunded;
    if (qty <= 0) continue;
    const amount = qty * l.unitPrice;
    const fee = restockingFee(policy, l.reason, amount);
    lines.push({ lineId: l.lineId, qty, amount, fee });
    merchandise += amount;
    fees += fee;
    unitsRefunded += qty;
  }
  if (lines.length === 0) {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.NOT_RETURNABLE,
        `return ${returnId} has no received units left to refund`,
      ),
      true,
    );
  }
  let ordered = 0;
  for (const l of order.lines) ordered += l.qty - l.cancelled;
  const shipping =
    policy.refundShipping === 'when_fully_returned' && !shippingRefunded && unitsRefunded >= ordered
      ? order.input.shippingAmount
      : 0;
  const value = Math.max(
    0,
    Math.min(merchandise - fees + shipping, order.input.payment.amount - refundedBefore),
  );
  // The exchange order is paid with the return's value: only what is left of it is paid back.
  const exchange = exchangeSettles(r, value, context);
  const total = value - exchange;
  const creditNote = {
    creditNoteId,
    returnId,
    at: now,
    currency: order.input.payment.currency,
    lines,
    merchandise,
    fees,
    shipping,
    exchange,
    total,
  };
  const messages: MessageDraft[] = [];
  notifyCustomer(context, messages, order, 'return.refunded', {
    returnId,
    creditNoteId,
    currency: creditNote.currency,
    total,
    exchange,
    lines,
  });
  return recordStep({ kind: 'return_refunded', returnId, creditNote }, messages);
}
