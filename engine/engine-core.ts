import type { Logger } from 'pino';
import { ChannelRules } from './channel-rules.ts';
import type { Clock } from './clock.ts';
import type { Command } from './commands.ts';
import { DeltaConflation } from './delta-conflation.ts';
import { DueQueue } from './due-queue.ts';
import type { LocationRanker } from './location-ranker.ts';
import { Location, type LocationInput, type ProductInput } from './master-data.ts';
import type { Position } from './position.ts';
import type { Reservation } from './reservation.ts';
import { ReservationIndex } from './reservation-index.ts';
import { ReservationTimes } from './reservation-times.ts';
import { SkuBook, type BookContext } from './sku-book.ts';
import type { UndoLog, UndoTarget } from './undo-log.ts';

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

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
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
      : this.books.get(cmd.sku);
  }

  // ---- master data and rules ----------------------------------------------------------------------

  applyLocations(list: readonly LocationInput[]): void {
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

  applyProducts(list: readonly ProductInput[]): void {
    for (const input of list) {
      const group = input.group ?? '';
      const existing = this.books.get(input.sku);
      if (existing === undefined) {
        const partition = fnv1a(input.sku) % this.partitions;
        this.books.set(input.sku, new SkuBook(input.sku, group, partition, this.reservationIndex));
        this.undo?.product(input.sku, null, group);
      } else if (existing.group !== group) {
        this.undo?.product(input.sku, existing, existing.group);
        existing.group = group;
        this.reevaluate(existing);
      }
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
}
