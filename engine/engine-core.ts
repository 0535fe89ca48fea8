import type { Logger } from 'pino';
import { ChannelRules } from './channel-rules.ts';
import type { Clock } from './clock.ts';
import type { Command } from './commands.ts';
import { DeltaConflation } from './delta-conflation.ts';
import { DueQueue } from './due-queue.ts';
import type { LocationRanker } from './location-ranker.ts';
import { fnv1a32, IdTable } from './id-table.ts';
import {
  attributesOf,
  Location,
  pricesOf,
  sameEntries,
  type LocationInput,
  type ProductInput,
} from './master-data.ts';
import type { Position } from './position.ts';
import type { Reservation } from './reservation.ts';
import { ReservationIndex } from './reservation-index.ts';
import { ReservationTimes } from './reservation-times.ts';
import { SkuBook, type BookContext } from './sku-book.ts';
import type { Product, UndoLog, UndoTarget } from './undo-log.ts';

/** The settings the core reads on every command (resolved from EngineOptions and defaults). */
export interface CoreSettings {
  readonly clock: Clock;
  readonly log: Logger;
  readonly partitions: number;
  readonly maxQueuedPerSku: number;
  readonly conflationMs: number;
  readonly maxReservationTtlMs: number;
  readonly tombstoneTtlMs: number;
  readonly idempotencyWindow: number;
}

/** What of a location changes what channels see there (a change re-evaluates its positions). */
function viewKey(location: Location): string {
  return `${location.type}\u0000${location.channelsKey}\u0000${location.pickup ? 1 : 0}`;
}

function productOf(book: SkuBook): Product {
  return { group: book.group, attributes: book.attributes, prices: book.prices };
}

/**
 * The engine's state and what its books see of it: the books, locations, the reservation index,
 * expiry and delta conflation, rules, counters. It is the books' context (BookContext) and the
 * undo log's target (UndoTarget), which is why it is internal: nothing outside engine/ may call
 * these. StockEngine (the public face), the journal link and the storage face share one core.
 */
export class EngineCore implements BookContext, UndoTarget<SkuBook> {
  readonly clock: Clock;
  readonly log: Logger;
  readonly partitions: number;
  readonly maxQueuedPerSku: number;
  readonly maxReservationTtlMs: number;
  readonly tombstoneTtlMs: number;
  readonly idempotencyWindow: number;
  rules: ChannelRules;
  readonly books = new Map<string, SkuBook>();
  /**
   * The same books by SKU for the lookups made per command (a reserve's route, replay): a SKU
   * arrives as a fresh string from a frame or a record, and the first Map lookup of a fresh
   * string has V8 compute its hash, about as much as the rest of the lookup; this table hashes it
   * in JS (see IdTable). Kept with `books` at their three changes.
   */
  private readonly bookTable = new IdTable<SkuBook>();
  readonly locations = new Map<string, Location>();
  readonly positionsAt = new Map<string, Position[]>();
  /** Which book owns each reservation id (claimed when a reserve is accepted for routing). */
  readonly reservationTimes = new ReservationTimes();
  readonly reservationIndex = new ReservationIndex<SkuBook>((r) => this.books.get(r.sku));
  readonly conflation: DeltaConflation;
  /** Reservation time for the whole engine (expiry while held, purge after the tombstone time). */
  readonly expiry: DueQueue<Reservation>;
  /** Where changes are recorded until durable (the journal link sets it); null without one. */
  undo: UndoLog<SkuBook> | null = null;
  /** Chooses the locations of network reservations (the order service's sourcing). */
  ranker: LocationRanker | null = null;
  /** The engine's time while a batch or a replayed record is applied (one instant per batch). */
  frozenNow: number | null = null;
  /** Journal sequence of the last rules or master-data record applied. */
  metaLsn = 0;
  /** Bumped by every change to locations, so readers can cache what they derive from them. */
  locationsVersion = 0;
  positionCount = 0;
  watchedTopics = 0;
  staleFeeds = 0;
  compensatedFeeds = 0;
  uncompensableFeeds = 0;
  busyRejections = 0;
  actorFailures = 0;

  constructor(
    settings: CoreSettings,
    rules: ChannelRules,
    /** Called when a reservation falls due (the engine turns it into an expire command). */
    onDue: (reservation: Reservation, now: number) => void,
  ) {
    this.clock = settings.clock;
    this.log = settings.log;
    this.partitions = settings.partitions;
    this.maxQueuedPerSku = settings.maxQueuedPerSku;
    this.maxReservationTtlMs = settings.maxReservationTtlMs;
    this.tombstoneTtlMs = settings.tombstoneTtlMs;
    this.idempotencyWindow = settings.idempotencyWindow;
    this.rules = rules;
    this.expiry = new DueQueue<Reservation>(this.clock, onDue);
    this.conflation = new DeltaConflation(this.clock, settings.conflationMs, () => this.rules);
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

  unschedule(reservation: Reservation): void {
    this.expiry.remove(reservation);
  }

  changed(book: SkuBook): void {
    if (book.watches !== null) this.conflation.enqueue(book);
  }

  staleFeed(): void {
    this.staleFeeds++;
  }

  feedCompensated(): void {
    this.compensatedFeeds++;
  }

  feedUncompensable(): void {
    this.uncompensableFeeds++;
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

  // ---- routing ----------------------------------------------------------------------------------

  /** The book a command applies to, by reservation id or SKU; undefined when it names none. */
  bookOf(cmd: Command): SkuBook | undefined {
    return cmd.op === 'release' || cmd.op === 'confirm' || cmd.op === 'expire'
      ? this.reservationIndex.book(cmd.reservationId)
      : this.bookTable.get(cmd.sku);
  }

  /** The book of `sku`, or undefined (the per-command lookup; see bookTable). */
  book(sku: string): SkuBook | undefined {
    return this.bookTable.get(sku);
  }

  // ---- master data and rules ----------------------------------------------------------------------

  /**
   * Upserts locations (`replace`: each input is the whole location, as a snapshot holds it;
   * otherwise fields it leaves out are kept, see LocationInput).
   */
  applyLocations(list: readonly LocationInput[], replace = false): void {
    this.locationsVersion++;
    for (const input of list) {
      const existing = this.locations.get(input.id);
      this.undo?.location(input.id, existing);
      if (existing === undefined) {
        this.locations.set(input.id, new Location(input));
        continue;
      }
      const before = viewKey(existing);
      if (replace) existing.reset(input);
      else existing.update(input);
      if (viewKey(existing) !== before) this.reevaluateAt(input.id);
    }
  }

  /** Whether an upsert would change nothing (a feed drops such rows before the journal). */
  sameLocation(input: LocationInput): boolean {
    const existing = this.locations.get(input.id);
    if (existing === undefined) return false;
    const probe = new Location(existing.toInput());
    probe.update(input);
    return probe.sameAs(existing);
  }

  /** Whether a product upsert would change nothing. */
  sameProduct(input: ProductInput): boolean {
    const existing = this.books.get(input.sku);
    if (existing === undefined) return false;
    return (
      existing.group === (input.group ?? '') &&
      (input.attributes === undefined || sameEntries(existing.attributes, input.attributes)) &&
      (input.prices === undefined || sameEntries(existing.prices, input.prices))
    );
  }

  /** Upserts products: the group always, attributes and prices when the input names them. */
  applyProducts(list: readonly ProductInput[]): void {
    for (const input of list) {
      const group = input.group ?? '';
      const existing = this.books.get(input.sku);
      if (existing === undefined) {
        const partition = fnv1a32(input.sku) % this.partitions;
        const book = new SkuBook(input.sku, group, partition, this.reservationIndex);
        book.attributes = attributesOf(input.attributes);
        book.prices = pricesOf(input.prices);
        this.books.set(input.sku, book);
        this.bookTable.set(input.sku, book);
        this.undo?.product(input.sku, null, productOf(book));
        continue;
      }
      const attributes =
        input.attributes === undefined || sameEntries(existing.attributes, input.attributes)
          ? existing.attributes
          : attributesOf(input.attributes);
      const prices =
        input.prices === undefined || sameEntries(existing.prices, input.prices)
          ? existing.prices
          : pricesOf(input.prices);
      const seen = existing.group !== group || existing.attributes !== attributes;
      if (!seen && existing.prices === prices) continue;
      this.undo?.product(input.sku, existing, productOf(existing));
      existing.group = group;
      existing.attributes = attributes;
      existing.prices = prices;
      // Prices change no availability; group and attributes may (rules match them).
      if (seen) this.reevaluate(existing);
    }
  }

  installRules(next: ChannelRules): void {
    this.undo?.rules(this.rules);
    this.rules = next;
    for (const book of this.books.values()) this.reevaluate(book);
    this.conflation.flush();
  }

  locationList(): LocationInput[] {
    return [...this.locations.values()].map((l) => l.toInput());
  }

  private reevaluateAt(locationId: string): void {
    for (const p of this.positionsAt.get(locationId) ?? []) this.reevaluate(this.books.get(p.sku));
  }

  private reevaluate(book: SkuBook | undefined): void {
    if (book === undefined) return;
    book.invalidate();
    this.changed(book);
  }

  /** Drops every book, position and reservation (an import starts). */
  clearBooks(): void {
    this.books.clear();
    this.bookTable.clear();
    this.positionsAt.clear();
    this.reservationIndex.clear();
    this.reservationTimes.clear();
    this.expiry.clear();
    this.positionCount = 0;
    this.watchedTopics = 0;
  }

  /** Puts every reservation back in the expiry schedule (expiries were refused during an outage). */
  rearmExpiry(): void {
    this.expiry.clear();
    for (const book of this.books.values()) {
      for (const r of book.reservations.values()) this.expiry.schedule(r);
    }
  }

  // ---- UndoTarget ----------------------------------------------------------------------------------

  reschedule(reservation: Reservation, present: boolean): void {
    if (present) this.schedule(reservation);
    else this.unschedule(reservation);
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
    const before = viewKey(location);
    location.reset(previous);
    if (viewKey(location) !== before) this.reevaluateAt(id);
  }

  removeBook(sku: string): void {
    this.books.delete(sku);
    this.bookTable.delete(sku);
  }

  restoreProduct(book: SkuBook, previous: Product): void {
    book.group = previous.group;
    book.attributes = previous.attributes;
    book.prices = previous.prices;
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
}
