import type { ReservationState, ReservationView } from './commands.ts';
import type { Position } from './position.ts';

export class ReservationLine {
  constructor(
    readonly position: Position,
    readonly qty: number,
  ) {}
}

/** Builds a reservation from its lines (network split, import). */
export function reservationOf(
  id: string,
  sku: string,
  channel: string,
  qty: number,
  requestedLocation: string | null,
  lines: readonly ReservationLine[],
  expiresAt: number,
): Reservation {
  const first = lines[0];
  if (first === undefined) throw new Error(`reservation ${id} has no lines`);
  return new Reservation(
    id,
    sku,
    channel,
    qty,
    requestedLocation,
    first.position,
    first.qty,
    lines.slice(1),
    expiresAt,
  );
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
  /** The first (for a reservation at one location, the only) line, kept inline: most
   * reservations have one line, and two objects fewer per held reservation is less for the
   * garbage collector to carry. */
  readonly position: Position;
  readonly positionQty: number;
  /** Further lines of a network reservation split over locations, or null. */
  readonly more: readonly ReservationLine[] | null;
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
    position: Position,
    positionQty: number,
    more: readonly ReservationLine[] | null,
    expiresAt: number,
  ) {
    this.position = position;
    this.positionQty = positionQty;
    this.more = more !== null && more.length > 0 ? more : null;
    this.id = id;
    this.sku = sku;
    this.channel = channel;
    this.qty = qty;
    this.requestedLocation = requestedLocation;
    this.expiresAt = expiresAt;
    this.dueAt = expiresAt;
  }

  get lineCount(): number {
    return this.more === null ? 1 : 1 + this.more.length;
  }

  linePosition(i: number): Position {
    return i === 0 ? this.position : (this.more?.[i - 1] as ReservationLine).position;
  }

  lineQty(i: number): number {
    return i === 0 ? this.positionQty : (this.more?.[i - 1] as ReservationLine).qty;
  }

  /** The lines as objects (views, export); not for the hot path. */
  lineList(): ReservationLine[] {
    const out = [new ReservationLine(this.position, this.positionQty)];
    if (this.more !== null) out.push(...this.more);
    return out;
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
      lines:
        this.more === null
          ? [{ location: this.position.location.id, qty: this.positionQty }]
          : this.lineList().map((l) => ({ location: l.position.location.id, qty: l.qty })),
      expiresAt: this.expiresAt,
      orderId: this.orderId,
    };
  }
}
