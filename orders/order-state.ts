import {
  ACTIVE,
  COUNTED,
  FULFILMENT_TRANSITIONS,
  type Fulfilment,
  type FulfilmentStatus,
} from './fulfilment-machine.ts';
import type { OrderEvent, PlannedFulfilment } from './order-events.ts';
import type { DeliveryInput, ExchangeLink, OrderInput } from './order-input.ts';
import type { OutboxMessage } from './outbox-dispatcher.ts';
import {
  applyReturn,
  returnSettled,
  returnView,
  type OrderReturn,
  type ReturnView,
} from './return-state.ts';
import { advanceSettlement, NO_SETTLEMENT, type SettlementState } from './settlement.ts';
import type { SourcingExplanation } from './sourcing.ts';

/** Every status an order can be in (the metrics report each, zero or not). */
export const ORDER_STATUSES = [
  'received',
  'fulfilment_requested',
  'accepted',
  'picked',
  'partially_shipped',
  'shipped',
  'partially_delivered',
  'delivered',
  'backordered',
  'cancelled',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrderLine {
  readonly lineId: string;
  readonly sku: string;
  readonly qty: number;
  readonly unitPrice: number;
  readonly reservationId: string | null;
  readonly cancelled: number;
}

/** A fulfilment as the API shows it: times as ISO 8601 strings, like every time in a view. */
export interface FulfilmentView extends Omit<Fulfilment, 'requestedAt' | 'dueBy' | 'updatedAt'> {
  readonly requestedAt: string;
  readonly dueBy: string;
  readonly updatedAt: string;
}

export interface HistoryEntry {
  readonly at: number;
  readonly event: string;
  readonly status: OrderStatus;
  readonly detail: string;
}

/** One sourcing decision, as an order keeps it (the explanation as JSON text). */
interface SourcingRecord {
  readonly attempt: number;
  readonly at: number;
  readonly explanation: string | null;
}

export interface SourcingRecordView {
  readonly attempt: number;
  readonly at: string;
  readonly explanation: SourcingExplanation | null;
}

/** What GET /v1/orders/:id returns. */
export interface OrderView {
  readonly orderId: string;
  readonly channel: string;
  readonly status: OrderStatus;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly customer: OrderInput['customer'];
  readonly delivery: DeliveryInput;
  readonly payment: OrderInput['payment'];
  readonly shippingAmount: number;
  readonly lines: readonly OrderLine[];
  readonly backordered: readonly { readonly sku: string; readonly qty: number }[];
  readonly fulfilments: readonly FulfilmentView[];
  readonly history: readonly (Omit<HistoryEntry, 'at'> & { readonly at: string })[];
  readonly sourcing: readonly SourcingRecordView[];
  readonly cancelReason: string | null;
  /** Outbound messages not yet acknowledged by their receiver. */
  readonly pendingMessages: number;
  readonly deadLetters: readonly { readonly messageId: string; readonly error: string }[];
  /** Returns (RMA) of shipped units, oldest first (docs/returns.md). */
  readonly returns: readonly ReturnView[];
  /** An exchange order's return (docs/returns.md "Exchanges"); null for any other order. */
  readonly exchangeFor: ExchangeLink | null;
}

/** An order as a snapshot keeps it. */
export interface OrderSnapshot {
  readonly kind: 'order';
  readonly orderId: string;
  readonly lsn: number;
  readonly state: OrderFields;
}

/** Every field of an order; all plain data. */
interface OrderFields {
  input: OrderInput;
  idempotencyKey: string | null;
  fingerprint: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  lines: readonly OrderLine[];
  fulfilments: readonly Fulfilment[];
  backordered: readonly (readonly [string, number])[];
  excluded: readonly (readonly [string, string])[];
  history: readonly HistoryEntry[];
  sourcing: readonly SourcingRecord[];
  outbox: readonly OutboxMessage[];
  deadLetters: readonly (readonly [string, string])[];
  messageCount: number;
  /** Sourcing or reconciliation is due (a crash in between resumes it). */
  pending: boolean;
  /** Placement failed or everything was cancelled. */
  cancelReason: string | null;
  status: OrderStatus;
  completedAt: number | null;
  returns: readonly OrderReturn[];
  /** Settlement events sent, running totals and the reconciliation ledger (settlement.ts). */
  settlement: SettlementState;
}

/**
 * One order's state. Changed only by `apply(event)`, in the order's own mailbox turn; every field
 * is replaced, never mutated in place, so `checkpoint` is a shallow copy and a failed journal
 * write restores it in O(fields).
 */
export class Order {
  readonly orderId: string;
  /** Journal sequence of the last event applied (replay skips what is at or below). */
  lsn = 0;
  private f: OrderFields;

  constructor(orderId: string, fields: OrderFields) {
    this.orderId = orderId;
    this.f = fields;
  }

  static received(event: Extract<OrderEvent, { kind: 'received' }>): Order {
    const input = event.input;
    const order = new Order(input.orderId, {
      input,
      idempotencyKey: event.idempotencyKey,
      fingerprint: event.fingerprint,
      version: 0,
      createdAt: event.at,
      updatedAt: event.at,
      lines: input.lines.map((l) => ({ ...l, cancelled: 0 })),
      fulfilments: [],
      backordered: [],
      excluded: [],
      history: [],
      sourcing: [],
      outbox: [],
      deadLetters: [],
      messageCount: 0,
      pending: true,
      cancelReason: null,
      status: 'received',
      completedAt: null,
      returns: [],
      settlement: NO_SETTLEMENT,
    });
    order.apply(event);
    return order;
  }

  static fromSnapshot(item: OrderSnapshot): Order {
    // Snapshots written before returns (or settlement) existed have no `returns` (`settlement`).
    const old = item.state as Partial<OrderFields>;
    const returns = old.returns ?? [];
    const settlement = old.settlement ?? NO_SETTLEMENT;
    const order = new Order(item.orderId, { ...item.state, returns, settlement });
    order.lsn = item.lsn;
    return order;
  }

  snapshot(): OrderSnapshot {
    return { kind: 'order', orderId: this.orderId, lsn: this.lsn, state: this.f };
  }

  checkpoint(): { readonly fields: OrderFields; readonly lsn: number } {
    return { fields: { ...this.f }, lsn: this.lsn };
  }

  /**
   * Takes the order back to a checkpoint (its event's write failed). Acknowledgements recorded
   * since stay (they are journaled on their own): the outbox is the checkpoint's minus what is no
   * longer in it now.
   */
  restore(checkpoint: { readonly fields: OrderFields; readonly lsn: number }): void {
    const now = new Set(this.f.outbox.map((m) => m.messageId));
    this.f = {
      ...checkpoint.fields,
      outbox: checkpoint.fields.outbox.filter((m) => now.has(m.messageId)),
      deadLetters: this.f.deadLetters,
    };
    this.lsn = checkpoint.lsn;
  }

  /** Drops acknowledged and given-up messages from the outbox. */
  acknowledge(
    delivered: readonly string[],
    deadLettered: readonly (readonly [string, string])[],
  ): void {
    const f = this.f;
    const done = new Set(delivered);
    for (const [id] of deadLettered) done.add(id);
    f.outbox = f.outbox.filter((m) => !done.has(m.messageId));
    if (deadLettered.length > 0) f.deadLetters = [...f.deadLetters, ...deadLettered];
  }

  /** Undoes `acknowledge` (its journal write failed): the messages go back in the outbox. */
  unacknowledge(messages: readonly OutboxMessage[], deadLetterCount: number): void {
    const f = this.f;
    const present = new Set(f.outbox.map((m) => m.messageId));
    f.outbox = [...messages.filter((m) => !present.has(m.messageId)), ...f.outbox].sort(
      (a, b) => messageNumber(a.messageId) - messageNumber(b.messageId),
    );
    if (deadLetterCount > 0) f.deadLetters = f.deadLetters.slice(0, -deadLetterCount);
  }

  // ---- reads ------------------------------------------------------------------------------

  get input(): OrderInput {
    return this.f.input;
  }
  get version(): number {
    return this.f.version;
  }
  get status(): OrderStatus {
    return this.f.status;
  }
  get fingerprint(): string {
    return this.f.fingerprint;
  }
  get idempotencyKey(): string | null {
    return this.f.idempotencyKey;
  }
  get pending(): boolean {
    return this.f.pending;
  }
  get fulfilments(): readonly Fulfilment[] {
    return this.f.fulfilments;
  }
  get lines(): readonly OrderLine[] {
    return this.f.lines;
  }
  get outbox(): readonly OutboxMessage[] {
    return this.f.outbox;
  }
  get messageCount(): number {
    return this.f.messageCount;
  }
  get completedAt(): number | null {
    return this.f.completedAt;
  }
  get cancelReason(): string | null {
    return this.f.cancelReason;
  }
  get attempts(): number {
    return this.f.sourcing.length;
  }

  /** Placement could not be sourced under the split policy (the order was cancelled at once). */
  get failedPlacement(): boolean {
    return this.f.history.some((h) => h.event === 'order.failed');
  }

  get terminal(): boolean {
    return this.f.status === 'delivered' || this.f.status === 'cancelled';
  }

  get returns(): readonly OrderReturn[] {
    return this.f.returns;
  }

  get settlement(): SettlementState {
    return this.f.settlement;
  }

  findReturn(returnId: string): OrderReturn | undefined {
    return this.f.returns.find((r) => r.returnId === returnId);
  }

  /** Units shipped (or delivered) per order line: a SKU's shipped units fill its lines in order. */
  shippedByLine(): Map<string, number> {
    const shipped = new Map<string, number>();
    for (const x of this.f.fulfilments) {
      if (x.status !== 'shipped' && x.status !== 'delivered') continue;
      for (const l of x.lines) shipped.set(l.sku, (shipped.get(l.sku) ?? 0) + l.qty);
    }
    const out = new Map<string, number>();
    for (const l of this.f.lines) {
      const left = shipped.get(l.sku) ?? 0;
      const take = Math.min(left, l.qty - l.cancelled);
      out.set(l.lineId, take);
      shipped.set(l.sku, left - take);
    }
    return out;
  }

  /** When the last fulfilment shipped or was delivered (the return window runs from it), or null. */
  lastShippedAt(): number | null {
    let last: number | null = null;
    for (const x of this.f.fulfilments) {
      if (x.status !== 'shipped' && x.status !== 'delivered') continue;
      if (last === null || x.updatedAt > last) last = x.updatedAt;
    }
    return last;
  }

  /**
   * Whether retention must keep the order: a return of it is still open (units awaited, held
   * apart or not refunded), or its return window has not passed.
   */
  keepForReturns(now: number, windowMs: number): boolean {
    if (!this.f.returns.every(returnSettled)) return true;
    const shipped = this.lastShippedAt();
    return shipped !== null && now <= shipped + windowMs;
  }

  fulfilment(id: string): Fulfilment | undefined {
    return this.f.fulfilments.find((x) => x.fulfilmentId === id);
  }

  /** Locations this order may not be sourced from again, with why. */
  excluded(): Map<string, string> {
    return new Map(this.f.excluded);
  }

  /** [sku, qty] still to be sourced. */
  get backordered(): readonly (readonly [string, number])[] {
    return this.f.backordered;
  }

  backorderedUnits(): number {
    let n = 0;
    for (const [, qty] of this.f.backordered) n += qty;
    return n;
  }

  /** Units per SKU still ordered and not covered by a fulfilment that holds or shipped them. */
  need(): Map<string, number> {
    const need = new Map<string, number>();
    for (const l of this.f.lines) need.set(l.sku, (need.get(l.sku) ?? 0) + l.qty - l.cancelled);
    for (const x of this.f.fulfilments) {
      if (!COUNTED.has(x.status)) continue;
      for (const l of x.lines) need.set(l.sku, (need.get(l.sku) ?? 0) - l.qty);
    }
    for (const [sku, qty] of need) if (qty <= 0) need.delete(sku);
    return need;
  }

  /** What active fulfilments hold, per SKU and location (what the engine should hold for it). */
  committed(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const x of this.f.fulfilments) {
      if (!ACTIVE.has(x.status)) continue;
      for (const l of x.lines) {
        let at = out.get(l.sku);
        if (at === undefined) {
          at = new Map<string, number>();
          out.set(l.sku, at);
        }
        at.set(x.location, (at.get(x.location) ?? 0) + l.qty);
      }
    }
    return out;
  }

  /** Locations with an active or shipped fulfilment: using them again adds no shipment. */
  inUse(): string[] {
    const out = new Set<string>();
    for (const x of this.f.fulfilments) if (COUNTED.has(x.status)) out.add(x.location);
    return [...out];
  }

  skus(): string[] {
    return [...new Set(this.f.lines.map((l) => l.sku))];
  }

  view(): OrderView {
    const f = this.f;
    return {
      orderId: this.orderId,
      channel: f.input.channel,
      status: f.status,
      version: f.version,
      createdAt: iso(f.createdAt),
      updatedAt: iso(f.updatedAt),
      customer: f.input.customer,
      delivery: f.input.delivery,
      payment: f.input.payment,
      shippingAmount: f.input.shippingAmount,
      lines: f.lines,
      backordered: f.backordered.map(([sku, qty]) => ({ sku, qty })),
      fulfilments: f.fulfilments.map((x) => ({
        ...x,
        requestedAt: iso(x.requestedAt),
        dueBy: iso(x.dueBy),
        updatedAt: iso(x.updatedAt),
      })),
      history: f.history.map((h) => ({ ...h, at: iso(h.at) })),
      sourcing: f.sourcing.map((r) => ({
        attempt: r.attempt,
        at: iso(r.at),
        explanation:
          r.explanation === null ? null : (JSON.parse(r.explanation) as SourcingExplanation),
      })),
      cancelReason: f.cancelReason,
      pendingMessages: f.outbox.length,
      deadLetters: f.deadLetters.map(([messageId, error]) => ({ messageId, error })),
      returns: f.returns.map(returnView),
      exchangeFor: f.input.exchangeFor ?? null,
    };
  }

  // ---- the reducer ----------------------------------------------------------------------------

  /** Applies one event (live, or at replay). The caller checked `event.version`. */
  apply(event: OrderEvent): void {
    const f = this.f;
    // Worked out from the order as it was before the event, as when its messages were drafted.
    f.settlement = advanceSettlement(f.settlement, this, event);
    f.version = event.version;
    f.updatedAt = event.at;
    if (event.messages.length > 0) {
      f.outbox = [...f.outbox, ...event.messages];
      f.messageCount += event.messages.length;
    }
    let detail: string;
    switch (event.kind) {
      case 'received':
        detail = `${event.input.lines.length} lines, ${event.input.delivery.type}`;
        break;
      case 'sourced':
        f.fulfilments = [...f.fulfilments, ...event.fulfilments.map((p) => planned(p, event))];
        f.backordered = event.backordered;
        f.sourcing = [
          ...f.sourcing,
          { attempt: event.attempt, at: event.at, explanation: event.explanation },
        ];
        f.pending = false;
        detail =
          event.fulfilments.map((p) => `${p.fulfilmentId} at ${p.location}`).join(', ') +
          (event.backordered.length > 0 ? `; backordered ${unitsOf(event.backordered)} units` : '');
        if (detail === '') detail = 'nothing new to source';
        break;
      case 'failed':
        f.sourcing = [
          ...f.sourcing,
          { attempt: f.sourcing.length + 1, at: event.at, explanation: event.explanation },
        ];
        f.cancelReason = `${event.code}: ${event.message}`;
        f.lines = f.lines.map((l) => ({ ...l, cancelled: l.qty }));
        f.backordered = [];
        f.pending = false;
        detail = event.message;
        break;
      case 'fulfilment':
        detail = this.applyFulfilment(event);
        break;
      case 'cancelled': {
        const byLine = new Map(event.lines);
        f.lines = f.lines.map((l) => {
          const n = byLine.get(l.lineId);
          return n === undefined ? l : { ...l, cancelled: l.cancelled + n };
        });
        for (const [id, sku, qty] of event.reduce)
          this.reduceFulfilment(id, sku, qty, event.at, event.reason);
        f.backordered = [];
        f.pending = true;
        if (f.lines.every((l) => l.cancelled === l.qty)) f.cancelReason = event.reason;
        detail = `${unitsOf(event.lines)} units: ${event.reason}`;
        break;
      }
      case 'purged':
        return;
      case 'return_requested':
      case 'return_received':
      case 'return_refunded':
      case 'return_hold_resolved': {
        const next = applyReturn(f.returns, event, event.at);
        f.returns = next.returns;
        detail = next.detail;
        break;
      }
    }
    f.status = this.derive();
    if ((f.status === 'delivered' || f.status === 'cancelled') && f.completedAt === null) {
      f.completedAt = event.at;
    }
    f.history = [...f.history, { at: event.at, event: eventName(event), status: f.status, detail }];
  }

  private applyFulfilment(event: Extract<OrderEvent, { kind: 'fulfilment' }>): string {
    const f = this.f;
    const x = this.fulfilment(event.fulfilmentId);
    if (x === undefined) return `unknown fulfilment ${event.fulfilmentId}`;
    // The update was recorded only where the table's guard let it apply, so the cell has an effect.
    const effect = FULFILMENT_TRANSITIONS[x.status][event.update].effect;
    if (effect !== null) {
      const { next, exclude } = effect(x, event);
      if (exclude !== null) {
        f.excluded = [...f.excluded, [x.location, exclude]];
        f.pending = true;
      }
      f.fulfilments = f.fulfilments.map((y) => (y === x ? next : y));
    }
    return `${x.fulfilmentId} at ${x.location}${event.reason === null ? '' : `: ${event.reason}`}`;
  }

  private reduceFulfilment(id: string, sku: string, qty: number, at: number, reason: string): void {
    const f = this.f;
    f.fulfilments = f.fulfilments.map((x) => {
      if (x.fulfilmentId !== id) return x;
      const lines = x.lines
        .map((l) => (l.sku === sku ? { sku, qty: l.qty - qty } : l))
        .filter((l) => l.qty > 0);
      return lines.length === 0
        ? { ...x, lines: x.lines, status: 'cancelled' as const, updatedAt: at, reason }
        : { ...x, lines, updatedAt: at };
    });
  }

  /** The order's status from its fulfilments: the least advanced part decides. */
  private derive(): OrderStatus {
    const f = this.f;
    if (f.cancelReason !== null) return 'cancelled';
    const counted = f.fulfilments.filter((x) => COUNTED.has(x.status));
    const backordered = f.backordered.length > 0;
    if (counted.length === 0)
      return backordered ? 'backordered' : f.sourcing.length === 0 ? 'received' : 'cancelled';
    const all = (s: ReadonlySet<FulfilmentStatus>): boolean =>
      !backordered && counted.every((x) => s.has(x.status));
    const some = (s: ReadonlySet<FulfilmentStatus>): boolean =>
      counted.some((x) => s.has(x.status));
    if (all(DELIVERED)) return 'delivered';
    if (some(DELIVERED)) return 'partially_delivered';
    if (all(SHIPPED)) return 'shipped';
    if (some(SHIPPED)) return 'partially_shipped';
    if (backordered) return 'backordered';
    if (all(PICKED)) return 'picked';
    if (all(ACCEPTED)) return 'accepted';
    return 'fulfilment_requested';
  }
}

const DELIVERED: ReadonlySet<FulfilmentStatus> = new Set(['delivered']);
const SHIPPED: ReadonlySet<FulfilmentStatus> = new Set(['shipped', 'delivered']);
const PICKED: ReadonlySet<FulfilmentStatus> = new Set(['picked', 'shipped', 'delivered']);
const ACCEPTED: ReadonlySet<FulfilmentStatus> = new Set([
  'accepted',
  'picked',
  'shipped',
  'delivered',
]);

function planned(
  p: PlannedFulfilment,
  event: Extract<OrderEvent, { kind: 'sourced' }>,
): Fulfilment {
  return {
    fulfilmentId: p.fulfilmentId,
    location: p.location,
    lines: p.lines.map(([sku, qty]) => ({ sku, qty })),
    status: 'requested',
    attempt: event.attempt,
    requestedAt: event.at,
    dueBy: p.dueBy,
    updatedAt: event.at,
    carrier: null,
    tracking: null,
    reason: null,
  };
}

/** The n of a message id `<orderId>:m<n>`: messages of an order in the order they were made. */
function messageNumber(messageId: string): number {
  return Number(messageId.slice(messageId.lastIndexOf(':m') + 2));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function unitsOf(pairs: readonly (readonly [string, number])[]): number {
  let n = 0;
  for (const [, qty] of pairs) n += qty;
  return n;
}

function eventName(event: OrderEvent): string {
  switch (event.kind) {
    case 'fulfilment':
      return `fulfilment.${event.update}`;
    case 'return_requested':
      return 'return.requested';
    case 'return_received':
      return 'return.received';
    case 'return_refunded':
      return 'return.refunded';
    case 'return_hold_resolved':
      return 'return.hold_resolved';
    default:
      return `order.${event.kind}`;
  }
}
