import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ErrorCode, fail, isValidRef, MAX_QTY, type ErrorResult } from '../engine/index.ts';
import { deliverySchema, orderLineSchema } from './order-input.ts';

/**
 * What callers send about returns, checked once at the edge of the order service. Client ids are
 * shorter than the engine's 128 characters because the stock commands of a return derive their
 * ids from them (`rma:<returnId>:r:<receiptId>`).
 */

const shortRef = z.string().max(48).refine(isValidRef, 'expected 1-48 printable ASCII characters');
const qty = z.int().min(1).max(MAX_QTY);

const returnRequest = z.strictObject({
  returnId: shortRef,
  lines: z
    .array(
      z.strictObject({
        lineId: z.string().min(1).max(128),
        qty,
        reason: z.string().min(1).max(64),
        comment: z.string().max(1_000).optional(),
      }),
    )
    .min(1)
    .max(500),
  /**
   * Replacement lines (an exchange): they become an order of their own, checked like an order's
   * lines; delivered where the original order went unless `delivery` says otherwise.
   */
  exchange: z
    .strictObject({
      lines: z
        .array(orderLineSchema.pick({ sku: true, qty: true, unitPrice: true }))
        .min(1)
        .max(500),
      delivery: deliverySchema.optional(),
    })
    .optional(),
});

const disposition = z.enum(['restock', 'write_off', 'return_to_vendor', 'refurbish', 'missing']);

const returnReceipt = z.strictObject({
  receiptId: shortRef,
  /** The receiving location; a location key's own location when omitted. */
  location: z.string().min(1).max(128).optional(),
  lines: z
    .array(z.strictObject({ lineId: z.string().min(1).max(128), disposition, qty }))
    .min(1)
    .max(1_000),
});

const refund = z.strictObject({ creditNoteId: shortRef });

const holdResolution = z.strictObject({
  resolutionId: shortRef,
  lineId: z.string().min(1).max(128),
  from: z.enum(['return_to_vendor', 'refurbish']),
  to: z.enum(['shipped_to_vendor', 'restock', 'write_off']),
  qty,
});

export type ReturnRequest = z.infer<typeof returnRequest>;
export type ReturnReceipt = z.infer<typeof returnReceipt>;
export type RefundRequest = z.infer<typeof refund>;
export type HoldResolution = z.infer<typeof holdResolution>;

function parse<T>(schema: z.ZodType<T>, what: string, body: unknown): T | ErrorResult {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 10)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');
  return fail(ErrorCode.BAD_REQUEST, null, `invalid ${what}: ${issues}`);
}

export function parseReturnRequest(body: unknown): ReturnRequest | ErrorResult {
  return parse(returnRequest, 'return', body);
}

export function parseReturnReceipt(body: unknown): ReturnReceipt | ErrorResult {
  return parse(returnReceipt, 'receipt', body);
}

export function parseRefund(body: unknown): RefundRequest | ErrorResult {
  return parse(refund, 'refund', body);
}

export function parseHoldResolution(body: unknown): HoldResolution | ErrorResult {
  return parse(holdResolution, 'hold resolution', body);
}

/** Whether a parse answered an error rather than an input (inputs have no `ok`). */
export function isError(value: object): value is ErrorResult {
  return 'ok' in value;
}

/** A digest of a checked input: the same id again with another body is a conflict. */
export function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url');
}
