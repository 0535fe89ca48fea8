import type { Fulfilment } from './fulfilment-machine.ts';
import type { OrderEvent } from './order-events.ts';
import type { OrderInput } from './order-input.ts';
import type { OutboxMessage } from './outbox-dispatcher.ts';
import { exchangePart, type OrderReturn } from './return-state.ts';

/**
 * Financial settlement: what an ERP must hear about an order's money, worked out from the order
 * as it stands and the event about to be recorded. Pure: the order runner drafts the ERP messages
 * with it before the event is journaled (they travel inside the event, so replay reproduces them
 * with the same sequence numbers), and the order's reducer runs it again to move the order's
 * running totals and its reconciliation ledger, live and at replay alike.
 */

/** An event as decided, before the runner stamps it (decision.ts NewEvent, without the cycle). */
type NewEvent = OrderEvent extends infer E
  ? E extends OrderEvent
    ? Omit<E, 'version' | 'at' | 'orderId' | 'messages'>
    : never
  : never;

/** A settlement message as drafted (decision.ts MessageDraft). */
type MessageDraft = Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>;

/** What settlement reads of an order; Order (order-state.ts) is one. */
interface SettledOrder {
  readonly input: OrderInput;
  readonly lines: readonly {
    readonly lineId: string;
    readonly sku: string;
    readonly qty: number;
    readonly unitPrice: number;
    readonly cancelled: number;
  }[];
  readonly settlement: SettlementState;
  fulfilment(id: string): Fulfilment | undefined;
  findReturn(returnId: string): OrderReturn | undefined;
  /** Units shipped per order line (a SKU's shipped units fill its lines in order). */
  shippedByLine(): Map<string, number>;
}

/** The settlement event types an ERP receives (docs/erp.md "Settlement events"). */
type SettlementType =
  | 'order.placed'
  | 'fulfilment.shipped'
  | 'order.cancelled'
  | 'return.received'
  | 'credit_note.issued';

/** An order's money so far, minor units of its payment currency. */
interface SettlementTotals {
  /** The payment authorised at placement. */
  readonly authorised: number;
  /** Shipped units at the order's prices, plus shipping with the first shipment. */
  readonly invoiced: number;
  /** Cancelled units at the order's prices, plus shipping once nothing is left to ship. */
  readonly released: number;
  /** Credit notes issued for returns. */
  readonly credited: number;
}

/**
 * One (UTC day, location)'s units and money from one event:
 * [day, location, shipped, returned, restocked, invoiced, credited].
 */
type LedgerEntry = readonly [string, string, number, number, number, number, number];

/** What an order keeps of its settlement. */
export interface SettlementState {
  /** The sequence number of the last settlement event sent for it (0: none yet). */
  readonly seq: number;
  readonly totals: SettlementTotals;
  /** What its events added to the reconciliation, oldest first. */
  readonly ledger: readonly LedgerEntry[];
}

export const NO_SETTLEMENT: SettlementState = {
  seq: 0,
  totals: { authorised: 0, invoiced: 0, released: 0, credited: 0 },
  ledger: [],
};

/** One line of a settlement event. */
interface SettlementLine {
  readonly lineId: string;
  readonly sku: string;
  readonly qty: number;
  readonly unitPrice: number;
  /** qty x unitPrice (for a credit note: before its fee). */
  readonly amount: number;
}

/** What one event means for the order's money and for the reconciliation. */
interface SettlementStep {
  /** The event an ERP gets, or null (it only moves the ledger, e.g. a held unit restocked). */
  readonly type: SettlementType | null;
  /** Where it happened (shipping or receiving location), or null (placement, cancellation). */
  readonly location: string | null;
  readonly reference: Readonly<Record<string, string | null>>;
  readonly lines: readonly SettlementLine[];
  /** Shipping in `amount` (invoiced, released or refunded). */
  readonly shipping: number;
  /** The money this event moves (for `return.received`: the received units' value, informative). */
  readonly amount: number;
  readonly delta: SettlementTotals;
  readonly shipped: number;
  readonly returned: number;
  readonly restocked: number;
  /** Extra fields of the event's body (a credit note's fees, a receipt's dispositions). */
  readonly extra: Readonly<Record<string, unknown>>;
}

const ZERO = NO_SETTLEMENT.totals;

/** The stream names of settlement messages start with this (`erp:webhook`, `erp:redis`). */
const SETTLEMENT_STREAM_PREFIX = 'erp:';

function isSettlementStream(stream: string): boolean {
  return stream.startsWith(SETTLEMENT_STREAM_PREFIX);
}

/**
 * The settlement messages for an event about to be recorded on `order` (null: it creates the
 * order): one per configured settlement stream, all with the same event id and sequence number.
 */
export function draftSettlement(
  order: SettledOrder | null,
  change: NewEvent,
  at: number,
  streams: readonly string[],
): MessageDraft[] {
  if (streams.length === 0) return [];
  const step = settlementStep(order, change);
  if (step === null || step.type === null) return [];
  const input = change.kind === 'received' ? change.input : order?.input;
  if (input === undefined) return [];
  const before = order?.settlement ?? NO_SETTLEMENT;
  const seq = before.seq + 1;
  const totals = addTotals(before.totals, step.delta);
  const body = {
    eventId: `${input.orderId}:erp:${String(seq)}`,
    type: step.type,
    orderId: input.orderId,
    seq,
    occurredAt: new Date(at).toISOString(),
    channel: input.channel,
    currency: input.payment.currency,
    location: step.location,
    reference: step.reference,
    lines: step.lines,
    shipping: step.shipping,
    amount: step.amount,
    ...step.extra,
    totals: { ...totals, net: totals.invoiced - totals.credited, open: openOf(totals) },
  };
  return streams.map((stream) => ({ stream, type: step.type as SettlementType, body }));
}

/** The settlement after `event` applied to an order whose settlement was `before`. */
export function advanceSettlement(
  before: SettlementState,
  order: SettledOrder | null,
  event: NewEvent & { readonly at: number; readonly messages: readonly { stream: string }[] },
): SettlementState {
  const step = settlementStep(order, event);
  const sent = event.messages.some((m) => isSettlementStream(m.stream));
  if (step === null) return sent ? { ...before, seq: before.seq + 1 } : before;
  const units = step.shipped + step.returned + step.restocked;
  const money = step.delta.invoiced + step.delta.credited;
  const ledger =
    step.location !== null && (units > 0 || money > 0)
      ? [
          ...before.ledger,
          [
            new Date(event.at).toISOString().slice(0, 10),
            step.location,
            step.shipped,
            step.returned,
            step.restocked,
            step.delta.invoiced,
            step.delta.credited,
          ] as const,
        ]
      : before.ledger;
  return {
    seq: sent ? before.seq + 1 : before.seq,
    totals: addTotals(before.totals, step.delta),
    ledger,
  };
}

function addTotals(a: SettlementTotals, b: SettlementTotals): SettlementTotals {
  return {
    authorised: a.authorised + b.authorised,
    invoiced: a.invoiced + b.invoiced,
    released: a.released + b.released,
    credited: a.credited + b.credited,
  };
}

/** Authorised and neither invoiced nor released yet. */
function openOf(t: SettlementTotals): number {
  return t.authorised - t.invoiced - t.released;
}

/** What `change` means for the money of `order` (as it stands before the change). */
function settlementStep(order: SettledOrder | null, change: NewEvent): SettlementStep | null {
  switch (change.kind) {
    case 'received':
      return placedStep(change.input);
    case 'fulfilment':
      return order !== null && change.update === 'shipped' ? shippedStep(order, change) : null;
    case 'cancelled':
      return order === null ? null : cancelledStep(order, change.lines, change.reason);
    case 'failed':
      return order === null
        ? null
        : cancelledStep(
            order,
            order.lines.map((l) => [l.lineId, l.qty - l.cancelled] as const),
            change.message,
          );
    case 'return_received':
      return order === null ? null : receivedStep(order, change);
    case 'return_refunded':
      return order === null ? null : refundedStep(order, change);
    case 'return_hold_resolved':
      return order === null || change.to !== 'restock' ? null : restockedStep(order, change);
    default:
      return null;
  }
}

function step(fields: Partial<SettlementStep> & Pick<SettlementStep, 'type'>): SettlementStep {
  return {
    location: null,
    reference: {},
    lines: [],
    shipping: 0,
    amount: 0,
    delta: ZERO,
    shipped: 0,
    returned: 0,
    restocked: 0,
    extra: {},
    ...fields,
  };
}

function placedStep(input: OrderInput): SettlementStep {
  return step({
    type: 'order.placed',
    reference: {
      payment: input.payment.reference ?? null,
      provider: input.payment.provider ?? null,
    },
    lines: input.lines.map((l) => line(l.lineId, l.sku, l.qty, l.unitPrice)),
    shipping: input.shippingAmount,
    amount: input.payment.amount,
    delta: { ...ZERO, authorised: input.payment.amount },
  });
}

/**
 * A fulfilment shipped: its units are invoiced at the prices of the order lines they fill (a
 * SKU's shipped units fill its lines in order, as Order.shippedByLine counts them), and shipping
 * with the order's first shipment.
 */
function shippedStep(
  order: SettledOrder,
  change: Extract<NewEvent, { kind: 'fulfilment' }>,
): SettlementStep | null {
  const { fulfilmentId, carrier, tracking } = change;
  const x = order.fulfilment(fulfilmentId);
  if (x === undefined) return null;
  const before = order.shippedByLine();
  const firstShipment = [...before.values()].every((n) => n === 0);
  const left = new Map<string, number>();
  for (const l of x.lines) left.set(l.sku, (left.get(l.sku) ?? 0) + l.qty);
  const lines: SettlementLine[] = [];
  let units = 0;
  for (const l of order.lines) {
    const want = left.get(l.sku) ?? 0;
    if (want === 0) continue;
    const room = l.qty - l.cancelled - (before.get(l.lineId) ?? 0);
    const take = Math.min(want, Math.max(0, room));
    if (take === 0) continue;
    left.set(l.sku, want - take);
    lines.push(line(l.lineId, l.sku, take, l.unitPrice));
    units += take;
  }
  const shipping = firstShipment ? order.input.shippingAmount : 0;
  const amount = sum(lines) + shipping;
  return step({
    type: 'fulfilment.shipped',
    location: x.location,
    reference: { fulfilmentId, carrier, tracking },
    lines,
    shipping,
    amount,
    delta: { ...ZERO, invoiced: amount },
    shipped: units,
  });
}

/** Units cancelled are released at their prices; shipping too once every unit is cancelled. */
function cancelledStep(
  order: SettledOrder,
  cancelled: readonly (readonly [string, number])[],
  reason: string,
): SettlementStep | null {
  const byLine = new Map(cancelled);
  const lines: SettlementLine[] = [];
  let all = true;
  for (const l of order.lines) {
    const n = byLine.get(l.lineId) ?? 0;
    if (n > 0) lines.push(line(l.lineId, l.sku, n, l.unitPrice));
    if (l.cancelled + n < l.qty) all = false;
  }
  if (lines.length === 0) return null;
  const shipping = all ? order.input.shippingAmount : 0;
  const amount = sum(lines) + shipping;
  return step({
    type: 'order.cancelled',
    reference: { reason },
    lines,
    shipping,
    amount,
    delta: { ...ZERO, released: amount },
    extra: { whole: all },
  });
}

function receivedStep(
  order: SettledOrder,
  change: Extract<NewEvent, { kind: 'return_received' }>,
): SettlementStep | null {
  const r = order.findReturn(change.returnId);
  if (r === undefined) return null;
  const lines: SettlementLine[] = [];
  const dispositions: Record<string, unknown>[] = [];
  let returned = 0;
  let restocked = 0;
  for (const c of change.lines) {
    const l = r.lines.find((x) => x.lineId === c.lineId);
    if (l === undefined) continue;
    const received = c.restock + c.writeOff + c.returnToVendor + c.refurbish;
    returned += received;
    restocked += c.restock;
    if (received > 0) lines.push(line(l.lineId, l.sku, received, l.unitPrice));
    dispositions.push({
      lineId: c.lineId,
      restock: c.restock,
      writeOff: c.writeOff,
      returnToVendor: c.returnToVendor,
      refurbish: c.refurbish,
      missing: c.missing,
    });
  }
  return step({
    type: 'return.received',
    location: change.location,
    reference: { returnId: change.returnId, receiptId: change.receiptId },
    lines,
    amount: sum(lines),
    returned,
    restocked,
    extra: { dispositions },
  });
}

function refundedStep(
  order: SettledOrder,
  change: Extract<NewEvent, { kind: 'return_refunded' }>,
): SettlementStep {
  const note = change.creditNote;
  const r = order.findReturn(change.returnId);
  const lines = note.lines.map((c) => {
    const l = r?.lines.find((x) => x.lineId === c.lineId);
    return {
      lineId: c.lineId,
      sku: l?.sku ?? '',
      qty: c.qty,
      unitPrice: l?.unitPrice ?? 0,
      amount: c.amount,
    };
  });
  return step({
    type: 'credit_note.issued',
    location: r?.location ?? null,
    reference: { creditNoteId: note.creditNoteId, returnId: change.returnId },
    lines,
    shipping: note.shipping,
    // The whole credit: what is paid back plus what the return's exchange order takes instead
    // (that order is invoiced on its own, so crediting only the payback here would charge the
    // replacement twice in the ERP's books).
    amount: note.total + exchangePart(note),
    delta: { ...ZERO, credited: note.total + exchangePart(note) },
    extra: {
      merchandise: note.merchandise,
      fees: note.fees,
      refunded: note.total,
      exchange: exchangePart(note),
      exchangeOrderId: r?.exchange?.status === 'placed' ? r.exchange.orderId : null,
    },
  });
}

/** A unit held apart for refurbishing went back to stock: the reconciliation's restocked units. */
function restockedStep(
  order: SettledOrder,
  change: Extract<NewEvent, { kind: 'return_hold_resolved' }>,
): SettlementStep | null {
  const r = order.findReturn(change.returnId);
  if (r?.location == null) return null;
  return step({ type: null, location: r.location, restocked: change.qty });
}

function line(lineId: string, sku: string, qty: number, unitPrice: number): SettlementLine {
  return { lineId, sku, qty, unitPrice, amount: qty * unitPrice };
}

function sum(lines: readonly SettlementLine[]): number {
  let n = 0;
  for (const l of lines) n += l.amount;
  return n;
}
