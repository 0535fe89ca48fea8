import type { RulesInput } from './channel-rules.ts';
import type { Command } from './commands.ts';
import type { LocationInput, ProductInput } from './master-data.ts';

/**
 * A state change as the journal keeps it: replaying records in `seq` order on the state they
 * were applied to reproduces the engine exactly (time included: `at` is the engine's clock when
 * it was applied, and replay reads the clock from the record, never from the wall).
 *
 * The engine's own entries are stock commands, rules and master data. `ext` entries belong to a
 * journal extension (the order service, later returns): the engine stores and replays them in
 * order with its own and never looks inside.
 */
export type JournalEntry =
  | { readonly type: 'command'; readonly cmd: Command }
  | { readonly type: 'rules'; readonly rules: RulesInput }
  | { readonly type: 'locations'; readonly locations: readonly LocationInput[] }
  | { readonly type: 'products'; readonly products: readonly ProductInput[] }
  | ExtensionEntry;

/** A journal extension's record, named by the extension's kind. */
export interface ExtensionEntry {
  readonly type: 'ext';
  readonly kind: string;
  readonly record: unknown;
}

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

/** One item of an extension's state in a snapshot. `kind` names the extension it belongs to. */
export interface ExtensionItem {
  readonly kind: string;
  /** Journal sequence of the last record applied to the item (replay skips what is below). */
  readonly lsn: number;
}

/**
 * State kept beside the SKU books in the same journal and snapshots (the order service, later
 * returns). One journal gives one order of events for stock and for them, so recovery never sees
 * an order event without the stock changes recorded before it. Any number may be registered, one
 * per kind; each has its own record type `R` and snapshot item type `S`.
 */
export interface JournalExtension<R, S extends ExtensionItem> {
  /** Names its journal entries and snapshot items; unique per engine. */
  readonly kind: string;
  /** Applies a journaled record at recovery or resync; false when the state already holds it. */
  replay(record: R, seq: number): boolean;
  /** Its whole state as snapshot items (called between turns). */
  snapshotItems(): Iterator<S>;
  importItem(item: S): void;
  /** Drops all state (an import starts). */
  clear(): void;
}

/**
 * What an extension gets back when it registers: its way into the journal. `record` journals a
 * record the extension has just applied in memory and returns its sequence (0 without a
 * journal); `revert` takes it back if the write fails (the same rule as for commands). Wait for
 * the engine's `durable()` before telling anyone outside. Throws StockflowError UNAVAILABLE while
 * the journal is down or the engine stopped.
 */
export interface ExtensionJournal<R> {
  record(record: R, revert: () => void): number;
}
