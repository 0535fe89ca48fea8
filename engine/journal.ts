import type { RulesInput } from './channel-rules.ts';
import type { Command } from './commands.ts';
import type { LocationInput, ProductInput } from './master-data.ts';
import type { OrderAck, OrderEvent } from './orders/order-events.ts';
import type { OrderSnapshot } from './orders/order-state.ts';

/** A state change as the journal keeps it: replaying records in `seq` order on the state they
 * were applied to reproduces the engine exactly (time included: `at` is the engine's clock when
 * it was applied, and replay reads the clock from the record, never from the wall). */
export type JournalEntry =
  | { readonly type: 'command'; readonly cmd: Command }
  | { readonly type: 'rules'; readonly rules: RulesInput }
  | { readonly type: 'locations'; readonly locations: readonly LocationInput[] }
  | { readonly type: 'products'; readonly products: readonly ProductInput[] }
  | { readonly type: 'order'; readonly event: OrderEvent }
  | { readonly type: 'acks'; readonly acks: readonly OrderAck[] };

export interface JournalRecord {
  readonly seq: number;
  readonly at: number;
  readonly entry: JournalEntry;
}

/**
 * The engine's port to a durable store (persistence/ implements it). The engine applies commands
 * in memory, hands the records of each group commit to `append` and answers the commands only
 * when it resolves. When it rejects the outcome is unknown: the engine takes the changes back out
 * of memory, answers UNAVAILABLE and calls `resync` until the store answers again.
 */
export interface JournalWriter {
  /** Makes the records durable, in order, in one write. */
  append(records: readonly JournalRecord[]): Promise<void>;
  /**
   * After a failed append: brings the store back to a known state and returns the records after
   * `durableSeq` that reached it anyway (the engine applies them), or rejects while the store is
   * still unavailable.
   */
  resync(durableSeq: number): Promise<readonly JournalRecord[]>;
}

/**
 * State kept beside the SKU books in the same journal and snapshots: the order service. One
 * journal gives one order of events for stock and orders, so recovery never sees an order event
 * without the stock changes recorded before it.
 */
export interface JournalParticipant {
  /** Applies a journaled event at recovery or resync; false when the state already holds it. */
  replay(event: OrderEvent, seq: number): boolean;
  /** Applies journaled acknowledgements to the orders that do not hold them yet. */
  replayAcks(acks: readonly OrderAck[], seq: number): boolean;
  /** Every order as snapshot items (called between turns). */
  snapshotItems(): Iterator<OrderSnapshot>;
  importItem(item: OrderSnapshot): void;
  /** Drops all state (an import starts). */
  clear(): void;
}
