import { ErrorCode, type Reason } from '../engine/index.ts';
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
 * any; location keys none. The channel is checked by the engine in the owning actor's turn (see
 * `reservationChannel`), so it holds for a release sent while its reserve is still on its way.
 * Returns null when the key's role may touch reservations at all.
 */
export function reservationAccess(principal: Principal): AccessRefusal | null {
  if (principal.isAdmin || principal.role === 'storefront') return null;
  return new AccessRefusal(
    ErrorCode.FORBIDDEN,
    `key ${principal.name} may not touch reservations`,
    null,
  );
}

/** The channel a release or confirm must match: the storefront's own; none for admin keys. */
export function reservationChannel(principal: Principal): string | undefined {
  return principal.isAdmin ? undefined : (principal.channel ?? undefined);
}
