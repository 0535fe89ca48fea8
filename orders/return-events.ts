import type { DeliveryInput } from './order-input.ts';

/**
 * The shapes of a return (RMA) as its events carry them. Like every order event they are facts:
 * the units, prices, fees and credit-note amounts are decided first and travel inside the event,
 * so replay reproduces a return exactly whatever the return policy is at replay time.
 */

/** What may happen to a received unit (`missing`: requested, never arrived). */
export type Disposition = 'restock' | 'write_off' | 'return_to_vendor' | 'refurbish' | 'missing';

/** Units held apart, and where they may go: to the supplier, or back to stock or the bin. */
export type HeldDisposition = 'return_to_vendor' | 'refurbish';
export type HoldOutcome = 'shipped_to_vendor' | 'restock' | 'write_off';

export interface RequestedReturnLine {
  readonly lineId: string;
  readonly sku: string;
  readonly qty: number;
  /** The order line's unit price, minor units: what a refund of one unit pays back. */
  readonly unitPrice: number;
  readonly reason: string;
  readonly comment: string | null;
}

/** One order line's units in one receipt, by disposition. */
export interface ReceiptCounts {
  readonly lineId: string;
  readonly restock: number;
  readonly writeOff: number;
  readonly returnToVendor: number;
  readonly refurbish: number;
  readonly missing: number;
}

export interface CreditNoteLine {
  readonly lineId: string;
  readonly qty: number;
  /** qty x unit price. */
  readonly amount: number;
  /** The restocking fee kept back on this line. */
  readonly fee: number;
}

/** A refund, as recorded: its own id, what it pays back and why. */
export interface CreditNote {
  readonly creditNoteId: string;
  readonly returnId: string;
  readonly at: number;
  readonly currency: string;
  readonly lines: readonly CreditNoteLine[];
  readonly merchandise: number;
  readonly fees: number;
  readonly shipping: number;
  /**
   * The part of the credit settled by the return's exchange order instead of paid back (0 without
   * one; absent from notes recorded before exchanges existed).
   */
  readonly exchange: number;
  /**
   * What is paid back: merchandise - fees + shipping - exchange, never more than the order's
   * payment left unrefunded.
   */
  readonly total: number;
}

/** A replacement line of an exchange: what the customer gets instead, at its price. */
export interface ExchangeLine {
  readonly sku: string;
  readonly qty: number;
  readonly unitPrice: number;
}

/**
 * `awaiting_receipt`: placed once what arrives covers its value; `placed`: its order was decided
 * (and is placed, or placed again after a crash, under its derived id); `declined`: every unit
 * was accounted for and what arrived does not cover it.
 */
export type ExchangeStatus = 'awaiting_receipt' | 'placed' | 'declined';

/** A return's replacement lines, as requested (docs/returns.md "Exchanges"). */
export interface RequestedExchange {
  /** The exchange order's id, derived from the order and the return (return-exchange.ts). */
  readonly orderId: string;
  readonly lines: readonly ExchangeLine[];
  readonly delivery: DeliveryInput;
  /** The replacement lines at their prices, minor units: what the exchange order is paid with. */
  readonly value: number;
  readonly status: 'awaiting_receipt' | 'placed';
}

/** What a receipt decided about a return's exchange awaiting it. */
export interface ExchangeOutcome {
  readonly status: 'placed' | 'declined';
  /** Why it was declined; null when placed. */
  readonly reason: string | null;
}

interface ReturnEventBase {
  readonly returnId: string;
}

export interface ReturnRequestedChange extends ReturnEventBase {
  readonly kind: 'return_requested';
  readonly fingerprint: string;
  readonly lines: readonly RequestedReturnLine[];
  /** Replacement lines, when the return is an exchange. */
  readonly exchange?: RequestedExchange;
}

export interface ReturnReceivedChange extends ReturnEventBase {
  readonly kind: 'return_received';
  readonly receiptId: string;
  readonly fingerprint: string;
  readonly location: string;
  readonly lines: readonly ReceiptCounts[];
  /** Set when this receipt decided the return's exchange. */
  readonly exchange?: ExchangeOutcome;
}

export interface ReturnRefundedChange extends ReturnEventBase {
  readonly kind: 'return_refunded';
  readonly creditNote: CreditNote;
}

export interface ReturnHoldResolvedChange extends ReturnEventBase {
  readonly kind: 'return_hold_resolved';
  readonly resolutionId: string;
  readonly fingerprint: string;
  readonly lineId: string;
  readonly from: HeldDisposition;
  readonly to: HoldOutcome;
  readonly qty: number;
}

export type ReturnChange =
  ReturnRequestedChange | ReturnReceivedChange | ReturnRefundedChange | ReturnHoldResolvedChange;
