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
  /** merchandise - fees + shipping, never more than the order's payment left unrefunded. */
  readonly total: number;
}

interface ReturnEventBase {
  readonly returnId: string;
}

export interface ReturnRequestedChange extends ReturnEventBase {
  readonly kind: 'return_requested';
  readonly fingerprint: string;
  readonly lines: readonly RequestedReturnLine[];
}

export interface ReturnReceivedChange extends ReturnEventBase {
  readonly kind: 'return_received';
  readonly receiptId: string;
  readonly fingerprint: string;
  readonly location: string;
  readonly lines: readonly ReceiptCounts[];
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
