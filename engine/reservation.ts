import type { ReservationState, ReservationView } from './commands.ts';
import type { Position } from './position.ts';
import type { ReservationTimes } from './reservation-times.ts';

export class ReservationLine {
  constructor(
    readonly position: Position,
    readonly qty: number,
  ) {}
}

/** Builds a reservation from its lines (network split, import). */
export function reservationOf(
  id: string,
  channel: string,
  qty: number,
  requestedLocation: string | null,
  lines: readonly ReservationLine[],
  expiresAt: number,
  times: ReservationTimes,
): Reservation {
  const first = lines[0];
  if (first === undefined) throw new Error(`reservation ${id} has no lines`);
  return new Reservation(
    id,
    channel,
    qty,
    requestedLocation,
    first.position,
    first.qty,
    lines.slice(1),
    expiresAt,
    times,
  );
}

/** `lines` of a network reservation held at one location. */
const ONE_LINE: readonly ReservationLine[] = Object.freeze([]);

/**
 * A hold of stock for a channel, at one location or spread over several (network reservation).
 * After it ends (released, expired, confirmed) it stays as a tombstone for a while so that a
 * retried release or confirm gets the same answer, then it is purged.
 *
 * A flash sale holds millions, so it is kept small: what can be derived is not a field. Its
 * lines are its position and qty when it was asked at a location (`lines` null); a network
 * reservation held at one location has ONE_LINE; one split over locations has all its lines.
 */
export class Reservation {
  readonly id: string;
  readonly channel: string;
  readonly qty: number;
  /** The first (for most reservations the only) line's position, kept inline: two objects fewer
   * per held reservation is less for the garbage collector to carry. */
  readonly position: Position;
  /** See the class comment. */
  private readonly lines: readonly ReservationLine[] | null;
  state: ReservationState = 'held';
  orderId: string | null = null;
  /** Where its times are kept (expiresAt, endedAt, dueAt), and its row there (-1 once given
   * back). */
  readonly times: ReservationTimes;
  private handle: number;
  /** Slot in the expiry heap, -1 when not in it. */
  heapIndex = -1;
  /** Neighbours in the book's list of reservations. */
  prev: Reservation | null = null;
  next: Reservation | null = null;

  constructor(
    id: string,
    channel: string,
    qty: number,
    requestedLocation: string | null,
    position: Position,
    positionQty: number,
    more: readonly ReservationLine[] | null,
    expiresAt: number,
    times: ReservationTimes,
  ) {
    const split = more !== null && more.length > 0;
    if (requestedLocation !== null) {
      // Asked at a location: held there alone (the book never splits it).
      if (split || positionQty !== qty || position.location.id !== requestedLocation) {
        throw new Error(`reservation ${id} at ${requestedLocation} must be one line there`);
      }
      this.lines = null;
    } else {
      this.lines =
        split || positionQty !== qty
          ? [new ReservationLine(position, positionQty), ...(more ?? [])]
          : ONE_LINE;
    }
    this.position = position;
    this.id = id;
    this.channel = channel;
    this.qty = qty;
    this.times = times;
    this.handle = times.take(expiresAt, 0, expiresAt);
  }

  get expiresAt(): number {
    return this.times.expiresAt(this.handle);
  }

  /** When it ended (released, expired, confirmed); 0 while held. */
  get endedAt(): number {
    return this.times.endedAt(this.handle);
  }

  set endedAt(at: number) {
    this.times.setEndedAt(this.handle, at);
  }

  /** When the expiry scheduler next looks at it (expiry while held, purge once ended). */
  get dueAt(): number {
    return this.times.dueAt(this.handle);
  }

  set dueAt(at: number) {
    this.times.setDueAt(this.handle, at);
  }

  /** It is gone for good: its row of times is given back (once). */
  dispose(): void {
    if (this.handle === -1) return;
    this.times.giveBack(this.handle);
    this.handle = -1;
  }

  /** Its SKU: every line is a position of it (not a field: a held reservation is smaller). */
  get sku(): string {
    return this.position.sku;
  }

  /** The location asked for, or null for a network reservation. */
  get requestedLocation(): string | null {
    return this.lines === null ? this.position.location.id : null;
  }

  get lineCount(): number {
    const lines = this.lines;
    return lines === null || lines.length === 0 ? 1 : lines.length;
  }

  linePosition(i: number): Position {
    const lines = this.lines;
    return lines === null || lines.length === 0
      ? this.position
      : (lines[i] as ReservationLine).position;
  }

  lineQty(i: number): number {
    const lines = this.lines;
    return lines === null || lines.length === 0 ? this.qty : (lines[i] as ReservationLine).qty;
  }

  /** The lines as objects (views, export); not for the hot path. */
  lineList(): ReservationLine[] {
    const lines = this.lines;
    return lines === null || lines.length === 0
      ? [new ReservationLine(this.position, this.qty)]
      : [...lines];
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
        this.lines === null || this.lines.length === 0
          ? this.position.location.lines(this.qty)
          : this.lines.map((l) => ({ location: l.position.location.id, qty: l.qty })),
      expiresAt: this.expiresAt,
      orderId: this.orderId,
    };
  }
}
