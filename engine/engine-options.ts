import type { Logger } from 'pino';
import type { RulesInput } from './channel-rules.ts';
import type { Clock } from './clock.ts';
import type { LocationInput, ProductInput } from './master-data.ts';

/**
 * The engine's tunables. Every one has a default in ENGINE_DEFAULTS, the one place they are
 * written (the configuration schema takes its defaults from there).
 */
export interface EngineOptions {
  readonly rules: RulesInput;
  readonly locations?: readonly LocationInput[] | undefined;
  readonly products?: readonly ProductInput[] | undefined;
  readonly clock?: Clock | undefined;
  readonly logger?: Logger | undefined;
  /** Actors that own the SKU books (see partition-actors.ts). */
  readonly partitions?: number | undefined;
  /** Commands queued for one SKU beyond which new ones are answered BUSY. */
  readonly maxQueuedPerSku?: number | undefined;
  /** Conflation interval of availability deltas. */
  readonly conflationMs?: number | undefined;
  /** Longest reservation TTL a client may ask for. */
  readonly maxReservationTtlMs?: number | undefined;
  /** How long an ended reservation is remembered for idempotent retries. */
  readonly tombstoneTtlMs?: number | undefined;
  /** Idempotency ids (adjust, ship, deallocate) remembered per SKU. */
  readonly idempotencyWindow?: number | undefined;
}

export const ENGINE_DEFAULTS = Object.freeze({
  partitions: 64,
  maxQueuedPerSku: 10_000,
  conflationMs: 50,
  maxReservationTtlMs: 24 * 3_600_000,
  tombstoneTtlMs: 3_600_000,
  idempotencyWindow: 4_096,
});
