import type {
  CreditNote,
  ExchangeLine,
  ExchangeStatus,
  HeldDisposition,
  ReceiptCounts,
  ReturnChange,
  RequestedExchange,
  RequestedReturnLine,
} from './return-events.ts';
import type { DeliveryInput } from './order-input.ts';

/**
 * A return's state on its order, and the reducer the order runs for return events (live and at
 * replay). Each line keeps what was requested, what was received, what became of each received
 * unit, what is still held apart and what was refunded, separately: a refund is worked out from
 * received units only, and units held apart never reach onHand until a resolution restocks them.
 */

export type ReturnStatus =
  'requested' | 'partially_received' | 'received' | 'partially_refunded' | 'refunded' | 'closed';

export interface ReturnLine extends RequestedReturnLine {
  /** Units that arrived (every disposition but `missing`). */
  readonly received: number;
  readonly missing: number;
  readonly restock: number;
  readonly writeOff: number;
  readonly returnToVendor: number;
  readonly refurbish: number;
  /** Resolutions of units held apart. */
  readonly shippedToVendor: number;
  readonly refurbishedRestocked: number;
  readonly refurbishedWrittenOff: number;
  readonly refunded: number;
}

interface Step {
  readonly id: string;
  readonly fingerprint: string;
  readonly at: number;
}

export interface OrderReturn {
  readonly returnId: string;
  readonly fingerprint: string;
  readonly requestedAt: number;
  readonly updatedAt: number;
  /** Where it was received (the first receipt decides; any location may take a return). */
  readonly location: string | null;
  readonly lines: readonly ReturnLine[];
  readonly receipts: readonly (Step & { readonly location: string })[];
  readonly resolutions: readonly Step[];
  readonly creditNotes: readonly CreditNote[];
  /** Replacement lines and what became of them (absent: not an exchange). */
  readonly exchange?: ReturnExchange;
}

/** A return's exchange on its order. */
export interface ReturnExchange extends Omit<RequestedExchange, 'status'> {
  readonly status: ExchangeStatus;
  readonly reason: string | null;
}

/** A return's exchange as the API shows it (its order's id is the return's `exchangeOrderId`). */
export interface ExchangeView {
  readonly status: ExchangeStatus;
  readonly lines: readonly ExchangeLine[];
  readonly delivery: DeliveryInput;
  readonly value: number;
  /** How much of `value` the return's credit notes settled so far. */
  readonly credited: number;
  readonly reason: string | null;
}

export interface ReturnView {
  readonly returnId: string;
  readonly status: ReturnStatus;
  readonly requestedAt: string;
  readonly updatedAt: string;
  readonly location: string | null;
  readonly lines: readonly (ReturnLine & {
    readonly dispositioned: number;
    readonly held: { readonly returnToVendor: number; readonly refurbish: number };
  })[];
  readonly receipts: readonly {
    readonly receiptId: string;
    readonly location: string;
    readonly at: string;
  }[];
  readonly creditNotes: readonly (Omit<CreditNote, 'at'> & { readonly at: string })[];
  /** The order the return's exchange became, once placed; null otherwise. */
  readonly exchangeOrderId: string | null;
  readonly exchange: ExchangeView | null;
}

/** Units of a line accounted for by receipts (received or missing). */
export function dispositioned(line: ReturnLine): number {
  return line.received + line.missing;
}

export function heldReturnToVendor(line: ReturnLine): number {
  return line.returnToVendor - line.shippedToVendor;
}

export function heldRefurbish(line: ReturnLine): number {
  return line.refurbish - line.refurbishedRestocked - line.refurbishedWrittenOff;
}

export function held(line: ReturnLine, kind: HeldDisposition): number {
  return kind === 'return_to_vendor' ? heldReturnToVendor(line) : heldRefurbish(line);
}

export function returnStatus(r: OrderReturn): ReturnStatus {
  let requested = 0;
  let counted = 0;
  let received = 0;
  let refunded = 0;
  for (const l of r.lines) {
    requested += l.qty;
    counted += dispositioned(l);
    received += l.received;
    refunded += l.refunded;
  }
  if (counted === 0) return 'requested';
  if (counted < requested) return 'partially_received';
  if (received === 0) return 'closed';
  if (refunded === 0) return 'received';
  return refunded < received ? 'partially_refunded' : 'refunded';
}

/** Nothing more can happen to it: every unit accounted for and refunded, nothing held apart. */
export function returnSettled(r: OrderReturn): boolean {
  const status = returnStatus(r);
  if (status !== 'refunded' && status !== 'closed') return false;
  return r.lines.every((l) => heldReturnToVendor(l) === 0 && heldRefurbish(l) === 0);
}

/** A credit note's exchange part (0 for notes recorded before exchanges existed). */
export function exchangePart(note: CreditNote): number {
  return (note as Partial<CreditNote>).exchange ?? 0;
}

/** How much of a return's exchange its credit notes settled. */
export function exchangeCredited(r: OrderReturn): number {
  let n = 0;
  for (const c of r.creditNotes) n += exchangePart(c);
  return n;
}

export function returnView(r: OrderReturn): ReturnView {
  const x = r.exchange;
  return {
    returnId: r.returnId,
    status: returnStatus(r),
    requestedAt: iso(r.requestedAt),
    updatedAt: iso(r.updatedAt),
    location: r.location,
    lines: r.lines.map((l) => ({
      ...l,
      dispositioned: dispositioned(l),
      held: { returnToVendor: heldReturnToVendor(l), refurbish: heldRefurbish(l) },
    })),
    receipts: r.receipts.map((s) => ({ receiptId: s.id, location: s.location, at: iso(s.at) })),
    creditNotes: r.creditNotes.map((c) => ({ ...c, exchange: exchangePart(c), at: iso(c.at) })),
    exchangeOrderId: x?.status === 'placed' ? x.orderId : null,
    exchange:
      x === undefined
        ? null
        : {
            status: x.status,
            lines: x.lines,
            delivery: x.delivery,
            value: x.value,
            credited: exchangeCredited(r),
            reason: x.reason,
          },
  };
}

/**
 * Applies a return event to the order's returns: the new list (the returns touched are replaced,
 * never mutated) and the history line.
 */
export function applyReturn(
  returns: readonly OrderReturn[],
  change: ReturnChange,
  at: number,
): { readonly returns: readonly OrderReturn[]; readonly detail: string } {
  if (change.kind === 'return_requested') {
    const r: OrderReturn = {
      returnId: change.returnId,
      fingerprint: change.fingerprint,
      requestedAt: at,
      updatedAt: at,
      location: null,
      lines: change.lines.map((l) => ({
        ...l,
        received: 0,
        missing: 0,
        restock: 0,
        writeOff: 0,
        returnToVendor: 0,
        refurbish: 0,
        shippedToVendor: 0,
        refurbishedRestocked: 0,
        refurbishedWrittenOff: 0,
        refunded: 0,
      })),
      receipts: [],
      resolutions: [],
      creditNotes: [],
      ...(change.exchange === undefined ? {} : { exchange: { ...change.exchange, reason: null } }),
    };
    const x = change.exchange;
    const exchange =
      x === undefined
        ? ''
        : x.status === 'placed'
          ? `; exchange ${x.orderId} placed`
          : `; exchange awaiting receipt`;
    return {
      returns: [...returns, r],
      detail: `${change.returnId}: ${units(change.lines)} units${exchange}`,
    };
  }
  let detail = '';
  const next = returns.map((r) => {
    if (r.returnId !== change.returnId) return r;
    switch (change.kind) {
      case 'return_received': {
        const byLine = new Map(change.lines.map((c) => [c.lineId, c]));
        detail = `${change.returnId} at ${change.location}: ${change.lines.map(describe).join(', ')}`;
        const outcome = change.exchange;
        if (outcome !== undefined && r.exchange !== undefined) {
          detail +=
            outcome.status === 'placed'
              ? `; exchange ${r.exchange.orderId} placed`
              : `; exchange declined: ${outcome.reason ?? ''}`;
        }
        return {
          ...r,
          ...(outcome === undefined || r.exchange === undefined
            ? {}
            : { exchange: { ...r.exchange, status: outcome.status, reason: outcome.reason } }),
          updatedAt: at,
          location: r.location ?? change.location,
          lines: r.lines.map((l) => {
            const c = byLine.get(l.lineId);
            return c === undefined ? l : receive(l, c);
          }),
          receipts: [
            ...r.receipts,
            {
              id: change.receiptId,
              fingerprint: change.fingerprint,
              at,
              location: change.location,
            },
          ],
        };
      }
      case 'return_refunded': {
        const note = change.creditNote;
        const byLine = new Map(note.lines.map((c) => [c.lineId, c.qty]));
        detail = `${change.returnId}: credit note ${note.creditNoteId}, ${String(note.total)} ${note.currency}`;
        return {
          ...r,
          updatedAt: at,
          lines: r.lines.map((l) => {
            const qty = byLine.get(l.lineId);
            return qty === undefined ? l : { ...l, refunded: l.refunded + qty };
          }),
          creditNotes: [...r.creditNotes, note],
        };
      }
      case 'return_hold_resolved': {
        detail = `${change.returnId}: ${String(change.qty)} ${change.from} units of line ${change.lineId} ${change.to}`;
        return {
          ...r,
          updatedAt: at,
          lines: r.lines.map((l) => (l.lineId === change.lineId ? resolve(l, change) : l)),
          resolutions: [
            ...r.resolutions,
            { id: change.resolutionId, fingerprint: change.fingerprint, at },
          ],
        };
      }
    }
  });
  return { returns: next, detail };
}

function receive(l: ReturnLine, c: ReceiptCounts): ReturnLine {
  return {
    ...l,
    received: l.received + c.restock + c.writeOff + c.returnToVendor + c.refurbish,
    missing: l.missing + c.missing,
    restock: l.restock + c.restock,
    writeOff: l.writeOff + c.writeOff,
    returnToVendor: l.returnToVendor + c.returnToVendor,
    refurbish: l.refurbish + c.refurbish,
  };
}

function resolve(
  l: ReturnLine,
  c: { readonly from: HeldDisposition; readonly to: string; readonly qty: number },
): ReturnLine {
  if (c.from === 'return_to_vendor') return { ...l, shippedToVendor: l.shippedToVendor + c.qty };
  return c.to === 'restock'
    ? { ...l, refurbishedRestocked: l.refurbishedRestocked + c.qty }
    : { ...l, refurbishedWrittenOff: l.refurbishedWrittenOff + c.qty };
}

function describe(c: ReceiptCounts): string {
  const parts: string[] = [];
  if (c.restock > 0) parts.push(`${String(c.restock)} restock`);
  if (c.writeOff > 0) parts.push(`${String(c.writeOff)} write_off`);
  if (c.returnToVendor > 0) parts.push(`${String(c.returnToVendor)} return_to_vendor`);
  if (c.refurbish > 0) parts.push(`${String(c.refurbish)} refurbish`);
  if (c.missing > 0) parts.push(`${String(c.missing)} missing`);
  return `line ${c.lineId} ${parts.join(' ')}`;
}

function units(lines: readonly { readonly qty: number }[]): number {
  let n = 0;
  for (const l of lines) n += l.qty;
  return n;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
