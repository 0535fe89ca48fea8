import type { ErrorCode, Reason } from './errors.ts';

/**
 * Commands into the engine and the results that come back. Every command that changes state is
 * idempotent under its id: sent twice with the same content it has one effect and the same
 * answer; sent with the same id and other content it is refused with CONFLICT / ID_REUSED.
 */

/** Absolute stock from a location's feed. `asOf` is the source's sequence or timestamp: an update
 * not newer than the last one applied to the position is ignored and counted as stale. */
export interface SetOnHandCommand {
  readonly op: 'setOnHand';
  readonly sku: string;
  readonly location: string;
  readonly onHand: number;
  readonly asOf: number;
}

/** A stock delta (receipt, count correction, damage). `asOf`, when given, orders it against
 * absolute feeds: a delta not newer than the last absolute update is already in it and ignored. */
export interface AdjustCommand {
  readonly op: 'adjust';
  readonly adjustmentId: string;
  readonly sku: string;
  readonly location: string;
  readonly delta: number;
  readonly asOf?: number | undefined;
}

/** Hold `qty` for a channel at one location, or network-wide when `location` is omitted. */
export interface ReserveCommand {
  readonly op: 'reserve';
  readonly reservationId: string;
  readonly channel: string;
  readonly sku: string;
  readonly qty: number;
  readonly location?: string | undefined;
  readonly ttlMs?: number | undefined;
  /**
   * Set by the engine only, never by a client (refused): the [location, qty] lines a network
   * reservation was split into, kept in the journal when a location ranker chose them, so
   * replay does not depend on the ranker's inputs (sourcing config, backlog) at replay time.
   */
  readonly lines?: readonly (readonly [string, number])[] | undefined;
}

/**
 * Allocates `qty` at one location to an order directly, as a reserve and confirm in one step
 * (sourcing allocates this way): granted only within the channel's availability there.
 * Idempotent under `allocationId`, scoped to the SKU like adjust.
 */
export interface AllocateCommand {
  readonly op: 'allocate';
  readonly allocationId: string;
  readonly orderId: string;
  readonly channel: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
}

export interface ReleaseCommand {
  readonly op: 'release';
  readonly reservationId: string;
  /** When given, the reservation must be this channel's (FORBIDDEN otherwise): checked in the
   * owning actor's turn, so it holds even while the reserve is still on its way. */
  readonly channel?: string | undefined;
}

/** A held reservation becomes an allocation of the order. */
export interface ConfirmCommand {
  readonly op: 'confirm';
  readonly reservationId: string;
  readonly orderId: string;
  /** As for release. */
  readonly channel?: string | undefined;
}

/** Hands back part of an order's allocation at a location (cancellation, re-sourcing). */
export interface DeallocateCommand {
  readonly op: 'deallocate';
  readonly requestId: string;
  readonly orderId: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
}

/** Units of an order leave the location: allocated and onHand go down together. */
export interface ShipCommand {
  readonly op: 'ship';
  readonly shipmentId: string;
  readonly orderId: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
}

/** Ends a held reservation whose time is up. Issued by the engine's expiry scheduler (and by
 * journal replay with the time it was issued at), never by clients. */
export interface ExpireCommand {
  readonly op: 'expire';
  readonly reservationId: string;
  readonly at: number;
}

export type Command =
  | SetOnHandCommand
  | AdjustCommand
  | ReserveCommand
  | ReleaseCommand
  | ConfirmCommand
  | AllocateCommand
  | DeallocateCommand
  | ShipCommand
  | ExpireCommand;

export type CommandOp = Command['op'];

export const COMMAND_OPS: readonly CommandOp[] = Object.freeze([
  'setOnHand',
  'adjust',
  'reserve',
  'release',
  'confirm',
  'allocate',
  'deallocate',
  'ship',
  'expire',
]);

export type ReservationState = 'held' | 'released' | 'expired' | 'confirmed';

export interface LocationQty {
  readonly location: string;
  readonly qty: number;
}

/** What a position holds, after a command that touched it. */
export interface PositionView {
  readonly sku: string;
  readonly location: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly allocated: number;
}

export interface ReservationView {
  readonly reservationId: string;
  readonly sku: string;
  readonly channel: string;
  readonly qty: number;
  readonly state: ReservationState;
  readonly lines: readonly LocationQty[];
  readonly expiresAt: number;
  readonly orderId: string | null;
}

export interface OkResult {
  readonly ok: true;
  /** False when the command had no effect: a stale feed, or a repeat of an id already applied. */
  readonly applied: boolean;
  /** True when the command repeated an id that was already applied (an idempotent replay). */
  readonly duplicate: boolean;
  readonly position: PositionView | null;
  readonly reservation: ReservationView | null;
}

export interface ErrorResult {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly reason: Reason | null;
  readonly message: string;
  /** For INSUFFICIENT_STOCK: what the channel could have had. */
  readonly available: number | null;
}

export type CommandResult = OkResult | ErrorResult;

/**
 * Where results go. The gateway passes one sink per connection plus a tag (its request id), so
 * the hot path allocates no closure per command.
 */
export interface ResultSink<Tag = unknown> {
  deliver(result: CommandResult, tag: Tag, command: Command): void;
}
