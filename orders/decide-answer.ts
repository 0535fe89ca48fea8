import { ErrorCode, fail, Reason, type Command } from '../engine/index.ts';
import {
  DUPLICATE,
  notifyCustomer,
  refuse,
  type DecideContext,
  type Decided,
  type MessageDraft,
} from './decision.ts';
import { isActive, transitionOf, type Fulfilment } from './fulfilment-machine.ts';
import type { FulfilmentUpdate } from './order-events.ts';
import type { Order } from './order-state.ts';

export interface FulfilmentAnswer {
  readonly type: FulfilmentUpdate;
  /** short_picked: the units actually picked per SKU (missing SKUs: none picked). */
  readonly picked?: readonly { readonly sku: string; readonly qty: number }[] | undefined;
  readonly carrier?: string | undefined;
  readonly tracking?: string | undefined;
  readonly reason?: string | undefined;
}

export interface AnswerCommand {
  readonly fulfilmentId: string;
  readonly answer: FulfilmentAnswer;
  /** The caller's location, when the caller is bound to one; null: any. */
  readonly location: string | null;
}

/**
 * A location's answer about one of its fulfilments. Whether it applies is the fulfilment state
 * machine's guard (fulfilment-machine.ts): a repeat of an answer applied is a duplicate, an
 * answer that no longer fits (the fulfilment was re-sourced) is CONFLICT. Stock moves first, with
 * ids derived from the fulfilment (a retried answer repeats nothing): a shipment ships its lines,
 * a short pick gives back and writes off what was not found.
 */
export function decideAnswer(
  order: Order | null,
  command: AnswerCommand,
  context: DecideContext,
): Decided {
  const { fulfilmentId, answer, location } = command;
  const x = order?.fulfilment(fulfilmentId);
  if (order === null || x === undefined) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_FULFILMENT, `unknown fulfilment ${fulfilmentId}`),
      false,
    );
  }
  if (location !== null && x.location !== location) {
    return refuse(
      fail(
        ErrorCode.FORBIDDEN,
        Reason.OTHER_LOCATION,
        `fulfilment ${fulfilmentId} is not ${location}'s`,
      ),
      false,
    );
  }
  const verdict =
    answer.type === 'timed_out'
      ? { refuse: 'timed_out is decided by the order service, not sent' }
      : transitionOf(x, answer.type).guard(x, answer.tracking ?? null);
  if (verdict === 'duplicate') return DUPLICATE;
  if (verdict !== 'apply') {
    return refuse(fail(ErrorCode.CONFLICT, Reason.ORDER_STATE, verdict.refuse), true);
  }
  const picked =
    answer.type === 'short_picked'
      ? new Map((answer.picked ?? []).map((p) => [p.sku, p.qty]))
      : null;
  if (picked !== null) {
    for (const [sku, qty] of picked) {
      const line = x.lines.find((l) => l.sku === sku);
      if (line === undefined || !Number.isSafeInteger(qty) || qty < 0 || qty > line.qty) {
        return refuse(
          fail(
            ErrorCode.BAD_REQUEST,
            Reason.INVALID_QUANTITY,
            `picked ${sku}: expected 0..${line?.qty ?? 0}`,
          ),
          true,
        );
      }
    }
  }
  return {
    ok: true,
    duplicate: false,
    stock: stockOf(order.orderId, x, answer.type, picked),
    event: {
      kind: 'fulfilment',
      fulfilmentId,
      update: answer.type,
      picked: picked === null ? null : [...picked],
      carrier: answer.carrier ?? null,
      tracking: answer.tracking ?? null,
      reason: answer.reason ?? null,
    },
    messages: messagesOf(context, order, x, answer),
    reconcile: 'ifPending',
    resourcing: true,
    count: 'fulfilmentAnswers',
  };
}

function stockOf(
  orderId: string,
  x: Fulfilment,
  type: FulfilmentUpdate,
  picked: ReadonlyMap<string, number> | null,
): Command[] {
  const { fulfilmentId, location } = x;
  if (type === 'shipped') {
    return x.lines.map((l) => ({
      op: 'ship',
      shipmentId: `${fulfilmentId}:ship:${l.sku}`,
      orderId,
      sku: l.sku,
      location,
      qty: l.qty,
    }));
  }
  const out: Command[] = [];
  if (picked === null) return out;
  for (const l of x.lines) {
    const short = l.qty - (picked.get(l.sku) ?? 0);
    if (short <= 0) continue;
    // Ids are scoped per SKU across ops, so the two differ.
    const id = `${fulfilmentId}:short:${l.sku}`;
    out.push(
      {
        op: 'deallocate',
        requestId: `${id}:free`,
        orderId,
        sku: l.sku,
        location,
        qty: short,
      },
      { op: 'adjust', adjustmentId: `${id}:count`, sku: l.sku, location, delta: -short },
    );
  }
  return out;
}

function messagesOf(
  context: DecideContext,
  order: Order,
  x: Fulfilment,
  answer: FulfilmentAnswer,
): MessageDraft[] {
  const out: MessageDraft[] = [];
  const pickup = order.input.delivery.type === 'pickup';
  switch (answer.type) {
    case 'picked':
      if (pickup)
        notifyCustomer(context, out, order, 'order.ready_for_pickup', {
          fulfilmentId: x.fulfilmentId,
          location: x.location,
        });
      break;
    case 'shipped': {
      const others = order.fulfilments.filter((y) => y !== x && isActive(y.status)).length;
      notifyCustomer(
        context,
        out,
        order,
        others > 0 || order.backorderedUnits() > 0 ? 'order.partially_shipped' : 'order.shipped',
        {
          fulfilmentId: x.fulfilmentId,
          carrier: answer.carrier ?? null,
          tracking: answer.tracking ?? null,
          lines: x.lines,
        },
      );
      break;
    }
    case 'delivered': {
      const rest = order.fulfilments.some(
        (y) =>
          y !== x && y.status !== 'delivered' && (isActive(y.status) || y.status === 'shipped'),
      );
      notifyCustomer(context, out, order, rest ? 'order.partially_delivered' : 'order.delivered', {
        fulfilmentId: x.fulfilmentId,
      });
      break;
    }
    case 'problem':
      notifyCustomer(context, out, order, 'order.delivery_problem', {
        fulfilmentId: x.fulfilmentId,
        reason: answer.reason ?? null,
        carrier: x.carrier,
        tracking: x.tracking,
      });
      break;
    default:
      break;
  }
  return out;
}
