import { pino, type Logger } from 'pino';
import { ChannelRules, type RulesInput } from './channel-rules.ts';
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
import { ReservationExpiry } from './reservation-expiry.ts';
import { fail } from './results.ts';
import { SkuBook, Watch, type BookContext } from './sku-book.ts';
import { exportState, importState, type EngineState } from './engine-state.ts';

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
export class StockEngine implements BookContext {
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
  private readonly reservationOwner = new Map<string, ReservationClaim>();
  private readonly actors: PartitionActors;
  private readonly expiry: ReservationExpiry;
  private readonly conflation: DeltaConflation;
  private positionCount = 0;
  private watchedTopics = 0;
  private staleFeeds = 0;
  private busyRejections = 0;
  private actorFailures = 0;
  private stopped = false;

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
    this.expiry = new ReservationExpiry(this.clock, (reservation, now) => {
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
      this.actors.submit(answer.partition, new Envelope(cmd, answer, sink, tag));
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
    const invalid = validateCommand(cmd, this.maxReservationTtlMs);
    if (invalid !== null) return invalid;
    let book: SkuBook | undefined;
    switch (cmd.op) {
      case 'release':
      case 'confirm':
      case 'expire':
        book = this.reservationOwner.get(cmd.reservationId)?.book;
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
      const claim = this.reservationOwner.get(cmd.reservationId);
      if (claim === undefined) {
        this.reservationOwner.set(cmd.reservationId, new ReservationClaim(book, 1));
      } else if (claim.book === book) {
        claim.inflight++;
      } else {
        return fail(
          ErrorCode.CONFLICT,
          Reason.ID_REUSED,
          `reservation ${cmd.reservationId} belongs to another sku`,
        );
      }
    }
    return book;
  }

  /** Runs inside a partition actor's turn. */
  private runBatch(batch: readonly Envelope[]): void {
    for (const e of batch) {
      let result: CommandResult;
      try {
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
      e.book.pending--;
      if (e.cmd.op === 'reserve') this.settleClaim(e.cmd.reservationId, e.book);
      try {
        e.sink.deliver(result, e.tag, e.cmd);
      } catch (error) {
        this.log.error({ err: error, op: e.cmd.op }, 'result sink threw');
      }
    }
  }

  /** A reserve was answered: an id that ended up holding nothing is free again. */
  private settleClaim(reservationId: string, book: SkuBook): void {
    const claim = this.reservationOwner.get(reservationId);
    if (claim === undefined) return;
    claim.inflight--;
    if (claim.inflight === 0 && !book.reservations.has(reservationId)) {
      this.reservationOwner.delete(reservationId);
    }
  }

  /** Resolves when every command submitted so far has been answered. */
  settle(): Promise<void> {
    return this.actors.idle();
  }

  // ---- BookContext ---------------------------------------------------------------------------

  now(): number {
    return this.clock.now();
  }

  location(id: string): Location | undefined {
    return this.locations.get(id);
  }

  schedule(reservation: Reservation): void {
    this.expiry.schedule(reservation);
  }

  forget(reservationId: string, book: SkuBook): void {
    const claim = this.reservationOwner.get(reservationId);
    // A reserve of the same id already on its way keeps the claim; it settles it when answered.
    if (claim?.book === book && claim.inflight === 0) this.reservationOwner.delete(reservationId);
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
      new Envelope({ op: 'expire', reservationId: reservation.id, at: now }, book, NULL_SINK, null),
    );
  }

  // ---- master data and rules -----------------------------------------------------------------

  upsertLocations(list: readonly LocationInput[]): void {
    for (const input of list) {
      if (!isValidId(input.id) || typeof input.type !== 'string' || input.type.length === 0) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `bad location ${input.id}`, {
          reason: Reason.INVALID_ID,
        });
      }
    }
    for (const input of list) {
      const existing = this.locations.get(input.id);
      if (existing === undefined) {
        this.locations.set(input.id, new Location(input));
        continue;
      }
      const retyped = existing.type !== input.type;
      existing.update(input);
      if (retyped) {
        for (const p of this.positionsAt.get(input.id) ?? [])
          this.reevaluate(this.books.get(p.sku));
      }
    }
  }

  upsertProducts(list: readonly ProductInput[]): void {
    for (const input of list) {
      if (!isValidId(input.sku)) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `bad sku ${String(input.sku)}`, {
          reason: Reason.INVALID_ID,
        });
      }
    }
    for (const input of list) {
      const group = input.group ?? '';
      const existing = this.books.get(input.sku);
      if (existing === undefined) {
        const partition = fnv1a(input.sku) % this.actors.count;
        this.books.set(input.sku, new SkuBook(input.sku, group, partition));
      } else if (existing.group !== group) {
        existing.group = group;
        this.reevaluate(existing);
      }
    }
  }

  /** Replaces the channel rules. Throws StockflowError (BAD_REQUEST) and keeps the old rules
   * when the document is invalid. Every changed availability is re-published at once. */
  setRules(input: RulesInput): void {
    const next = new ChannelRules(input, this.rules.version + 1);
    this.rules = next;
    for (const book of this.books.values()) this.reevaluate(book);
    this.conflation.flush();
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

  reservation(reservationId: string): ReservationView | null {
    const book = this.reservationOwner.get(reservationId)?.book;
    return book?.reservations.get(reservationId)?.view() ?? null;
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
    );
  }

  /** Replaces all state with an exported one. Only valid on an idle engine. */
  importState(state: EngineState): void {
    if (this.actors.inflight > 0) {
      throw new StockflowError(ErrorCode.CONFLICT, 'importState needs an idle engine');
    }
    this.setRules(state.rules);
    this.upsertLocations(state.locations);
    this.books.clear();
    this.positionsAt.clear();
    this.reservationOwner.clear();
    this.expiry.clear();
    this.positionCount = 0;
    this.watchedTopics = 0;
    importState(state, {
      addBook: (sku, group) => {
        this.upsertProducts([{ sku, group }]);
        return this.books.get(sku) as SkuBook;
      },
      location: (id) => this.locations.get(id),
      claim: (reservation, book) => {
        this.reservationOwner.set(reservation.id, new ReservationClaim(book, 0));
        this.expiry.schedule(reservation);
      },
      positionAdded: (p) => {
        this.positionAdded(p);
      },
      idempotencyWindow: this.idempotencyWindow,
      tombstoneTtlMs: this.tombstoneTtlMs,
    });
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
    await this.actors.idle();
    this.conflation.flush();
    this.conflation.stop();
    this.actors.stop(() => fail(ErrorCode.UNAVAILABLE, Reason.STOPPED, 'engine is stopped'));
  }
}

/** The owner of a reservation id, and how many reserves of that id are still in flight. */
class ReservationClaim {
  constructor(
    readonly book: SkuBook,
    public inflight: number,
  ) {}
}

class NullSink implements ResultSink<null> {
  deliver(): void {
    // Expiry results need no answer: the book already applied them.
  }
}
const NULL_SINK = new NullSink();
