import { ErrorCode, Reason, type StockEngine } from '../engine/index.ts';
import type { Principal } from './auth.ts';

/** Why a principal may not release or confirm a reservation. */
export class AccessRefusal {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
    readonly reason: Reason | null,
  ) {}
}

/**
 * A storefront may release or confirm only its own channel's reservations; admin keys may touch
 * any; location keys none. The engine knows a reservation's channel once its reserve has been
 * applied, so a reservation whose reserve is still in flight is NOT_FOUND for a storefront key
 * (send the release after the reserve's reply). Returns null when access is granted.
 */
export function reservationAccess(
  engine: StockEngine,
  principal: Principal,
  reservationId: string,
): AccessRefusal | null {
  if (principal.isAdmin) return null;
  if (principal.role !== 'storefront') {
    return new AccessRefusal(
      ErrorCode.FORBIDDEN,
      `key ${principal.name} may not touch reservations`,
      null,
    );
  }
  const view = engine.reservation(reservationId);
  if (view === null) {
    return new AccessRefusal(
      ErrorCode.NOT_FOUND,
      `unknown reservation ${reservationId}`,
      Reason.UNKNOWN_RESERVATION,
    );
  }
  if (view.channel !== principal.channel) {
    return new AccessRefusal(
      ErrorCode.FORBIDDEN,
      `reservation ${reservationId} belongs to another channel than key ${principal.name}'s`,
      null,
    );
  }
  return null;
}
