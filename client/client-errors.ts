import type { Fulfilment, Order, ServerErrorCode } from './wire-types.ts';

/**
 * Codes the client itself raises, next to the server's:
 * - `TIMEOUT`: no reply within the request's timeout (the request may or may not have been
 *   applied; every op but a cancel with lines is safe to send again).
 * - `DISCONNECTED`: not sent, because the client is not connected and was told to fail fast.
 * - `CONNECTION_LOST`: sent, then the connection dropped before the reply, and the request is not
 *   one the client may send again by itself (a cancelOrder with lines): it may have been applied.
 * - `CLOSED`: the client was closed (by `close()`, or for good after a 401/403).
 */
export type ClientErrorCode = 'TIMEOUT' | 'DISCONNECTED' | 'CONNECTION_LOST' | 'CLOSED';

export type ErrorCode = ServerErrorCode | ClientErrorCode;

export interface StockflowErrorFields {
  readonly code: ErrorCode;
  readonly message: string;
  readonly reason?: string | null;
  readonly available?: number | null;
  readonly order?: Order | null;
  readonly fulfilment?: Fulfilment | null;
  readonly status?: number | null;
}

/**
 * Every failure the client reports: a refusal by the server (its `code`, `reason` and, for
 * INSUFFICIENT_STOCK, `available`) or one of the client's own codes. Match on `code` and
 * `reason`, never on `message`.
 */
export class StockflowError extends Error {
  override readonly name = 'StockflowError';
  readonly code: ErrorCode;
  /** A finer cause under the code (e.g. `UNKNOWN_SKU`, `ID_REUSED`), or null. */
  readonly reason: string | null;
  /** With INSUFFICIENT_STOCK: what the channel could have had (null for an unsourceable order). */
  readonly available: number | null;
  /** With a refused placeOrder or cancelOrder: the order, when the refusal is about one. */
  readonly order: Order | null;
  /** With a refused fulfilmentAnswer: the fulfilment as it stands. */
  readonly fulfilment: Fulfilment | null;
  /** The HTTP status of a refused WebSocket upgrade (401, 403), when known. */
  readonly status: number | null;

  constructor(fields: StockflowErrorFields) {
    super(fields.message);
    this.code = fields.code;
    this.reason = fields.reason ?? null;
    this.available = fields.available ?? null;
    this.order = fields.order ?? null;
    this.fulfilment = fields.fulfilment ?? null;
    this.status = fields.status ?? null;
  }
}

/** True for a StockflowError of the given code, narrowing `available` for INSUFFICIENT_STOCK. */
export function isStockflowError<C extends ErrorCode>(
  error: unknown,
  code?: C,
): error is StockflowError & { readonly code: C } {
  return error instanceof StockflowError && (code === undefined || error.code === code);
}
