import { ErrorCode, Reason } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import { AccessRefusal } from './reservation-access.ts';

/**
 * Who may do what with orders and fulfilments (docs/api.md, "Orders"), the same over HTTP and
 * the WebSocket. Orders are the storefronts' (their own channel's) and the admin's; fulfilments
 * the locations' (their own location's) and the admin's. Whether a given order or fulfilment is
 * the caller's is checked by the order service inside the order's own turn: the binding returned
 * here travels with the request. A foreign order or fulfilment is FORBIDDEN (reason
 * OTHER_CHANNEL / OTHER_LOCATION), an unknown one NOT_FOUND, as for reservations.
 */

/** The channel an order request is bound to: the storefront's; null (any) for admin keys. */
export function orderChannel(principal: Principal): string | null | AccessRefusal {
  if (principal.isAdmin) return null;
  if (principal.role === 'storefront' && principal.channel !== null) return principal.channel;
  return new AccessRefusal(
    ErrorCode.FORBIDDEN,
    `key ${principal.name} may not place, read or cancel orders`,
    null,
  );
}

/** The location a fulfilment request is bound to: the location key's; null (any) for admin. */
export function fulfilmentLocation(principal: Principal): string | null | AccessRefusal {
  if (principal.isAdmin) return null;
  if (principal.role === 'location' && principal.location !== null) return principal.location;
  return new AccessRefusal(
    ErrorCode.FORBIDDEN,
    `key ${principal.name} may not read or answer fulfilments`,
    null,
  );
}

/** Refuses a read of another channel's order (the order service checks writes itself). */
export function otherChannel(
  principal: Principal,
  orderId: string,
  channel: string,
): AccessRefusal | null {
  if (principal.isAdmin || principal.channel === channel) return null;
  return new AccessRefusal(
    ErrorCode.FORBIDDEN,
    `order ${orderId} is not channel ${String(principal.channel)}'s`,
    Reason.OTHER_CHANNEL,
  );
}

/** Refuses a read of another location's fulfilment. */
export function otherLocation(
  principal: Principal,
  fulfilmentId: string,
  location: string,
): AccessRefusal | null {
  if (principal.isAdmin || principal.location === location) return null;
  return new AccessRefusal(
    ErrorCode.FORBIDDEN,
    `fulfilment ${fulfilmentId} is not location ${String(principal.location)}'s`,
    Reason.OTHER_LOCATION,
  );
}
