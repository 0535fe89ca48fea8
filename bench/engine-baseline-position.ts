import {
  ErrorCode,
  Reason,
  type CommandResult,
  type ErrorResult,
  type OkResult,
  type ReserveCommand,
  type SetOnHandCommand,
} from '../engine/index.ts';

/**
 * The stock logic both baselines share, reduced to what the benchmark exercises: an absolute
 * feed and a one-location reservation with the same check as the engine's
 * (qty <= onHand - reserved - allocated). Answers are preallocated constants: a baseline pays
 * for no result objects, so the ratio to it includes what the engine spends building its views.
 */
export class BaselinePosition {
  onHand = 0;
  reserved = 0;
  allocated = 0;
  feedAsOf = -Infinity;

  setOnHand(cmd: SetOnHandCommand): CommandResult {
    if (cmd.asOf <= this.feedAsOf) return STALE;
    this.feedAsOf = cmd.asOf;
    this.onHand = cmd.onHand;
    return APPLIED;
  }

  /** Holds `cmd.qty` if there is that much free; the caller records the reservation id. */
  reserve(cmd: ReserveCommand): CommandResult {
    if (cmd.qty > this.onHand - this.reserved - this.allocated) return INSUFFICIENT;
    this.reserved += cmd.qty;
    return APPLIED;
  }
}

function okResult(applied: boolean, duplicate: boolean): OkResult {
  return Object.freeze({ ok: true, applied, duplicate, position: null, reservation: null });
}

function errorResult(code: ErrorCode, reason: Reason | null, message: string): ErrorResult {
  return Object.freeze({ ok: false, code, reason, message, available: null });
}

const APPLIED = okResult(true, false);
const STALE = okResult(false, false);
export const DUPLICATE = okResult(false, true);
export const INSUFFICIENT = errorResult(ErrorCode.INSUFFICIENT_STOCK, null, 'not enough stock');
export const UNKNOWN_SKU = errorResult(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, 'unknown sku');
export const UNKNOWN_LOCATION = errorResult(
  ErrorCode.NOT_FOUND,
  Reason.UNKNOWN_LOCATION,
  'unknown location',
);
export const UNSUPPORTED = errorResult(
  ErrorCode.BAD_REQUEST,
  null,
  'baselines take setOnHand and located reserve only',
);
