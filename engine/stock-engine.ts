import { pino, type Logger } from 'pino';
import { ChannelRules, type Channel, type RulesInput } from './channel-rules.ts';
import { SystemClock, type Clock } from './clock.ts';
import { validateCommand } from './command-validation.ts';
import type {
  Command,
  CommandResult,
  ErrorResult,
  PositionView,
  ReservationView,
  ResultSink,
} from './commands.ts';
import { DeltaConflation, topicOf, type DeltaListener } from './delta-conflation.ts';
import { ErrorCode, Reason, StockflowError } from './errors.ts';
import { isValidId, Location, type LocationInput, type ProductInput } from './master-data.ts';
import { Envelope, PartitionActors } from './partition-actors.ts';
import type { Position } from './position.ts';
import type { Reservation } from './reservation.ts';
import { DueQueue } from './due-queue.ts';
import { fail } from './results.ts';
import { SkuBook, Watch, type BookContext } from './sku-book.ts';
import { ReservationIndex, type ReservationSlot } from './reservation-index.ts';
import {
  exportBook,
  exportState,
  importBooks,
  type EngineState,
  type SkuState,
} from './engine-state.ts';
import { CommitPipeline } from './commit-pipeline.ts';
import type { JournalEntry, JournalParticipant, JournalRecord, JournalWriter } from './journal.ts';
import type { LocationRanker } from './location-ranker.ts';
import type { OrderAck, OrderEvent } from './orders/order-events.ts';
import type { OrderSnapshot } from './orders/order-state.ts';
import { rollback, type UndoEntry, type UndoLog, type UndoTarget } from './undo-log.ts';

export interface EngineOptions {
  readonly rules: RulesInput;
  readonly locations?: readonly LocationInput[] | undefined;
  readonly products?: readonly ProductInput[] | undefined;
  readonly clock?: Clock | undefined;
  readonly logger?: Logger | undefined;
  /** Actors that own the SKU books (see partition-actors.ts). Default 64. */
  readonly partitions?: number | undefined;
  /** Commands queued for one SKU beyond which new ones are answered BUSY. Default 10,000. */
  readonly maxQueuedPerSku?: number | undefined;
  /** Conflation interval of availability deltas. Default 50 ms. */
  readonly conflationMs?: number | undefined;
  /** Longest reservation TTL a client may ask for. Default 24 h. */
  readonly maxReservationTtlMs?: number | undefined;
  /** How long an ended reservation is remembered for idempotent retries. Default 1 h. */
  readonly tombstoneTtlMs?: number | undefined;
  /** Idempotency ids (adjust, ship, deallocate) remembered per SKU. Default 4,096. */
  readonly idempotencyWindow?: number | undefined;
}

export interface Availability {
  readonly ok: true;
  readonly channel: string;
  readonly sku: string;
  readonly location: string | null;
  readonly available: number;
}

export interface WatchSnapshot {
  readonly ok: true;
  readonly topic: string;
  readonly available: number;
  /** The topic's sequence now; the next delta carries seq + 1. */
  readonly seq: number;
}

export interface EngineStats {
  readonly skus: number;
  readonly positions: number;
  readonly locations: number;
  readonly reservations: number;
  readonly partitions: number;
  readonly queued: number;
  readonly watchedTopics: number;
  readonly staleFeeds: number;
  readonly busyRejections: number;
  readonly actorFailures: number;
  readonly deltasPublished: number;
  readonly deltasConflated: number;
}

/** The result of a location's full stock snapshot. */
export interface SnapshotSummary {
  readonly location: string;
  readonly applied: number;
  readonly stale: number;
  readonly zeroed: number;
  readonly rejected: number;
  /** The first few rejected lines with their reason (at most 100). */
  readonly errors: readonly {
    readonly sku: string;
    readonly code: string;
    readonly message: string;
  }[];
}

const DEFAULTS = {
  partitions: 64,
  maxQueuedPerSku: 10_000,
  conflationMs: 50,
  maxReservationTtlMs: 24 * 3_600_000,
  tombstoneTtlMs: 3_600_000,
  idempotencyWindow: 4_096,
} as const;

class PromiseSink implements ResultSink<(r: CommandResult) => void> {
  deliver(result: CommandResult, resolve: (r: CommandResult) => void): void {
    resolve(result);
  }
}
const PROMISE_SINK = new PromiseSink();

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The stock engine: SKU books owned by actors, commands in, results and availability deltas out.
 * See docs/engine.md for the model and README.md for the API in brief.
 */
export class StockEngine implements BookContext, UndoTarget {
  readonly clock: Clock;
  readonly log: Logger;
  rules: ChannelRules;
  readonly maxReservationTtlMs: number;
  readonly tombstoneTtlMs: number;
  readonly idempotencyWindow: number;
  private readonly maxQueuedPerSku: number;
  private readonly books = new Map<string, SkuBook>();
  private readonly locations = new Map<string, Location>();
  private readonly positionsAt = new Map<string, Position[]>();
  /** Which book owns each reservation id (claimed when a reserve is accepted for routing). */
  private readonly reservationIndex = new ReservationIndex();
  /** The slot `route` found for the command it just routed (null when it names no reservation). */
  private routedSlot: ReservationSlot | null = null;
  private readonly actors: PartitionActors;
  /** Reservation time for the whole engine (expiry while held, purge after the tombstone time). */
  private readonly expiry: DueQueue<Reservation>;
  private readonly conflation: DeltaConflation;
  private positionCount = 0;
  private watchedTopics = 0;
  private staleFeeds = 0;
  private busyRejections = 0;
  private actorFailures = 0;
  private stopped = false;
  /** Group commit to the journal; null when the engine runs in memory only. */
  private pipeline: CommitPipeline | null = null;
  undo: UndoLog | null = null;
  /** The engine's time while a batch or a replayed record is applied (one instant per batch). */
  private frozenNow: number | null = null;
  /** Journal sequence of the last rules or master-data record applied. */
  private metaLsn = 0;
  /** Bumped by every change to locations, so readers can cache what they derive from them. */
  locationsVersion = 0;
  /** Chooses the locations of network reservations (the order service's sourcing). */
  ranker: LocationRanker | null = null;
  /** The order service, journaled and snapshotted with the books. */
  private participant: JournalParticipant | null = null;
  private resyncTimer: ReturnType<Clock['schedule']> | null = null;
  private resyncDelayMs = 100;
  private readonly commitObservers: ((records: number, ms: number) => void)[] = [];
  /** Journal statistics for metrics. */
  readonly journalStats = { commits: 0, records: 0, lastCommitMs: 0, failures: 0, resyncs: 0 };

  constructor(options: EngineOptions) {
    this.clock = options.clock ?? new SystemClock();
    this.log = options.logger ?? pino({ level: 'silent' });
    this.rules = new ChannelRules(options.rules, 1);
    this.maxReservationTtlMs = options.maxReservationTtlMs ?? DEFAULTS.maxReservationTtlMs;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? DEFAULTS.tombstoneTtlMs;
    this.idempotencyWindow = options.idempotencyWindow ?? DEFAULTS.idempotencyWindow;
    this.maxQueuedPerSku = options.maxQueuedPerSku ?? DEFAULTS.maxQueuedPerSku;
    const partitions = options.partitions ?? DEFAULTS.partitions;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new StockflowError(ErrorCode.BAD_REQUEST, 'partitions must be a whole number >= 1');
    }
    this.actors = new PartitionActors(
      partitions,
      (batch) => {
        this.runBatch(batch);
      },
      (error, batch) => {
        this.log.error({ err: error, batch: batch.length }, 'partition actor crashed');
      },
    );
    this.expiry = new DueQueue<Reservation>(this.clock, (reservation, now) => {
      this.due(reservation, now);
    });
    this.conflation = new DeltaConflation(
      this.clock,
      options.conflationMs ?? DEFAULTS.conflationMs,
      () => this.rules,
    );
    if (options.locations) this.upsertLocations(options.locations);
    if (options.products) this.upsertProducts(options.products);
  }

  // ---- commands ---------------------------------------------------------------------------

  /**
   * Routes a command to the actor that owns it; the result arrives later through
   * `sink.deliver(result, tag, command)`. Bad input and a full mailbox are answered at once.
   * This is the hot path: no promise, no closure per command.
   */
  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void {
    const answer = this.route(cmd);
    if (answer instanceof SkuBook) {
      answer.pending++;
      this.actors.submit(answer.partition, new Envelope(cmd, answer, this.routedSlot, sink, tag));
    } else {
      sink.deliver(answer, tag, cmd);
    }
  }

  /** The same as submit, as a promise (HTTP handlers, tests, tools). */
  execute(cmd: Command): Promise<CommandResult> {
    return new Promise((resolve) => {
      this.submit(cmd, PROMISE_SINK, resolve);
    });
  }

  private route(cmd: Command): SkuBook | ErrorResult {
    if (this.stopped) return fail(ErrorCode.UNAVAILABLE, Reason.STOPPED, 'engine is stopped');
    if (this.pipeline?.broken === true) {
      return fail(
        ErrorCode.UNAVAILABLE,
        Reason.STORE_UNAVAILABLE,
        'the journal is unavailable; retry',
      );
    }
    const invalid = validateCommand(cmd, this.maxReservationTtlMs);
    if (invalid !== null) return invalid;
    let book: SkuBook | undefined;
    this.routedSlot = null;
    switch (cmd.op) {
      case 'release':
      case 'confirm':
      case 'expire':
        this.routedSlot = this.reservationIndex.get(cmd.reservationId) ?? null;
        book = this.routedSlot?.book;
        if (book === undefined) {
          return fail(
            ErrorCode.NOT_FOUND,
            Reason.UNKNOWN_RESERVATION,
            `unknown reservation ${cmd.reservationId}`,
          );
        }
        break;
      default:
        book = this.books.get(cmd.sku);
        if (book === undefined) {
          return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${cmd.sku}`);
        }
    }
    if (book.pending >= this.maxQueuedPerSku) {
      this.busyRejections++;
      return fail(ErrorCode.BUSY, Reason.MAILBOX_FULL, `sku ${book.sku} is busy, retry shortly`);
    }
    if (cmd.op === 'reserve') {
      const slot = this.reservationIndex.claim(cmd.reservationId, book);
      if (slot === null) {
        return fail(
          ErrorCode.CONFLICT,
          Reason.ID_REUSED,
          `reservation ${cmd.reservationId} belongs to another sku`,
        );
      }
      slot.inflight++;
      this.routedSlot = slot;
    }
    return book;
  }

  /** Runs inside a partition actor's turn. */
  private runBatch(batch: readonly Envelope[]): void {
    const pipeline = this.pipeline;
    this.frozenNow = this.clock.now();
    for (const e of batch) {
      let result: CommandResult;
      if (pipeline?.broken === true) {
        result = fail(
          ErrorCode.UNAVAILABLE,
          Reason.STORE_UNAVAILABLE,
          'the journal is unavailable; retry',
        );
      } else {
        try {
          this.reservationIndex.current = e.slot;
          result = e.book.apply(e.cmd, this);
        } catch (error) {
          // A bug, not an outcome: contain it to this command, restore the book's counters from
          // its reservations and allocations, and keep the actor serving.
          this.actorFailures++;
          this.log.error({ err: error, op: e.cmd.op, sku: e.book.sku }, 'command failed in actor');
          e.book.repair();
          this.changed(e.book);
          result = fail(ErrorCode.INTERNAL, Reason.ACTOR_FAILED, 'internal error; state restored');
        }
        if (pipeline !== null && result.ok && result.applied) {
          this.undo?.lsn(e.book);
          e.book.lsn = pipeline.record(
            { type: 'command', cmd: this.journaled(e.cmd, result) },
            this.frozenNow,
          );
        }
      }
      e.book.pending--;
      if (e.cmd.op === 'reserve' && e.slot !== null) {
        // A reserve was answered: an id that ended up holding nothing is free again.
        e.slot.inflight--;
        this.reservationIndex.release(e.slot);
      }
      if (pipeline === null) this.deliver(e, result);
      else pipeline.hold(e, result);
    }
    this.frozenNow = null;
    this.reservationIndex.current = null;
  }

  /** A network reservation split by a ranker is journaled with its lines (see ReserveCommand). */
  private journaled(cmd: Command, result: CommandResult): Command {
    if (cmd.op !== 'reserve' || cmd.location !== undefined || this.ranker === null) return cmd;
    const lines = result.ok ? result.reservation?.lines : undefined;
    if (lines === undefined) return cmd;
    return { ...cmd, lines: lines.map((l) => [l.location, l.qty] as const) };
  }

  private deliver(e: Envelope, result: CommandResult): void {
    try {
      e.sink.deliver(result, e.tag, e.cmd);
    } catch (error) {
      this.log.error({ err: error, op: e.cmd.op }, 'result sink threw');
    }
  }

  /** Resolves when every command submitted so far has been answered. */
  settle(): Promise<void> {
    return this.actors.idle();
  }

  // ---- BookContext ---------------------------------------------------------------------------

  now(): number {
    return this.frozenNow ?? this.clock.now();
  }

  location(id: string): Location | undefined {
    return this.locations.get(id);
  }

  schedule(reservation: Reservation): void {
    this.expiry.schedule(reservation);
  }

  changed(book: SkuBook): void {
    if (book.watches !== null) this.conflation.enqueue(book);
  }

  staleFeed(): void {
    this.staleFeeds++;
  }

  positionAdded(p: Position): void {
    let list = this.positionsAt.get(p.location.id);
    if (list === undefined) {
      list = [];
      this.positionsAt.set(p.location.id, list);
    }
    list.push(p);
    this.positionCount++;
  }

  /** A reservation's time came: expiry while held, purge after its tombstone time. */
  private due(reservation: Reservation, now: number): void {
    const book = this.books.get(reservation.sku);
    if (book === undefined) return;
    book.pending++;
    this.actors.submit(
      book.partition,
      new Envelope(
        { op: 'expire', reservationId: reservation.id, at: now },
        book,
        this.reservationIndex.get(reservation.id) ?? null,
        NULL_SINK,
        null,
      ),
    );
  }

  // ---- master data and rules -----------------------------------------------------------------

  /**
   * Adds or updates locations. With a journal the change is applied at once and durable when
   * `durable()` resolves; while the journal is unavailable it is refused (UNAVAILABLE).
   */
  upsertLocations(list: readonly LocationInput[]): void {
    for (const input of list) {
      if (!isValidId(input.id) || typeof input.type !== 'string' || input.type.length === 0) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `bad location ${input.id}`, {
          reason: Reason.INVALID_ID,
        });
      }
    }
    this.beforeMeta();
    this.applyLocations(list);
    this.journalMeta({ type: 'locations', locations: list });
  }

  private applyLocations(list: readonly LocationInput[]): void {
    this.locationsVersion++;
    for (const input of list) {
      const existing = this.locations.get(input.id);
      this.undo?.location(input.id, existing);
      if (existing === undefined) {
        this.locations.set(input.id, new Location(input));
        continue;
      }
      const retyped = existing.type !== input.type;
      existing.update(input);
      if (retyped) this.reevaluateAt(input.id);
    }
  }

  private reevaluateAt(locationId: string): void {
    for (const p of this.positionsAt.get(locationId) ?? []) this.reevaluate(this.books.get(p.sku));
  }

  /** Adds SKUs (an empty book each) or changes their group. */
  upsertProducts(list: readonly ProductInput[]): void {
    for (const input of list) {
      if (!isValidId(input.sku)) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `bad sku ${String(input.sku)}`, {
          reason: Reason.INVALID_ID,
        });
      }
    }
    this.beforeMeta();
    this.applyProducts(list);
    this.journalMeta({ type: 'products', products: list });
  }

  private applyProducts(list: readonly ProductInput[]): void {
    for (const input of list) {
      const group = input.group ?? '';
      const existing = this.books.get(input.sku);
      if (existing === undefined) {
        const partition = fnv1a(input.sku) % this.actors.count;
        this.books.set(input.sku, new SkuBook(input.sku, group, partition, this.reservationIndex));
        this.undo?.product(input.sku, null, group);
      } else if (existing.group !== group) {
        this.undo?.product(input.sku, existing, existing.group);
        existing.group = group;
        this.reevaluate(existing);
      }
    }
  }

  /** Replaces the channel rules. Throws StockflowError (BAD_REQUEST) and keeps the old rules
   * when the document is invalid. Every changed availability is re-published at once. */
  setRules(input: RulesInput): void {
    const next = new ChannelRules(input, this.rules.version + 1);
    this.beforeMeta();
    this.installRules(next);
    this.journalMeta({ type: 'rules', rules: input });
  }

  private installRules(next: ChannelRules): void {
    this.undo?.rules(this.rules);
    this.rules = next;
    for (const book of this.books.values()) this.reevaluate(book);
    this.conflation.flush();
  }

  private beforeMeta(): void {
    if (this.pipeline?.broken === true) {
      throw new StockflowError(ErrorCode.UNAVAILABLE, 'the journal is unavailable; retry', {
        reason: Reason.STORE_UNAVAILABLE,
      });
    }
  }

  private journalMeta(entry: JournalEntry): void {
    if (this.pipeline === null) return;
    this.undo?.metaLsn(this.metaLsn);
    this.metaLsn = this.pipeline.record(entry, this.clock.now());
  }

  private reevaluate(book: SkuBook | undefined): void {
    if (book === undefined) return;
    book.invalidate();
    this.changed(book);
  }

  locationList(): LocationInput[] {
    return [...this.locations.values()].map((l) => l.toInput());
  }

  productList(): ProductInput[] {
    return [...this.books.values()].map((b) =>
      b.group === '' ? { sku: b.sku } : { sku: b.sku, group: b.group },
    );
  }

  // ---- reads -----------------------------------------------------------------------------------

  /** A channel's current availability of a SKU, network-wide or at one location. */
  availability(
    channel: string,
    sku: string,
    location: string | null = null,
  ): Availability | ErrorResult {
    const book = this.books.get(sku);
    if (book === undefined)
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${sku}`);
    if (this.rules.channel(channel) === undefined) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_CHANNEL, `unknown channel ${channel}`);
    }
    if (location !== null && !this.locations.has(location)) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_LOCATION, `unknown location ${location}`);
    }
    return {
      ok: true,
      channel,
      sku,
      location,
      available: book.value(channel, location, this.rules),
    };
  }

  position(sku: string, location: string): PositionView | null {
    return this.books.get(sku)?.byLocation.get(location)?.view() ?? null;
  }

  /**
   * Where a channel may take a SKU now: every location with something available to it, after
   * buffers, exclusions and caps (what sourcing chooses from): `visit(location, available)`.
   * Read between turns.
   */
  forEachOffer(
    channel: string,
    sku: string,
    visit: (location: string, available: number) => void,
  ): void {
    const book = this.books.get(sku);
    const ch = this.rules.channel(channel);
    if (book === undefined || ch === undefined) return;
    book.forEachOffer(ch, this.rules, visit);
  }

  /**
   * Reads what a channel may take of several SKUs at one location after another, as
   * `availability(channel, sku, location)` says, without its checks and result objects: sourcing
   * reads dozens of locations per order. Valid between turns (read it at once).
   */
  offerReader(channel: string, skus: readonly string[]): OfferReader {
    return new OfferReader(
      skus.map((sku) => this.books.get(sku) ?? null),
      this.rules.channel(channel) ?? null,
      this.rules,
    );
  }

  /** What an order holds allocated, per SKU and location (the engine is the truth of it). */
  orderHoldings(orderId: string, skus: Iterable<string>): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const sku of new Set(skus)) {
      const book = this.books.get(sku);
      if (book === undefined) continue;
      for (const p of book.positions) {
        const qty = p.orderQty(orderId);
        if (qty === 0) continue;
        let at = out.get(sku);
        if (at === undefined) {
          at = new Map<string, number>();
          out.set(sku, at);
        }
        at.set(p.location.id, qty);
      }
    }
    return out;
  }

  /** Whether the SKU is known (a product). */
  hasProduct(sku: string): boolean {
    return this.books.has(sku);
  }

  /** A location's master data, or null. */
  locationInfo(id: string): LocationInput | null {
    return this.locations.get(id)?.toInput() ?? null;
  }

  reservation(reservationId: string): ReservationView | null {
    return this.reservationIndex.get(reservationId)?.reservation?.view() ?? null;
  }

  // ---- live availability -----------------------------------------------------------------------

  /** Starts (or joins) a topic's deltas; answers its current value and sequence. */
  watch(channel: string, sku: string, location: string | null = null): WatchSnapshot | ErrorResult {
    const now = this.availability(channel, sku, location);
    if (!now.ok) return now;
    const book = this.books.get(sku) as SkuBook;
    const watches = (book.watches ??= new Map<string, Watch>());
    const topic = topicOf(channel, sku, location);
    let watch = watches.get(topic);
    if (watch === undefined) {
      watch = new Watch(channel, location, topic);
      watch.last = now.available;
      watches.set(topic, watch);
      this.watchedTopics++;
    }
    watch.subscribers++;
    return { ok: true, topic, available: now.available, seq: watch.seq };
  }

  unwatch(channel: string, sku: string, location: string | null = null): void {
    const book = this.books.get(sku);
    const topic = topicOf(channel, sku, location);
    const watch = book?.watches?.get(topic);
    if (book === undefined || watch === undefined) return;
    watch.subscribers--;
    if (watch.subscribers > 0) return;
    book.watches?.delete(topic);
    this.watchedTopics--;
    if (book.watches?.size === 0) book.watches = null;
  }

  onDeltas(listener: DeltaListener): () => void {
    return this.conflation.addListener(listener);
  }

  /** Publishes pending deltas now instead of at the end of the conflation interval. */
  flushDeltas(): void {
    this.conflation.flush();
  }

  // ---- full location snapshots -------------------------------------------------------------------

  /**
   * Applies a location's full stock: every listed SKU is set, every position at the location that
   * the snapshot does not list goes to zero. `asOf` orders it against the location's other feeds.
   */
  async replaceLocationStock(
    location: string,
    asOf: number,
    lines: Iterable<{ readonly sku: string; readonly onHand: number }>,
  ): Promise<SnapshotSummary> {
    if (!this.locations.has(location)) {
      throw new StockflowError(ErrorCode.NOT_FOUND, `unknown location ${location}`, {
        reason: Reason.UNKNOWN_LOCATION,
      });
    }
    const seen = new Set<string>();
    const pending: Promise<CommandResult>[] = [];
    const skus: string[] = [];
    for (const line of lines) {
      seen.add(line.sku);
      skus.push(line.sku);
      pending.push(
        this.execute({ op: 'setOnHand', sku: line.sku, location, onHand: line.onHand, asOf }),
      );
    }
    let zeroed = 0;
    for (const p of this.positionsAt.get(location) ?? []) {
      if (seen.has(p.sku)) continue;
      zeroed++;
      skus.push(p.sku);
      pending.push(this.execute({ op: 'setOnHand', sku: p.sku, location, onHand: 0, asOf }));
    }
    const results = await Promise.all(pending);
    let applied = 0;
    let stale = 0;
    let rejected = 0;
    const errors: { sku: string; code: string; message: string }[] = [];
    results.forEach((r, i) => {
      if (!r.ok) {
        rejected++;
        if (errors.length < 100)
          errors.push({ sku: skus[i] ?? '', code: r.code, message: r.message });
      } else if (r.applied) applied++;
      else stale++;
    });
    return { location, applied, stale, zeroed, rejected, errors };
  }

  // ---- state --------------------------------------------------------------------------------------

  /** A consistent copy of every book's state (taken between actor turns, so nothing is half-done). */
  exportState(): EngineState {
    return exportState(
      this.books.values(),
      this.rules.source,
      this.locationList(),
      this.clock.now(),
      this.metaLsn,
    );
  }

  /** Replaces all state with an exported one. Only valid on an idle engine without a journal. */
  importState(state: EngineState): void {
    this.beginImport(state);
    this.importChunk(state.skus);
  }

  /**
   * Starts replacing all state: rules, locations and the meta sequence from `header`, no books.
   * Follow with `importChunk` for the books (a snapshot is loaded chunk by chunk), then `replay`.
   */
  beginImport(header: Pick<EngineState, 'rules' | 'locations' | 'metaLsn'>): void {
    if (this.actors.inflight > 0 || this.pipeline !== null) {
      throw new StockflowError(ErrorCode.CONFLICT, 'import needs an idle engine without a journal');
    }
    this.installRules(new ChannelRules(header.rules, this.rules.version + 1));
    this.books.clear();
    this.positionsAt.clear();
    this.reservationIndex.clear();
    this.expiry.clear();
    this.participant?.clear();
    this.positionCount = 0;
    this.watchedTopics = 0;
    this.applyLocations(header.locations);
    this.metaLsn = header.metaLsn;
  }

  importChunk(items: readonly SnapshotItem[]): void {
    const skus: SkuState[] = [];
    for (const item of items) {
      if (!('kind' in item)) skus.push(item);
      else if (this.participant !== null) this.participant.importItem(item);
      else this.log.warn({ orderId: item.orderId }, 'order in snapshot without an order service');
    }
    importBooks(skus, {
      addBook: (sku, group) => {
        this.applyProducts([{ sku, group }]);
        return this.books.get(sku) as SkuBook;
      },
      location: (id) => this.locations.get(id),
      schedule: (reservation) => {
        this.expiry.schedule(reservation);
      },
      positionAdded: (p) => {
        this.positionAdded(p);
      },
      idempotencyWindow: this.idempotencyWindow,
      tombstoneTtlMs: this.tombstoneTtlMs,
    });
  }

  // ---- journal --------------------------------------------------------------------------------------

  /**
   * Applies journal records on top of the current state, in order, at the time each carries.
   * A record at or below its book's (or the master data's) sequence is already contained in the
   * state and skipped. Used by recovery (snapshot + journal tail) and after a journal outage.
   */
  replay(records: Iterable<JournalRecord>): { applied: number; skipped: number; lastSeq: number } {
    const undo = this.undo;
    const ranker = this.ranker;
    this.undo = null;
    // A network reserve journaled without lines was split without a ranker: replay it the same way.
    this.ranker = null;
    let applied = 0;
    let skipped = 0;
    let lastSeq = 0;
    try {
      for (const record of records) {
        lastSeq = record.seq;
        this.frozenNow = record.at;
        if (this.replayOne(record)) applied++;
        else skipped++;
      }
    } finally {
      this.frozenNow = null;
      this.undo = undo;
      this.ranker = ranker;
    }
    return { applied, skipped, lastSeq };
  }

  private replayOne(record: JournalRecord): boolean {
    const entry = record.entry;
    if (entry.type === 'order' || entry.type === 'acks') {
      if (this.participant === null) {
        this.log.warn({ seq: record.seq }, 'order record without an order service; skipped');
        return false;
      }
      return entry.type === 'order'
        ? this.participant.replay(entry.event, record.seq)
        : this.participant.replayAcks(entry.acks, record.seq);
    }
    if (entry.type !== 'command') {
      if (record.seq <= this.metaLsn) return false;
      if (entry.type === 'rules')
        this.installRules(new ChannelRules(entry.rules, this.rules.version + 1));
      else if (entry.type === 'locations') this.applyLocations(entry.locations);
      else this.applyProducts(entry.products);
      this.metaLsn = record.seq;
      return true;
    }
    const cmd = entry.cmd;
    const book =
      cmd.op === 'release' || cmd.op === 'confirm' || cmd.op === 'expire'
        ? this.reservationIndex.get(cmd.reservationId)?.book
        : this.books.get(cmd.sku);
    if (book === undefined) {
      this.log.warn({ seq: record.seq, op: cmd.op }, 'journal record names nothing known; skipped');
      return false;
    }
    if (record.seq <= book.lsn) return false;
    const index = this.reservationIndex;
    // As on the live path: the reserve's slot is looked up once and handed to the book.
    index.current = cmd.op === 'reserve' ? index.claim(cmd.reservationId, book) : null;
    try {
      book.apply(cmd, this);
    } finally {
      if (index.current !== null) index.release(index.current);
      index.current = null;
    }
    book.lsn = record.seq;
    return true;
  }

  /**
   * From now on every change is journaled through `writer` and acknowledged only once durable.
   * `durableSeq` is the last sequence the store holds (recovery replayed up to it).
   */
  attachJournal(writer: JournalWriter, durableSeq: number): void {
    if (this.pipeline !== null)
      throw new StockflowError(ErrorCode.CONFLICT, 'journal already attached');
    const pipeline = new CommitPipeline(
      writer,
      {
        rollback: (entries) => {
          this.rollback(entries);
        },
        deliver: (envelope, result) => {
          this.deliver(envelope, result);
        },
        failed: (error) => {
          this.journalStats.failures++;
          this.log.error(
            { err: error, durableSeq: pipeline.durableSeq },
            'journal write failed; refusing changes until the store is back',
          );
          this.scheduleResync(writer);
        },
        committed: (count, ms) => {
          this.journalStats.commits++;
          this.journalStats.records += count;
          this.journalStats.lastCommitMs = ms;
          for (const observe of this.commitObservers) observe(count, ms);
        },
      },
      durableSeq,
      () => this.clock.now(),
    );
    this.pipeline = pipeline;
    this.undo = pipeline.undo;
  }

  /** Joins the order service to the journal and snapshots (before recovery). */
  attachParticipant(participant: JournalParticipant): void {
    if (this.participant !== null) {
      throw new StockflowError(ErrorCode.CONFLICT, 'a journal participant is already attached');
    }
    this.participant = participant;
  }

  /**
   * Journals an order event the caller has just applied in memory: its sequence (0 without a
   * journal). `revert` takes it back if the write fails (the same rule as for commands); wait
   * for `durable()` before telling anyone outside. Throws UNAVAILABLE while the journal is down.
   */
  recordOrderEvent(event: OrderEvent, revert: () => void): number {
    this.beforeMeta();
    if (this.stopped) {
      throw new StockflowError(ErrorCode.UNAVAILABLE, 'engine is stopped', {
        reason: Reason.STOPPED,
      });
    }
    const pipeline = this.pipeline;
    if (pipeline === null) return 0;
    this.undo?.custom(revert);
    return pipeline.record({ type: 'order', event }, this.clock.now());
  }

  /** Journals acknowledgements of outbound messages, as recordOrderEvent does events. */
  recordAcks(acks: readonly OrderAck[], revert: () => void): number {
    this.beforeMeta();
    const pipeline = this.pipeline;
    if (pipeline === null || this.stopped) return 0;
    this.undo?.custom(revert);
    return pipeline.record({ type: 'acks', acks }, this.clock.now());
  }

  /** Calls `observe` after every group commit with its record count and write time (metrics). */
  observeCommits(observe: (records: number, ms: number) => void): void {
    this.commitObservers.push(observe);
  }

  /** Resolves when everything applied so far is durable (at once without a journal). */
  durable(): Promise<void> {
    return this.pipeline === null ? Promise.resolve() : this.pipeline.durable();
  }

  /** Journal state for readiness and metrics. */
  journal(): { attached: boolean; available: boolean; durableSeq: number; nextSeq: number } {
    const p = this.pipeline;
    return {
      attached: p !== null,
      available: p === null || !p.broken,
      durableSeq: p?.durableSeq ?? 0,
      nextSeq: p?.nextSeq ?? 1,
    };
  }

  private rollback(entries: readonly UndoEntry[]): void {
    const undo = this.undo;
    this.undo = null;
    try {
      rollback(entries, this);
    } finally {
      this.undo = undo;
    }
  }

  private scheduleResync(writer: JournalWriter): void {
    if (this.stopped || this.resyncTimer !== null) return;
    const delay = this.resyncDelayMs;
    this.resyncDelayMs = Math.min(delay * 2, 5_000);
    this.resyncTimer = this.clock.schedule(this.clock.now() + delay, () => {
      this.resyncTimer = null;
      const pipeline = this.pipeline;
      if (pipeline === null || this.stopped) return;
      writer.resync(pipeline.durableSeq).then(
        (records) => {
          const replayed = this.replay(records);
          pipeline.resume(records.length > 0 ? replayed.lastSeq : pipeline.durableSeq);
          this.rearmExpiry();
          this.resyncDelayMs = 100;
          this.journalStats.resyncs++;
          this.log.info(
            { replayed: replayed.applied, durableSeq: pipeline.durableSeq },
            'journal available again',
          );
        },
        (error: unknown) => {
          this.log.warn({ err: error }, 'journal still unavailable');
          this.scheduleResync(writer);
        },
      );
    });
  }

  /** Puts every reservation back in the expiry schedule (expiries were refused during an outage). */
  private rearmExpiry(): void {
    this.expiry.clear();
    for (const book of this.books.values()) {
      for (const r of book.reservations.values()) this.expiry.schedule(r);
    }
  }

  /**
   * Starts a snapshot that is taken a chunk at a time between turns (see persistence). Books keep
   * changing meanwhile; each chunk carries its books' sequences, so recovery replays exactly the
   * records a chunk does not contain.
   */
  beginSnapshot(): SnapshotCursor {
    return new SnapshotCursor(
      this.books.values(),
      this.participant?.snapshotItems() ?? null,
      this.pipeline,
      {
        format: 1,
        takenAt: this.clock.now(),
        startSeq: this.pipeline?.nextSeq ?? 1,
        metaLsn: this.metaLsn,
        rules: this.rules.source,
        locations: this.locationList(),
      },
    );
  }

  // ---- UndoTarget ----------------------------------------------------------------------------------

  reschedule(reservation: Reservation, present: boolean): void {
    if (present) this.expiry.schedule(reservation);
    else this.expiry.remove(reservation);
  }

  restoreRules(rules: ChannelRules): void {
    this.rules = rules;
    for (const book of this.books.values()) this.reevaluate(book);
  }

  restoreLocation(id: string, previous: LocationInput | null): void {
    this.locationsVersion++;
    if (previous === null) {
      this.locations.delete(id);
      return;
    }
    const location = this.locations.get(id);
    if (location === undefined) return;
    const retyped = location.type !== previous.type;
    location.update(previous);
    if (retyped) this.reevaluateAt(id);
  }

  removeBook(sku: string): void {
    this.books.delete(sku);
  }

  restoreGroup(book: SkuBook, group: string): void {
    book.group = group;
    this.reevaluate(book);
  }

  restoreMetaLsn(lsn: number): void {
    this.metaLsn = lsn;
  }

  removePosition(book: SkuBook, p: Position): void {
    if (!book.removeNewestPosition(p)) return;
    const list = this.positionsAt.get(p.location.id);
    const i = list?.lastIndexOf(p) ?? -1;
    if (list !== undefined && i !== -1) list.splice(i, 1);
    this.positionCount--;
    this.changed(book);
  }

  stats(): EngineStats {
    let reservations = 0;
    let queued = 0;
    for (const book of this.books.values()) {
      reservations += book.reservations.size;
      queued += book.pending;
    }
    return {
      skus: this.books.size,
      positions: this.positionCount,
      locations: this.locations.size,
      reservations,
      partitions: this.actors.count,
      queued,
      watchedTopics: this.watchedTopics,
      staleFeeds: this.staleFeeds,
      busyRejections: this.busyRejections,
      actorFailures: this.actorFailures + this.actors.crashes,
      deltasPublished: this.conflation.published,
      deltasConflated: this.conflation.conflated,
    };
  }

  /** Stops taking commands, answers everything in flight, publishes the last deltas. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.expiry.stop();
    if (this.resyncTimer !== null) this.clock.cancel(this.resyncTimer);
    await this.actors.idle();
    if (this.pipeline !== null) {
      await this.pipeline.durable().catch(() => undefined);
      this.pipeline.abandon();
    }
    this.conflation.flush();
    this.conflation.stop();
    this.actors.stop(() => fail(ErrorCode.UNAVAILABLE, Reason.STOPPED, 'engine is stopped'));
  }
}

/** See StockEngine.offerReader. */
export class OfferReader {
  constructor(
    private readonly books: readonly (SkuBook | null)[],
    private readonly channel: Channel | null,
    private readonly rules: ChannelRules,
  ) {}

  /** Fills `out[i]` with what the channel may take of SKU i at the location; true if any. */
  at(location: string, out: number[]): boolean {
    let any = false;
    for (let i = 0; i < this.books.length; i++) {
      const book = this.books[i];
      const units =
        book === null || book === undefined || this.channel === null
          ? 0
          : book.offerAt(this.channel, location, this.rules);
      out[i] = units;
      if (units > 0) any = true;
    }
    return any;
  }
}

/** One item of a snapshot chunk: a SKU book, or an order. */
export type SnapshotItem = SkuState | OrderSnapshot;

export interface SnapshotHeader {
  readonly format: 1;
  readonly takenAt: number;
  /** Recovery replays the journal from this sequence on (records a chunk holds are skipped). */
  readonly startSeq: number;
  readonly metaLsn: number;
  readonly rules: RulesInput;
  readonly locations: readonly LocationInput[];
}

/** Walks the books a chunk at a time; see StockEngine.beginSnapshot. */
export class SnapshotCursor {
  private maxLsn = 0;
  private readonly failuresAtStart: number;

  constructor(
    private readonly books: Iterator<SkuBook>,
    private readonly orders: Iterator<OrderSnapshot> | null,
    private readonly pipeline: CommitPipeline | null,
    readonly header: SnapshotHeader,
  ) {
    this.failuresAtStart = pipeline?.failures ?? 0;
    this.maxLsn = header.metaLsn;
  }

  /** The next up to `max` books (then orders), or null when all were taken. */
  next(max: number): SnapshotItem[] | null {
    const out: SnapshotItem[] = [];
    while (out.length < max) {
      const step = this.books.next();
      if (step.done === true) break;
      const state = exportBook(step.value);
      if (state.lsn > this.maxLsn) this.maxLsn = state.lsn;
      out.push(state);
    }
    // Orders are smaller than books: a chunk takes four times as many.
    while (this.orders !== null && out.length < max * 4) {
      const step = this.orders.next();
      if (step.done === true) break;
      if (step.value.lsn > this.maxLsn) this.maxLsn = step.value.lsn;
      out.push(step.value);
    }
    return out.length === 0 ? null : out;
  }

  /** Highest sequence any chunk contains: the snapshot is whole once the journal holds it. */
  get coversSeq(): number {
    return this.maxLsn;
  }

  /** False when a journal write failed since the start: chunks may hold changes taken back. */
  get valid(): boolean {
    return (this.pipeline?.failures ?? 0) === this.failuresAtStart;
  }
}

class NullSink implements ResultSink<null> {
  deliver(): void {
    // Expiry results need no answer: the book already applied them.
  }
}
const NULL_SINK = new NullSink();
