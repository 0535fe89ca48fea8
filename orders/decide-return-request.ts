import { ErrorCode, fail, Reason } from '../engine/index.ts';
import {
  callersOrder,
  DUPLICATE,
  notifyCustomer,
  recordStep,
  refuse,
  type Decided,
  type MessageDraft,
} from './decision.ts';
import { Order } from './order-state.ts';
import type { ReturnContext } from './return-context.ts';
import type { RequestedReturnLine } from './return-events.ts';
import { exchangePlaced, requestedExchange } from './return-exchange.ts';
import { digest, type ReturnRequest } from './return-input.ts';

export interface ReturnRequestCommand {
  readonly orderId: string;
  readonly request: ReturnRequest;
  /** The caller's channel, when the caller is bound to one; null: any. */
  readonly channel: string | null;
  /** The time the request is judged at (the return window). */
  readonly now: number;
}

/**
 * A customer asks to send units back. Only shipped (or delivered) units of the order's lines,
 * never more than were shipped minus what earlier returns already asked for, within the return
 * window after the last shipment, each line with a configured reason. Idempotent under the
 * client's return id: the same request again is a duplicate, another body under it CONFLICT.
 * Replacement lines (an exchange) are checked in return-exchange.ts.
 */
export function decideReturnRequest(
  maybeOrder: Order | null,
  command: ReturnRequestCommand,
  context: ReturnContext,
): Decided {
  const { orderId, request, channel, now } = command;
  const found = callersOrder(maybeOrder, orderId, channel);
  if (!(found instanceof Order)) return found;
  const order = found;
  const fingerprint = digest(request);
  const owner = context.returnOwner(request.returnId);
  const existing = order.findReturn(request.returnId);
  if (existing !== undefined && existing.fingerprint === fingerprint) return DUPLICATE;
  if (existing !== undefined || (owner !== null && owner !== orderId)) {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.ID_REUSED,
        `return ${request.returnId} exists with other content`,
      ),
      false,
    );
  }
  const policy = context.returnPolicy;
  const shippedAt = order.lastShippedAt();
  if (shippedAt === null) {
    return refuse(
      fail(ErrorCode.CONFLICT, Reason.NOT_RETURNABLE, `order ${orderId} has shipped nothing`),
      true,
    );
  }
  if (now > shippedAt + policy.windowMs) {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.RETURN_WINDOW_CLOSED,
        `the return window of order ${orderId} closed at ${new Date(shippedAt + policy.windowMs).toISOString()}`,
      ),
      true,
    );
  }
  const shipped = order.shippedByLine();
  const asked = new Map<string, number>();
  for (const r of order.returns) {
    for (const l of r.lines) asked.set(l.lineId, (asked.get(l.lineId) ?? 0) + l.qty);
  }
  const lines: RequestedReturnLine[] = [];
  for (const w of request.lines) {
    const line = order.lines.find((l) => l.lineId === w.lineId);
    if (line === undefined) {
      return refuse(
        fail(ErrorCode.NOT_FOUND, null, `order ${orderId} has no line ${w.lineId}`),
        true,
      );
    }
    if (!policy.reasons.includes(w.reason)) {
      return refuse(
        fail(
          ErrorCode.BAD_REQUEST,
          null,
          `unknown return reason ${w.reason}; expected one of ${policy.reasons.join(', ')}`,
        ),
        true,
      );
    }
    const left = (shipped.get(line.lineId) ?? 0) - (asked.get(line.lineId) ?? 0);
    if (w.qty > left) {
      return refuse(
        fail(
          ErrorCode.CONFLICT,
          Reason.NOT_RETURNABLE,
          `line ${line.lineId}: ${String(left)} units may be returned (shipped, minus those already returned or requested)`,
        ),
        true,
      );
    }
    asked.set(line.lineId, (asked.get(line.lineId) ?? 0) + w.qty);
    lines.push({
      lineId: line.lineId,
      sku: line.sku,
      qty: w.qty,
      unitPrice: line.unitPrice,
      reason: w.reason,
      comment: w.comment ?? null,
    });
  }
  const exchange = requestedExchange(order, request, lines, context);
  if (exchange !== null && 'ok' in exchange) return exchange;
  const messages: MessageDraft[] = [];
  notifyCustomer(context, messages, order, 'return.requested', {
    returnId: request.returnId,
    lines: lines.map((l) => ({ lineId: l.lineId, sku: l.sku, qty: l.qty, reason: l.reason })),
    ...(exchange === null ? {} : { exchange: { lines: exchange.lines, value: exchange.value } }),
  });
  if (exchange?.status === 'placed') {
    exchangePlaced(context, messages, order, request.returnId, exchange);
  }
  return recordStep(
    {
      kind: 'return_requested',
      returnId: request.returnId,
      fingerprint,
      lines,
      ...(exchange === null ? {} : { exchange }),
    },
    messages,
  );
}
