import { z } from 'zod';
import type { CreditNote, OrderResult, ReturnView } from '../orders/index.ts';
import { isRequestId, type RequestId } from './message-schemas.ts';

/**
 * The return ops of the WebSocket (docs/api.md, "Returns over the WebSocket"): their frames and
 * their reply. The bodies inside (`return`, `receipt`, `resolution`) are the HTTP bodies, checked
 * by the order service (orders/return-input.ts), which names every problem it finds.
 */

const requestId = z.custom<RequestId>(isRequestId, { message: 'id must be a string or a number' });
const ref = z.string().min(1).max(256);

export const requestReturnMessage = z.strictObject({
  id: requestId,
  op: z.literal('requestReturn'),
  orderId: ref,
  return: z.looseObject({}),
});

export const receiveReturnMessage = z.strictObject({
  id: requestId,
  op: z.literal('receiveReturn'),
  returnId: ref,
  receipt: z.looseObject({}),
});

export const resolveReturnHoldMessage = z.strictObject({
  id: requestId,
  op: z.literal('resolveReturnHold'),
  returnId: ref,
  resolution: z.looseObject({}),
});

export const refundReturnMessage = z.strictObject({
  id: requestId,
  op: z.literal('refundReturn'),
  returnId: ref,
  creditNoteId: z.string(),
});

export type ReturnOp = 'requestReturn' | 'receiveReturn' | 'resolveReturnHold' | 'refundReturn';

type CreditNoteView = Omit<CreditNote, 'at'> & { readonly at: string };

/** A return op applied (or repeated): the return as it stands, and the credit note of a refund. */
export class ReturnReply {
  readonly op: ReturnOp;
  readonly id: RequestId;
  readonly ok = true;
  readonly orderId: string;
  readonly return: ReturnView | null;
  readonly creditNote: CreditNoteView | null;
  readonly duplicate: boolean;

  constructor(
    op: ReturnOp,
    id: RequestId,
    result: Extract<OrderResult, { ok: true }>,
    returnId: string,
    creditNoteId: string | null,
  ) {
    const r = result.order.returns.find((x) => x.returnId === returnId) ?? null;
    this.op = op;
    this.id = id;
    this.orderId = result.order.orderId;
    this.return = r;
    this.creditNote =
      creditNoteId === null
        ? null
        : (r?.creditNotes.find((c) => c.creditNoteId === creditNoteId) ?? null);
    this.duplicate = result.duplicate;
  }
}
