import { ErrorCode, fail, Reason, type ErrorResult } from '../engine/index.ts';
import {
  callersOrder,
  DUPLICATE,
  locationStream,
  notifyCustomer,
  refuse,
  type DecideContext,
  type Decided,
  type MessageDraft,
} from './decision.ts';
import { isActive } from './fulfilment-machine.ts';
import { Order } from './order-state.ts';

export interface CancelRequest {
  /** Lines to cancel (all open units of each, or `qty`); omitted: the whole order. */
  readonly lines?:
    readonly { readonly lineId: string; readonly qty?: number | undefined }[] | undefined;
  readonly reason?: string | undefined;
}

export interface CancelCommand {
  readonly orderId: string;
  readonly request: CancelRequest;
  /** The caller's channel, when the caller is bound to one; null: any. */
  readonly channel: string | null;
}

/**
 * Cancelling an order or some of its lines, before shipment. The units taken off come off the
 * fulfilments that hold them (their locations are told); a cancel with nothing left to take
 * off is a duplicate when everything is cancelled already, CONFLICT otherwise.
 */
export function decideCancel(
  maybeOrder: Order | null,
  command: CancelCommand,
  context: DecideContext,
): Decided {
  const { orderId, request, channel } = command;
  const found = callersOrder(maybeOrder, orderId, channel);
  if (!(found instanceof Order)) return found;
  const order = found;
  const plan = cancellation(order, request);
  if (!('lines' in plan)) return refuse(plan, true);
  if (plan.lines.length === 0) {
    if (order.lines.some((l) => l.cancelled < l.qty)) {
      return refuse(
        fail(
          ErrorCode.CONFLICT,
          Reason.ORDER_STATE,
          `order ${orderId} has nothing left to cancel before shipment`,
        ),
        true,
      );
    }
    return DUPLICATE;
  }
  const reason = request.reason ?? 'cancelled by the customer';
  const whole = request.lines === undefined;
  const messages: MessageDraft[] = [];
  const reducedBy = new Map<string, number>();
  for (const [id, , qty] of plan.reduce) reducedBy.set(id, (reducedBy.get(id) ?? 0) + qty);
  for (const [id] of reducedBy) {
    const x = order.fulfilment(id);
    if (x === undefined) continue;
    messages.push({
      stream: locationStream(x.location),
      type: 'fulfilment.cancelled',
      body: {
        fulfilmentId: id,
        orderId,
        location: x.location,
        lines: plan.reduce.filter((r) => r[0] === id).map(([, sku, qty]) => ({ sku, qty })),
        reason,
      },
    });
  }
  notifyCustomer(context, messages, order, 'order.cancelled', {
    whole,
    lines: plan.lines.map(([lineId, qty]) => ({ lineId, qty })),
    reason,
  });
  return {
    ok: true,
    duplicate: false,
    stock: [],
    event: { kind: 'cancelled', lines: plan.lines, reduce: plan.reduce, reason },
    messages,
    reconcile: 'always',
    resourcing: false,
    count: 'cancelled',
  };
}

/** What a cancel request takes off each line and each fulfilment, or why it cannot. */
function cancellation(
  order: Order,
  request: CancelRequest,
): { lines: [string, number][]; reduce: [string, string, number][] } | ErrorResult {
  // Units of a SKU that can still be cancelled: ordered, not yet shipped.
  const shipped = new Map<string, number>();
  for (const x of order.fulfilments) {
    if (x.status !== 'shipped' && x.status !== 'delivered') continue;
    for (const l of x.lines) shipped.set(l.sku, (shipped.get(l.sku) ?? 0) + l.qty);
  }
  const open = new Map<string, number>();
  for (const l of order.lines) open.set(l.sku, (open.get(l.sku) ?? 0) + l.qty - l.cancelled);
  for (const [sku, qty] of shipped) open.set(sku, (open.get(sku) ?? 0) - qty);
  const wanted = request.lines ?? order.lines.map((l) => ({ lineId: l.lineId, qty: undefined }));
  const lines: [string, number][] = [];
  const cut = new Map<string, number>();
  for (const w of wanted) {
    const line = order.lines.find((l) => l.lineId === w.lineId);
    if (line === undefined)
      return fail(ErrorCode.NOT_FOUND, null, `order ${order.orderId} has no line ${w.lineId}`);
    const lineOpen = Math.min(line.qty - line.cancelled, open.get(line.sku) ?? 0);
    const qty = w.qty ?? lineOpen;
    if (w.qty !== undefined && (!Number.isSafeInteger(w.qty) || w.qty < 1)) {
      return fail(
        ErrorCode.BAD_REQUEST,
        Reason.INVALID_QUANTITY,
        `qty must be a whole number >= 1`,
      );
    }
    if (qty > lineOpen) {
      return fail(
        ErrorCode.CONFLICT,
        Reason.ORDER_STATE,
        `line ${w.lineId} has ${lineOpen} units left to cancel (shipped units cannot be cancelled)`,
      );
    }
    if (qty === 0) continue;
    lines.push([line.lineId, qty]);
    open.set(line.sku, (open.get(line.sku) ?? 0) - qty);
    cut.set(line.sku, (cut.get(line.sku) ?? 0) + qty);
  }
  // Fulfilments that now hold more than is ordered give the difference back, the least
  // advanced and newest first (a request the location has not touched is the cheapest to undo).
  const ordered = new Map<string, number>();
  for (const l of order.lines) ordered.set(l.sku, (ordered.get(l.sku) ?? 0) + l.qty - l.cancelled);
  for (const [sku, qty] of cut) ordered.set(sku, (ordered.get(sku) ?? 0) - qty);
  const reduce: [string, string, number][] = [];
  const rank = { requested: 0, accepted: 1, picked: 2 } as Record<string, number>;
  const active = order.fulfilments
    .filter((x) => isActive(x.status))
    .sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || b.requestedAt - a.requestedAt);
  for (const [sku] of cut) {
    let counted = shipped.get(sku) ?? 0;
    for (const x of active) for (const l of x.lines) if (l.sku === sku) counted += l.qty;
    let excess = counted - (ordered.get(sku) ?? 0);
    for (const x of active) {
      if (excess <= 0) break;
      const l = x.lines.find((y) => y.sku === sku);
      if (l === undefined) continue;
      const take = Math.min(excess, l.qty);
      reduce.push([x.fulfilmentId, sku, take]);
      excess -= take;
    }
  }
  return { lines, reduce };
}
