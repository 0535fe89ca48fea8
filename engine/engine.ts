import type { RulesInput } from './channel-rules.ts';
import type { Clock } from './clock.ts';
import type {
  Command,
  CommandResult,
  ErrorResult,
  PositionView,
  ReservationView,
  ResultSink,
} from './commands.ts';
import type { DeltaListener } from './delta-conflation.ts';
import type { EngineStorage } from './engine-storage.ts';
import type {
  Availability,
  EngineStats,
  RulesDocument,
  SnapshotSummary,
  WatchSnapshot,
} from './engine-views.ts';
import type { LocationInput, ProductInput } from './master-data.ts';
import type { StockPort } from './stock-port.ts';

/**
 * The stock engine as the rest of Stockflow sees it: commands in, results and availability
 * deltas out, rules and master data, and two faces for the parts built on it: `storage` for
 * persistence (journal, snapshots, recovery) and `stock` for the order service (reads and
 * commands it sources with). docs/engine.md has the model.
 */
export interface Engine {
  readonly clock: Clock;

  // ---- commands
  /**
   * Routes a command to the actor that owns it; the result arrives later through
   * `sink.deliver(result, tag, command)`. Bad input and a full mailbox are answered at once.
   * The hot path: no promise, no closure per command.
   */
  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void;
  /** The same as submit, as a promise (HTTP handlers, tests, tools). */
  execute(cmd: Command): Promise<CommandResult>;
  /** Resolves when every command submitted so far has been answered. */
  settle(): Promise<void>;
  /** Resolves when everything applied so far is durable (at once without a journal). */
  durable(): Promise<void>;

  // ---- reads
  /**
   * A channel's current availability of a SKU, network-wide or at one location. A promise when
   * the SKU lives on another worker's shard (gateway/shards): `await` it either way.
   */
  availability(
    channel: string,
    sku: string,
    location?: string | null,
  ): Availability | ErrorResult | Promise<Availability | ErrorResult>;
  position(sku: string, location: string): PositionView | null;
  /**
   * True when an absolute feed row equal to the position's onHand would change nothing: the
   * position exists and has no shipments or deltas recorded since its last feed (a row counted
   * before them would be corrected for them, so it is not a no-op).
   */
  feedRowUnchanged(sku: string, location: string, onHand: number): boolean;
  /**
   * The SKUs with a position at a location (a full stock feed zeroes those it does not list); a
   * promise when SKUs are sharded over workers.
   */
  skusAt(location: string): string[] | Promise<string[]>;
  reservation(reservationId: string): ReservationView | null;

  // ---- live availability
  /**
   * Starts (or joins) a topic's deltas; answers its current value and sequence (a promise when
   * the SKU lives on another worker's shard; the watch counts from the call either way).
   */
  watch(
    channel: string,
    sku: string,
    location?: string | null,
  ): WatchSnapshot | ErrorResult | Promise<WatchSnapshot | ErrorResult>;
  unwatch(channel: string, sku: string, location?: string | null): void;
  /** Calls the listener with every batch of conflated deltas; returns the way to stop. */
  onDeltas(listener: DeltaListener): () => void;
  /** Publishes pending deltas now instead of at the end of the conflation interval. */
  flushDeltas(): void;

  // ---- rules and master data
  /**
   * Replaces the channel rules. Throws StockflowError (BAD_REQUEST) and keeps the old rules when
   * the document is invalid, UNAVAILABLE while the journal is down. Every changed availability
   * is re-published at once.
   */
  setRules(input: RulesInput): void;
  rules(): RulesDocument;
  /**
   * Adds or updates locations (durable when `durable()` resolves). An entry that would change
   * nothing is dropped before the journal; returns how many changed something. Throws
   * StockflowError (BAD_REQUEST) and applies nothing when an entry is invalid.
   */
  upsertLocations(list: readonly LocationInput[]): number;
  /** Adds SKUs (an empty book each) or changes their master data; as `upsertLocations`. */
  upsertProducts(list: readonly ProductInput[]): number;
  /** A location's master data, or null. */
  location(id: string): LocationInput | null;
  locationList(): LocationInput[];
  /** A product's master data, or null. */
  product(sku: string): ProductInput | null;
  productList(): ProductInput[];
  /**
   * Applies a location's full stock: every listed SKU is set, every position at the location
   * that the snapshot does not list goes to zero. `asOf` orders it against the location's feeds.
   */
  replaceLocationStock(
    location: string,
    asOf: number,
    lines: Iterable<{ readonly sku: string; readonly onHand: number }>,
  ): Promise<SnapshotSummary>;

  // ---- operations
  stats(): EngineStats;
  /** Stops taking commands, answers everything in flight, publishes the last deltas. */
  stop(): Promise<void>;

  /** Journal, snapshots and recovery: what persistence builds on. */
  readonly storage: EngineStorage;
  /** Reads and commands the order service (and later returns) works with. */
  readonly stock: StockPort;
}
