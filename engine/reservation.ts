import type { ReservationState, ReservationView } from './commands.ts';
import type { Position } from './position.ts';

export class ReservationLine {
  constructor(
    readonly position: Position,
    readonly qty: number,
  ) {}
}

/**
 * A hold of stock for a channel, at one location or spread over several (network reservation).
 * After it ends (released, expired, confirmed) it stays as a tombstone for a while so that a
 * retried release or confirm gets the same answer, then it is purged.
 */
export class Reservation {
  readonly id: string;
  readonly sku: string;
  readonly channel: string;
  readonly qty: number;
  /** The location asked for, or null for a network reservation. */
  readonly requestedLocation: string | null;
  readonly lines: readonly ReservationLine[];
  readonly expiresAt: number;
  state: ReservationState = 'held';
  orderId: string | null = null;
  endedAt = 0;
  /** When the expiry scheduler next looks at it (expiry while held, purge once ended). */
  dueAt: number;
  /** Slot in the expiry heap, -1 when not in it. */
  heapIndex = -1;
  /** Neighbours in the book's list of reservations. */
  prev: Reservation | null = null;
  next: Reservation | null = null;

  constructor(
    id: string,
    sku: string,
    channel: string,
    qty: number,
    requestedLocation: string | null,
    lines: readonly ReservationLine[],
    expiresAt: number,
  ) {
    this.id = id;
    this.sku = sku;
    this.channel = channel;
    this.qty = qty;
    this.requestedLocation = requestedLocation;
    this.lines = lines;
    this.expiresAt = expiresAt;
    this.dueAt = expiresAt;
  }

  /** Same content as a repeated reserve command? (the id alone does not make it the same) */
  sameRequest(channel: string, sku: string, qty: number, location: string | null): boolean {
    return (
      this.channel === channel &&
      this.sku === sku &&
      this.qty === qty &&
      this.requestedLocation === location
    );
  }

  view(): ReservationView {
    return {
      reservationId: this.id,
      sku: this.sku,
      channel: this.channel,
      qty: this.qty,
      state: this.state,
      lines: this.lines.map((l) => ({ location: l.position.location.id, qty: l.qty })),
      expiresAt: this.expiresAt,
      orderId: this.orderId,
    };
  }
}
