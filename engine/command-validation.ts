import type { Command, ErrorResult } from './commands.ts';
import { ErrorCode, Reason } from './errors.ts';
import { isValidId, isValidRef } from './master-data.ts';
import { fail } from './results.ts';

/** Largest quantity the engine accepts in one field (well inside exact integer range). */
export const MAX_QTY = 1_000_000_000;

function badQty(field: string, value: unknown): ErrorResult {
  return fail(
    ErrorCode.BAD_REQUEST,
    Reason.INVALID_QUANTITY,
    `${field} must be a whole number, got ${String(value)}`,
  );
}

function badId(field: string, value: unknown): ErrorResult {
  return fail(
    ErrorCode.BAD_REQUEST,
    Reason.INVALID_ID,
    `${field} is not a valid id: ${String(value)}`,
  );
}

function positive(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= MAX_QTY;
}

/**
 * Checks a command's fields before it is routed. The gateway validates wire shapes; this is the
 * engine's own line, so a direct caller can never put a fractional or negative quantity, or an
 * id that cannot be a topic name, into a book. Returns null when the command is valid.
 */
export function validateCommand(cmd: Command, maxTtlMs: number): ErrorResult | null {
  switch (cmd.op) {
    case 'setOnHand':
      if (!isValidId(cmd.sku)) return badId('sku', cmd.sku);
      if (!isValidId(cmd.location)) return badId('location', cmd.location);
      if (!Number.isSafeInteger(cmd.onHand) || cmd.onHand < 0 || cmd.onHand > MAX_QTY) {
        return badQty('onHand', cmd.onHand);
      }
      if (!Number.isFinite(cmd.asOf)) return badQty('asOf', cmd.asOf);
      return null;
    case 'adjust':
      if (!isValidRef(cmd.adjustmentId)) return badId('adjustmentId', cmd.adjustmentId);
      if (!isValidId(cmd.sku)) return badId('sku', cmd.sku);
      if (!isValidId(cmd.location)) return badId('location', cmd.location);
      if (!Number.isSafeInteger(cmd.delta) || cmd.delta === 0 || Math.abs(cmd.delta) > MAX_QTY) {
        return badQty('delta', cmd.delta);
      }
      if (cmd.asOf !== undefined && !Number.isFinite(cmd.asOf)) return badQty('asOf', cmd.asOf);
      return null;
    case 'reserve':
      if (!isValidRef(cmd.reservationId)) return badId('reservationId', cmd.reservationId);
      if (!isValidId(cmd.channel)) return badId('channel', cmd.channel);
      if (!isValidId(cmd.sku)) return badId('sku', cmd.sku);
      if (cmd.location !== undefined && !isValidId(cmd.location)) {
        return badId('location', cmd.location);
      }
      if (!positive(cmd.qty)) return badQty('qty', cmd.qty);
      if (cmd.lines !== undefined) {
        return fail(ErrorCode.BAD_REQUEST, null, 'lines are chosen by the engine, not the client');
      }
      if (
        cmd.ttlMs !== undefined &&
        (!Number.isSafeInteger(cmd.ttlMs) || cmd.ttlMs < 1_000 || cmd.ttlMs > maxTtlMs)
      ) {
        return fail(
          ErrorCode.BAD_REQUEST,
          Reason.INVALID_TTL,
          `ttlMs must be a whole number of ms within 1000..${maxTtlMs}`,
        );
      }
      return null;
    case 'release':
    case 'confirm':
      if (!isValidRef(cmd.reservationId)) return badId('reservationId', cmd.reservationId);
      if (cmd.channel !== undefined && !isValidId(cmd.channel))
        return badId('channel', cmd.channel);
      if (cmd.op === 'confirm' && !isValidRef(cmd.orderId)) return badId('orderId', cmd.orderId);
      return null;
    case 'allocate':
      if (!isValidRef(cmd.allocationId)) return badId('allocationId', cmd.allocationId);
      if (!isValidRef(cmd.orderId)) return badId('orderId', cmd.orderId);
      if (!isValidId(cmd.channel)) return badId('channel', cmd.channel);
      if (!isValidId(cmd.sku)) return badId('sku', cmd.sku);
      if (!isValidId(cmd.location)) return badId('location', cmd.location);
      return positive(cmd.qty) ? null : badQty('qty', cmd.qty);
    case 'deallocate':
    case 'ship': {
      const id = cmd.op === 'ship' ? cmd.shipmentId : cmd.requestId;
      if (!isValidRef(id)) return badId(cmd.op === 'ship' ? 'shipmentId' : 'requestId', id);
      if (!isValidRef(cmd.orderId)) return badId('orderId', cmd.orderId);
      if (!isValidId(cmd.sku)) return badId('sku', cmd.sku);
      if (!isValidId(cmd.location)) return badId('location', cmd.location);
      return positive(cmd.qty) ? null : badQty('qty', cmd.qty);
    }
    case 'expire':
      if (!isValidRef(cmd.reservationId)) return badId('reservationId', cmd.reservationId);
      return Number.isFinite(cmd.at) ? null : badQty('at', cmd.at);
    default:
      return fail(
        ErrorCode.BAD_REQUEST,
        null,
        `unknown op ${String((cmd as { op?: unknown }).op)}`,
      );
  }
}
