import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  ErrorCode,
  fail,
  isValidId,
  isValidRef,
  MAX_QTY,
  Reason,
  type ErrorResult,
} from '../engine/index.ts';

/**
 * What a channel sends to place an order, checked once at the edge of the order service. Money
 * is in minor units (cents) as whole numbers, so totals add up exactly.
 */

const ref = z.string().refine(isValidRef, 'expected 1-128 printable ASCII characters');
const id = z.string().refine(isValidId, "expected 1-128 printable ASCII characters, no ':' or '@'");
const text = z.string().max(512);
const money = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** An order line as a channel sends it (exchange lines of a return take sku, qty and price). */
export const orderLineSchema = z.strictObject({
  lineId: ref.optional(),
  sku: id,
  qty: z.int().min(1).max(MAX_QTY),
  /** Price of one unit, minor units. */
  unitPrice: money,
  /** A reservation the checkout holds for this line: confirmed into the order's allocation. */
  reservationId: ref.optional(),
});

const address = z.strictObject({
  name: text.optional(),
  line1: text.optional(),
  line2: text.optional(),
  city: text.optional(),
  postcode: text.optional(),
  country: text.optional(),
  /** Shipping zone, for per-zone shipping costs. */
  zone: z.string().min(1).max(64).optional(),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

export const deliverySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ship'), address }),
  z.strictObject({ type: z.literal('pickup'), location: id }),
]);

const placeOrder = z.strictObject({
  orderId: ref,
  channel: id,
  customer: z.strictObject({
    id: ref,
    email: z.string().max(254).optional(),
    name: text.optional(),
    phone: z.string().max(64).optional(),
  }),
  lines: z.array(orderLineSchema).min(1).max(500),
  delivery: deliverySchema,
  payment: z.strictObject({
    /** The authorised amount, minor units: must equal the lines plus shipping. */
    amount: money,
    currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as EUR'),
    reference: z.string().max(256).optional(),
    provider: z.string().max(64).optional(),
  }),
  shippingAmount: money.optional(),
});

export type PlaceOrderRequest = z.infer<typeof placeOrder>;

export interface OrderLineInput {
  readonly lineId: string;
  readonly sku: string;
  readonly qty: number;
  readonly unitPrice: number;
  readonly reservationId: string | null;
}

export type DeliveryInput = PlaceOrderRequest['delivery'];

/** A checked order, with every default filled in: what the journal keeps. */
export interface OrderInput {
  readonly orderId: string;
  readonly channel: string;
  readonly customer: PlaceOrderRequest['customer'];
  readonly lines: readonly OrderLineInput[];
  readonly delivery: DeliveryInput;
  readonly payment: PlaceOrderRequest['payment'];
  readonly shippingAmount: number;
  /** Set on an exchange order only: the return whose replacement lines it carries. */
  readonly exchangeFor?: ExchangeLink;
}

/** The return an exchange order was placed for (docs/returns.md "Exchanges"). */
export interface ExchangeLink {
  readonly orderId: string;
  readonly returnId: string;
}

/** Checks and normalises an order; an ErrorResult (BAD_REQUEST) names every problem found. */
export function parseOrder(body: unknown): OrderInput | ErrorResult {
  const parsed = placeOrder.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
      .join('; ');
    return fail(ErrorCode.BAD_REQUEST, null, `invalid order: ${issues}`);
  }
  const o = parsed.data;
  const lines = o.lines.map((l, i) => ({
    lineId: l.lineId ?? String(i + 1),
    sku: l.sku,
    qty: l.qty,
    unitPrice: l.unitPrice,
    reservationId: l.reservationId ?? null,
  }));
  const lineIds = new Set<string>();
  const reservations = new Set<string>();
  for (const l of lines) {
    if (lineIds.has(l.lineId))
      return fail(ErrorCode.BAD_REQUEST, null, `duplicate lineId ${l.lineId}`);
    lineIds.add(l.lineId);
    if (l.reservationId !== null) {
      if (reservations.has(l.reservationId)) {
        return fail(ErrorCode.BAD_REQUEST, null, `reservation ${l.reservationId} is on two lines`);
      }
      reservations.add(l.reservationId);
    }
  }
  const shippingAmount = o.shippingAmount ?? 0;
  let total = shippingAmount;
  for (const l of lines) total += l.qty * l.unitPrice;
  if (!Number.isSafeInteger(total))
    return fail(ErrorCode.BAD_REQUEST, null, 'order total is too large');
  if (total !== o.payment.amount) {
    return fail(
      ErrorCode.BAD_REQUEST,
      Reason.PAYMENT_MISMATCH,
      `payment.amount ${o.payment.amount} does not match the lines plus shipping (${total})`,
    );
  }
  return {
    orderId: o.orderId,
    channel: o.channel,
    customer: o.customer,
    lines,
    delivery: o.delivery,
    payment: o.payment,
    shippingAmount,
  };
}

/** A digest of the normalised order: a retry with another body under the same key is a conflict. */
export function fingerprintOf(input: OrderInput): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url');
}
