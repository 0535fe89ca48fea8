/**
 * The one error taxonomy of Stockflow. The same codes travel in engine results, on the wire
 * (gateway error replies), as metric label values and in docs/api.md. Codes are stable: add new
 * ones, never rename or reuse one.
 */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  INSUFFICIENT_STOCK: 'INSUFFICIENT_STOCK',
  CONFLICT: 'CONFLICT',
  BUSY: 'BUSY',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every error code, in a stable order (metrics pre-create one series per code). */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.values(ErrorCode));

/**
 * Finer reasons under a code, for callers that need to tell cases apart without reading
 * message text (e.g. NOT_FOUND because the SKU or because the location is unknown).
 */
export const Reason = {
  UNKNOWN_SKU: 'UNKNOWN_SKU',
  UNKNOWN_LOCATION: 'UNKNOWN_LOCATION',
  UNKNOWN_CHANNEL: 'UNKNOWN_CHANNEL',
  UNKNOWN_RESERVATION: 'UNKNOWN_RESERVATION',
  UNKNOWN_ALLOCATION: 'UNKNOWN_ALLOCATION',
  INVALID_QUANTITY: 'INVALID_QUANTITY',
  INVALID_ID: 'INVALID_ID',
  INVALID_TTL: 'INVALID_TTL',
  ID_REUSED: 'ID_REUSED',
  RESERVATION_NOT_HELD: 'RESERVATION_NOT_HELD',
  OTHER_CHANNEL: 'OTHER_CHANNEL',
  SKU_EXCLUDED: 'SKU_EXCLUDED',
  LOCATION_EXCLUDED: 'LOCATION_EXCLUDED',
  MAILBOX_FULL: 'MAILBOX_FULL',
  ACTOR_FAILED: 'ACTOR_FAILED',
  STOPPED: 'STOPPED',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  UNKNOWN_ORDER: 'UNKNOWN_ORDER',
  UNKNOWN_FULFILMENT: 'UNKNOWN_FULFILMENT',
  PAYMENT_MISMATCH: 'PAYMENT_MISMATCH',
  ORDER_STATE: 'ORDER_STATE',
  NOT_SOURCEABLE: 'NOT_SOURCEABLE',
  OTHER_LOCATION: 'OTHER_LOCATION',
  UNKNOWN_FEED: 'UNKNOWN_FEED',
  FEED_IN_PROGRESS: 'FEED_IN_PROGRESS',
  UNKNOWN_RETURN: 'UNKNOWN_RETURN',
  NOT_RETURNABLE: 'NOT_RETURNABLE',
  RETURN_WINDOW_CLOSED: 'RETURN_WINDOW_CLOSED',
  EXCHANGE_EXCEEDS_RETURN: 'EXCHANGE_EXCEEDS_RETURN',
  PICKUP_DISABLED: 'PICKUP_DISABLED',
  INVALID_MASTER_DATA: 'INVALID_MASTER_DATA',
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

/**
 * Exceptions are for bugs and for the edges. Inside the engine an expected outcome is a result
 * value carrying a code; a StockflowError is thrown only by API misuse at the boundary (e.g. a
 * malformed rules document) and is translated by the gateway into an error reply.
 */
export class StockflowError extends Error {
  override readonly name = 'StockflowError';
  readonly code: ErrorCode;
  readonly reason: Reason | null;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { reason?: Reason; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options.reason ?? null;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}
