import { z } from 'zod';

/**
 * The wire shapes, compiled once. WebSocket messages are checked for shape and types here; the
 * content of ids and quantities (1-128 printable characters, whole numbers within range) is the
 * engine's own line (engine/command-validation.ts), which answers BAD_REQUEST with a reason.
 * Checking it twice would cost the hot path about a microsecond per message in zod (measured:
 * a reserve shape with type checks only parses in ~60 ns, with length and integer checks ~700 ns).
 * The three hot ops (reserve, release, confirm) are checked on the WebSocket by hand
 * (hot-shapes.ts); their schemas here stay the reference a property test holds those checks to.
 */

/** The largest number of operations one `batch` frame may carry. */
export const MAX_BATCH_OPS = 100;
/** The most topics one subscribe or unsubscribe may name. */
export const MAX_TOPICS_PER_REQUEST = 1_024;

export type RequestId = string | number;

export function isRequestId(value: unknown): value is RequestId {
  return (
    (typeof value === 'string' && value.length <= 128) ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

const requestId = z.custom<RequestId>(isRequestId, { message: 'id must be a string or a number' });

const reserveFields = {
  op: z.literal('reserve'),
  reservationId: z.string(),
  channel: z.string(),
  sku: z.string(),
  qty: z.number(),
  location: z.string().optional(),
  ttlMs: z.number().optional(),
};
const releaseFields = { op: z.literal('release'), reservationId: z.string() };
const confirmFields = { op: z.literal('confirm'), reservationId: z.string(), orderId: z.string() };

export const reserveMessage = z.object({ id: requestId, ...reserveFields });
export const releaseMessage = z.object({ id: requestId, ...releaseFields });
export const confirmMessage = z.object({ id: requestId, ...confirmFields });

/** Inside a batch each operation's own id is optional (results are positional). */
export const batchedReserve = z.object({ id: requestId.optional(), ...reserveFields });
export const batchedRelease = z.object({ id: requestId.optional(), ...releaseFields });
export const batchedConfirm = z.object({ id: requestId.optional(), ...confirmFields });

export const topicsMessage = z.object({
  id: requestId,
  op: z.enum(['subscribe', 'unsubscribe']),
  topics: z.array(z.string().max(400)).min(1).max(MAX_TOPICS_PER_REQUEST),
});

export const batchMessage = z.object({
  id: requestId,
  op: z.literal('batch'),
  ops: z.array(z.unknown()).min(1).max(MAX_BATCH_OPS),
});

// ---- orders (WebSocket ops and HTTP bodies) ----------------------------------------------------
// These are not on the hot path, so unknown keys are refused (a misspelt optional field would
// otherwise be dropped without a word). The order itself is checked by the order service
// (orders/order-input.ts), which names every problem it finds.

/** Idempotency-Key (the HTTP header, or the placeOrder field): 1-255 printable ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

const orderRef = z.string().min(1).max(256);

const cancelFields = {
  lines: z
    .array(z.strictObject({ lineId: orderRef, qty: z.int().min(1).optional() }))
    .min(1)
    .max(500)
    .optional(),
  reason: z.string().max(512).optional(),
};

/** POST /v1/orders/:id/cancel. */
export const cancelBody = z.strictObject(cancelFields);

/** A location's answer about a fulfilment (`timed_out` is the service's to decide, not sent). */
export const fulfilmentAnswerBody = z.strictObject({
  type: z.enum([
    'accepted',
    'rejected',
    'short_picked',
    'picked',
    'shipped',
    'delivered',
    'problem',
  ]),
  picked: z
    .array(z.strictObject({ sku: orderRef, qty: z.int().min(0) }))
    .max(500)
    .optional(),
  carrier: z.string().min(1).max(128).optional(),
  tracking: z.string().min(1).max(256).optional(),
  reason: z.string().max(512).optional(),
});

export const placeOrderMessage = z.strictObject({
  id: requestId,
  op: z.literal('placeOrder'),
  order: z.looseObject({}),
  idempotencyKey: z
    .string()
    .regex(IDEMPOTENCY_KEY, 'expected 1-255 printable ASCII characters')
    .optional(),
});

export const cancelOrderMessage = z.strictObject({
  id: requestId,
  op: z.literal('cancelOrder'),
  orderId: orderRef,
  ...cancelFields,
});

export const fulfilmentAnswerMessage = z.strictObject({
  id: requestId,
  op: z.literal('fulfilmentAnswer'),
  fulfilmentId: orderRef,
  answer: fulfilmentAnswerBody,
});

/** The most message ids one ack may name. */
const MAX_ACK_IDS = 1_024;

export const ackMessage = z.strictObject({
  id: requestId,
  op: z.literal('ack'),
  messageIds: z.array(z.string().max(300)).max(MAX_ACK_IDS),
});

// ---- HTTP bodies -------------------------------------------------------------------------------

export const reservationBody = z.object({
  reservationId: z.string(),
  channel: z.string(),
  sku: z.string(),
  qty: z.number(),
  location: z.string().optional(),
  ttlMs: z.number().optional(),
});

export const confirmBody = z.object({ orderId: z.string() });

export const adjustmentsBody = z
  .array(
    z.object({
      adjustmentId: z.string(),
      sku: z.string(),
      location: z.string(),
      delta: z.number(),
      asOf: z.number().optional(),
    }),
  )
  .min(1)
  .max(10_000);

const quantity = {
  units: z.int().min(0).optional(),
  percent: z.number().min(0).max(100).optional(),
};
const selector = {
  channel: z.string().optional(),
  locationType: z.string().optional(),
  location: z.string().optional(),
  sku: z.string().optional(),
  skuGroup: z.string().optional(),
  attributes: z.record(z.string(), z.string()).optional(),
};

/** The channel rules document (engine/channel-rules.ts RulesInput); the engine checks meaning. */
export const rulesBody = z.strictObject({
  channels: z
    .array(
      z.strictObject({
        id: z.string(),
        priority: z.int(),
        reservationTtlMs: z.int().optional(),
      }),
    )
    .min(1)
    .max(1_000),
  buffers: z
    .array(z.strictObject({ ...selector, ...quantity }))
    .max(100_000)
    .optional(),
  exclusions: z
    .array(z.strictObject({ ...selector, channel: z.string() }))
    .max(100_000)
    .optional(),
  caps: z
    .array(
      z.strictObject({
        channel: z.string(),
        sku: z.string().optional(),
        skuGroup: z.string().optional(),
        attributes: z.record(z.string(), z.string()).optional(),
        ...quantity,
      }),
    )
    .max(100_000)
    .optional(),
  pickupBuffers: z
    .array(
      z.strictObject({
        location: z.string().optional(),
        locationType: z.string().optional(),
        ...quantity,
      }),
    )
    .max(100_000)
    .optional(),
});

export const locationsBody = z
  .array(
    z.strictObject({
      id: z.string(),
      type: z.string(),
      name: z.string().optional(),
      lat: z.number().min(-90).max(90).optional(),
      lon: z.number().min(-180).max(180).optional(),
      capacity: z.int().nullable().optional(),
      channels: z.array(z.string()).nullable().optional(),
      pickup: z.boolean().optional(),
    }),
  )
  .max(100_000);

export const productsBody = z
  .array(
    z.strictObject({
      sku: z.string(),
      group: z.string().optional(),
      attributes: z.record(z.string(), z.string()).optional(),
      prices: z.record(z.string(), z.int()).optional(),
    }),
  )
  .max(1_000_000);

/** One line of a problem, for the error reply: `path: message`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid message';
  const path = issue.path.map(String).join('.');
  return path.length === 0 ? issue.message : `${path}: ${issue.message}`;
}
