import { pino } from 'pino';
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
import { topicOf, type DeltaListener } from './delta-conflation.ts';
import type { Engine } from './engine.ts';
import { EngineCore } from './engine-core.ts';
import { ENGINE_DEFAULTS, type EngineOptions } from './engine-options.ts';
import { EngineStorage } from './engine-storage.ts';
import type {
  Availability,
  EngineStats,
  RulesDocument,
  SnapshotSummary,
  WatchSnapshot,
} from './engine-views.ts';
import { ErrorCode, Reason, StockflowError } from './errors.ts';
import { JournalLink } from './journal-link.ts';
import {
  isValidId,
  locationProblem,
  productProblem,
  type LocationInput,
  type ProductInput,
} from './master-data.ts';
import { Envelope, PartitionActors } from './partition-actors.ts';
import type { Reservation } from './reservation.ts';
import { fail, PROMISE_SINK } from './results.ts';
import { SkuBook, Watch } from './sku-book.ts';
import { EngineStockPort, type StockPort } from './stock-port.ts';

/** A product's master data as the API shows it: what it does not have is left out. */
function productInput(book: SkuBook): ProductInput {
  return {
    sku: book.sku,
    ...(book.group === '' ? {} : { group: book.group }),
    ...(Object.keys(book.attributes).length === 0 ? {} : { attributes: book.attributes }),
    ...(Object.keys(book.prices).length === 0 ? {} : { prices: book.prices }),
  };
}

class NullSink implements ResultSink<null> {
  deliver(): void {
    // Expiry results need no answer: the book already applied them.
  }
}
const NULL_SINK = new NullSink();

const STORE_UNAVAILABLE = fail(
  ErrorCode.UNAVAILABLE,
  Reason.STORE_UNAVAILABLE,
  'the journal is unavailable; retry',
);

/**
 * The stock engine: SKU books owned by partition actors, commands in, results and availability
 * deltas out (the Engine interface). Its state lives in an EngineCore; the journal in a
 * JournalLink; persistence works through `storage`, the order service through `stock`.
 * See docs/engine.md for the model and README.md for the API in brief.
 */
export class StockEngine implements Engine {
  readonly clock: Clock;
  readonly storage: EngineStorage;
  readonly stock: StockPort;
  private readonly core: EngineCore;
  private readonly link: JournalLink;
  private readonly actors: PartitionActors;
  private stopped = false;

  constructor(options: EngineOptions) {
    const partitions = options.partitions ?? ENGINE_DEFAULTS.partitions;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new StockflowError(ErrorCode.BAD_REQUEST, 'partitions must be a whole number >= 1');
    }
    this.clock = options.clock ?? new SystemClock();
    const log = options.logger ?? pino({ level: 'silent' });
    this.core = new EngineCore(
      {
        clock: this.clock,
        log,
        partitions,
        maxQueuedPerSku: options.maxQueuedPerSku ?? ENGINE_DEFAULTS.maxQueuedPerSku,
        conflationMs: options.conflationMs ?? ENGINE_DEFAULTS.conflationMs,
        maxReservationTtlMs: options.maxReservationTtlMs ?? ENGINE_DEFAULTS.maxReservationTtlMs,
        tombstoneTtlMs: options.tombstoneTtlMs ?? ENGINE_DEFAULTS.tombstoneTtlMs,
        idempotencyWindow: options.idempotencyWindow ?? ENGINE_DEFAULTS.idempotencyWindow,
      },
      new ChannelRules(options.rules, 1),
      (reservation, now) => {
        this.due(reservation, now);
      },
    );
    this.actors = new PartitionActors(
      partitions,
      (batch) => {
        this.runBatch(batch);
      },
      (error, batch) => {
        log.error({ err: error, batch: batch.length }, 'partition actor crashed');
      },
    );
    const rulesFrom = (input: RulesInput): ChannelRules =>
      new ChannelRules(input, this.core.rules.version + 1);
    this.link = new JournalLink(this.core, {
      deliver: (envelope, result) => {
        this.deliver(envelope, result);
      },
      rulesFrom,
      isStopped: () => this.stopped,
    });
    this.storage = new EngineStorage(this.core, this.link, {
      inflight: () => this.actors.inflight,
      rulesFrom,
    });
    this.stock = new EngineStockPort(this.core, this.link, this);
    if (options.locations) this.upsertLocations(options.locations);
    if (options.products) this.upsertProducts(options.products);
  }

  // ---- commands ---------------------------------------------------------------------------

  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void {
    const answer = this.route(cmd);
    if (answer instanceof Envelope) {
      answer.book.pending++;
      this.actors.submit(answer.book.partition, answer.bind(sink, tag));
    } else {
      sink.deliver(answer, tag, cmd);
    }
  }

  execute(cmd: Command): Promise<CommandResult> {
    return new Promise((resolve) => {
      this.submit(cmd, PROMISE_SINK, resolve);
    });
  }

  /** The envelope that takes `cmd` to its book, or the answer when it cannot go. */
  private route(cmd: Command): Envelope | ErrorResult {
    const core = this.core;
    if (this.stopped) return fail(ErrorCode.UNAVAILABLE, Reason.STOPPED, 'engine is stopped');
    if (this.link.broken) return STORE_UNAVAILABLE;
    const invalid = validateCommand(cmd, core.maxReservationTtlMs);
    if (invalid !== null) return invalid;
    let book: SkuBook | undefined;
    let slot = null;
    switch (cmd.op) {
      case 'release':
      case 'confirm':
      case 'expire':
        book = core.reservationIndex.book(cmd.reservationId);
        if (book === undefined) {
          return fail(
            ErrorCode.NOT_FOUND,
            Reason.UNKNOWN_RESERVATION,
            `unknown reservation ${cmd.reservationId}`,
          );
        }
        break;
      default:
        book = core.book(cmd.sku);
        if (book === undefined) {
          return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${cmd.sku}`);
        }
    }
    if (book.pending >= core.maxQueuedPerSku) {
      core.busyRejections++;
      return fail(ErrorCode.BUSY, Reason.MAILBOX_FULL, `sku ${book.sku} is busy, retry shortly`);
    }
    if (cmd.op === 'reserve') {
      slot = core.reservationIndex.claim(cmd.reservationId, book);
      if (slot === null) {
        return fail(
          ErrorCode.CONFLICT,
          Reason.ID_REUSED,
          `reservation ${cmd.reservationId} belongs to another sku`,
        );
      }
      slot.inflight++;
    }
    return new Envelope(cmd, book, slot);
  }

  /** Runs inside a partition actor's turn. */
  private runBatch(batch: readonly Envelope[]): void {
    const core = this.core;
    const pipeline = this.link.pipeline;
    const index = core.reservationIndex;
    core.frozenNow = this.clock.now();
    for (const e of batch) {
      let result: CommandResult;
      if (pipeline?.broken === true) {
        result = STORE_UNAVAILABLE;
      } else {
        try {
          index.current = e.slot;
          result = e.book.apply(e.cmd, core);
        } catch (error) {
          // A bug, not an outcome: contain it to this command, restore the book's counters from
          // its reservations and allocations, and keep the actor serving.
          core.actorFailures++;
          core.log.error({ err: error, op: e.cmd.op, sku: e.book.sku }, 'command failed in actor');
          e.book.repair();
          core.changed(e.book);
          result = fail(ErrorCode.INTERNAL, Reason.ACTOR_FAILED, 'internal error; state restored');
        }
        if (pipeline !== null && result.ok && result.applied) {
          core.undo?.lsn(e.book);
          e.book.lsn = pipeline.record(
            { type: 'command', cmd: this.journaled(e.cmd, result) },
            core.frozenNow,
          );
        }
      }
      e.book.pending--;
      if (e.cmd.op === 'reserve' && e.slot !== null) {
        // A reserve was answered: an id that ended up holding nothing is free again.
        e.slot.inflight--;
        index.release(e.slot);
      }
      if (pipeline === null) this.deliver(e, result);
      else pipeline.hold(e, result);
    }
    core.frozenNow = null;
    index.current = null;
  }

  /** A network reservation split by a ranker is journaled with its lines (see ReserveCommand). */
  private journaled(cmd: Command, result: CommandResult): Command {
    if (cmd.op !== 'reserve' || cmd.location !== undefined || this.core.ranker === null) return cmd;
    const lines = result.ok ? result.reservation?.lines : undefined;
    if (lines === undefined) return cmd;
    return { ...cmd, lines: lines.map((l) => [l.location, l.qty] as const) };
  }

  private deliver(e: Envelope, result: CommandResult): void {
    try {
      e.deliver(result);
    } catch (error) {
      this.core.log.error({ err: error, op: e.cmd.op }, 'result sink threw');
    }
  }

  settle(): Promise<void> {
    return this.actors.idle();
  }

  durable(): Promise<void> {
    return this.link.durable();
  }

  /** A reservation's time came: expiry while held, purge after its tombstone time. */
  private due(reservation: Reservation, now: number): void {
    const core = this.core;
    const book = core.books.get(reservation.sku);
    if (book === undefined) return;
    book.pending++;
    const envelope = new Envelope(
      { op: 'expire', reservationId: reservation.id, at: now },
      book,
      null,
    );
    this.actors.submit(book.partition, envelope.bind(NULL_SINK, null));
  }

  // ---- master data and rules -----------------------------------------------------------------

  upsertLocations(list: readonly LocationInput[]): number {
    for (const input of list) {
      const problem = locationProblem(input);
      if (problem !== null) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `bad location ${input.id}: ${problem}`, {
          reason: isValidId(input.id) ? Reason.INVALID_MASTER_DATA : Reason.INVALID_ID,
        });
      }
    }
    this.link.beforeChange();
    // One at a time: a later entry for the same id is compared with the earlier one applied.
    const changed: LocationInput[] = [];
    for (const input of list) {
      if (this.core.sameLocation(input)) continue;
      this.core.applyLocations([input]);
      changed.push(input);
    }
    if (changed.length > 0) this.link.recordMeta({ type: 'locations', locations: changed });
    return changed.length;
  }

  upsertProducts(list: readonly ProductInput[]): number {
    for (const input of list) {
      const problem = productProblem(input);
      if (problem !== null) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `bad product ${input.sku}: ${problem}`, {
          reason: isValidId(input.sku) ? Reason.INVALID_MASTER_DATA : Reason.INVALID_ID,
        });
      }
    }
    this.link.beforeChange();
    const changed: ProductInput[] = [];
    for (const input of list) {
      if (this.core.sameProduct(input)) continue;
      this.core.applyProducts([input]);
      changed.push(input);
    }
    if (changed.length > 0) this.link.recordMeta({ type: 'products', products: changed });
    return changed.length;
  }

  setRules(input: RulesInput): void {
    const next = new ChannelRules(input, this.core.rules.version + 1);
    this.link.beforeChange();
    this.core.installRules(next);
    this.link.recordMeta({ type: 'rules', rules: input });
  }

  rules(): RulesDocument {
    return { rules: this.core.rules.source, version: this.core.rules.version };
  }

  location(id: string): LocationInput | null {
    return this.core.locations.get(id)?.toInput() ?? null;
  }

  locationList(): LocationInput[] {
    return this.core.locationList();
  }

  product(sku: string): ProductInput | null {
    const book = this.core.books.get(sku);
    return book === undefined ? null : productInput(book);
  }

  productList(): ProductInput[] {
    return [...this.core.books.values()].map(productInput);
  }

  // ---- reads -----------------------------------------------------------------------------------

  availability(
    channel: string,
    sku: string,
    location: string | null = null,
  ): Availability | ErrorResult {
    const core = this.core;
    const book = core.books.get(sku);
    if (book === undefined)
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${sku}`);
    if (core.rules.channel(channel) === undefined) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_CHANNEL, `unknown channel ${channel}`);
    }
    if (location !== null && !core.locations.has(location)) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_LOCATION, `unknown location ${location}`);
    }
    return {
      ok: true,
      channel,
      sku,
      location,
      available: book.value(channel, location, core.rules),
    };
  }

  position(sku: string, location: string): PositionView | null {
    return this.core.books.get(sku)?.byLocation.get(location)?.view() ?? null;
  }

  feedRowUnchanged(sku: string, location: string, onHand: number): boolean {
    const p = this.core.books.get(sku)?.byLocation.get(location);
    return p !== undefined && p.sinceFeed === null && p.onHand === onHand;
  }

  skusAt(location: string): string[] {
    return (this.core.positionsAt.get(location) ?? []).map((p) => p.sku);
  }

  reservation(reservationId: string): ReservationView | null {
    return this.core.reservationIndex.reservation(reservationId)?.view() ?? null;
  }

  /**
   * True when a release or confirm of this id would reach one of this engine's books: a held
   * reservation, or one whose reserve is still on its way (the command waits its turn behind
   * it). Builds nothing: the shard router asks it for every release and confirm.
   */
  knowsReservation(reservationId: string): boolean {
    return this.core.reservationIndex.book(reservationId) !== undefined;
  }

  // ---- live availability -----------------------------------------------------------------------

  watch(channel: string, sku: string, location: string | null = null): WatchSnapshot | ErrorResult {
    const now = this.availability(channel, sku, location);
    if (!now.ok) return now;
    const book = this.core.books.get(sku) as SkuBook;
    const watches = (book.watches ??= new Map<string, Watch>());
    const topic = topicOf(channel, sku, location);
    let watch = watches.get(topic);
    if (watch === undefined) {
      watch = new Watch(channel, location, topic);
      watch.last = now.available;
      watches.set(topic, watch);
      this.core.watchedTopics++;
    }
    watch.subscribers++;
    return { ok: true, topic, available: now.available, seq: watch.seq };
  }

  unwatch(channel: string, sku: string, location: string | null = null): void {
    const book = this.core.books.get(sku);
    const topic = topicOf(channel, sku, location);
    const watch = book?.watches?.get(topic);
    if (book === undefined || watch === undefined) return;
    watch.subscribers--;
    if (watch.subscribers > 0) return;
    book.watches?.delete(topic);
    this.core.watchedTopics--;
    if (book.watches?.size === 0) book.watches = null;
  }

  onDeltas(listener: DeltaListener): () => void {
    return this.core.conflation.addListener(listener);
  }

  flushDeltas(): void {
    this.core.conflation.flush();
  }

  // ---- full location snapshots -------------------------------------------------------------------

  async replaceLocationStock(
    location: string,
    asOf: number,
    lines: Iterable<{ readonly sku: string; readonly onHand: number }>,
  ): Promise<SnapshotSummary> {
    const core = this.core;
    if (!core.locations.has(location)) {
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
    for (const p of core.positionsAt.get(location) ?? []) {
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

  // ---- operations ---------------------------------------------------------------------------------

  stats(): EngineStats {
    const core = this.core;
    let reservations = 0;
    let queued = 0;
    for (const book of core.books.values()) {
      reservations += book.reservations.size;
      queued += book.pending;
    }
    return {
      skus: core.books.size,
      positions: core.positionCount,
      locations: core.locations.size,
      reservations,
      partitions: this.actors.count,
      queued,
      watchedTopics: core.watchedTopics,
      staleFeeds: core.staleFeeds,
      compensatedFeeds: core.compensatedFeeds,
      uncompensableFeeds: core.uncompensableFeeds,
      busyRejections: core.busyRejections,
      actorFailures: core.actorFailures + this.actors.crashes,
      deltasPublished: core.conflation.published,
      deltasConflated: core.conflation.conflated,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const core = this.core;
    core.expiry.stop();
    await this.actors.idle();
    await this.link.stop();
    core.conflation.flush();
    core.conflation.stop();
    this.actors.stop(() => fail(ErrorCode.UNAVAILABLE, Reason.STOPPED, 'engine is stopped'));
  }
}
