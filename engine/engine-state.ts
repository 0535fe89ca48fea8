import type { ChangeLedger } from './changes-since-feed.ts';
import type { RulesInput } from './channel-rules.ts';
import type { CommandResult, ReservationState } from './commands.ts';
import type { Location, LocationInput, ProductInput } from './master-data.ts';
import { Reservation, ReservationLine, reservationOf } from './reservation.ts';
import { readReservations, type ReadReservation } from './reservation-block.ts';
import type { Position } from './position.ts';
import type { ReservationTimes } from './reservation-times.ts';
import type { SkuBook } from './sku-book.ts';

/**
 * The state format this version writes. 2: positions carry their changes since the last feed
 * (`sinceFeed`). 3: a snapshot may carry a book's reservations in several items (a SKU held by a
 * flash sale is serialized over several turns: see SnapshotCursor): the book's item says `more`,
 * and `ReservationsPart` items after it carry the rest. 4: a snapshot item carries its
 * reservations as one binary block (`packed`, reservation-block.ts) instead of a list of records.
 * Formats 1 to 3 are still read: format 1 positions have no changes since the feed, which is what
 * they had before the changes were kept, formats 1 and 2 split no book, and formats 1 to 3 list
 * reservations as records.
 */
export const STATE_FORMAT = 4;

/** The state formats this version reads (see STATE_FORMAT). */
export type StateFormat = 1 | 2 | 3 | 4;

/**
 * The engine's whole state as plain data (what persistence snapshots and restores). Reserved and
 * allocated quantities are not stored: they are derived from the reservations and the order
 * allocations on import, so a snapshot cannot hold counters that disagree with their sources.
 */
export interface EngineState {
  readonly format: StateFormat;
  readonly takenAt: number;
  /** Journal sequence of the last rules or master-data record included. */
  readonly metaLsn: number;
  readonly rules: RulesInput;
  readonly locations: readonly LocationInput[];
  readonly skus: readonly SkuState[];
}

export interface SkuState {
  readonly sku: string;
  readonly group: string;
  /** The product's attributes and prices; left out when it has none (and by earlier versions). */
  readonly attributes?: Readonly<Record<string, string>>;
  readonly prices?: Readonly<Record<string, number>>;
  /** Journal sequence of the last record applied to this SKU's book. */
  readonly lsn: number;
  readonly positions: readonly PositionState[];
  readonly reservations: readonly ReservationRecord[];
  /** In a snapshot (format 4): the reservations as a binary block (reservation-block.ts), after
   * those of `reservations` (then empty). */
  readonly packed?: Uint8Array;
  /** [id, fingerprint, result], oldest first. */
  readonly recentOps: readonly (readonly [string, string, CommandResult])[];
  /** True when more of its reservations follow in ReservationsPart items (format 3). */
  readonly more?: boolean;
}

/**
 * More reservations of a book whose item came earlier in the same snapshot (format 3), as they
 * were when that item was taken. `more` says whether another part follows.
 */
export interface ReservationsPart {
  readonly sku: string;
  readonly part: true;
  readonly reservations: readonly ReservationRecord[];
  /** As in SkuState (format 4). */
  readonly packed?: Uint8Array;
  readonly more: boolean;
}

export function isReservationsPart(item: object): item is ReservationsPart {
  return 'part' in item;
}

export interface PositionState {
  readonly location: string;
  readonly onHand: number;
  /** null before the first absolute feed. */
  readonly feedAsOf: number | null;
  /** [orderId, qty] allocated at this position. */
  readonly orders: readonly (readonly [string, number])[];
  /** Changes since the last absolute feed; null when none (absent in format 1). */
  readonly sinceFeed?: SinceFeedState | null;
}

export interface SinceFeedState {
  /** The latest time of a forgotten change (the ledger was full); null when none was. */
  readonly floor: number | null;
  /** [time, delta, time, delta, ...] in the order they were recorded. */
  readonly changes: readonly number[];
}

function sinceFeedOf(ledger: ChangeLedger | null): SinceFeedState | null {
  if (ledger === null) return null;
  const floor = ledger[0] as number;
  return { floor: floor === -Infinity ? null : floor, changes: ledger.slice(1) };
}

function ledgerOf(state: SinceFeedState | null | undefined): ChangeLedger | null {
  if (state === null || state === undefined || state.changes.length === 0) return null;
  return [state.floor ?? -Infinity, ...state.changes];
}

export interface ReservationRecord {
  readonly id: string;
  readonly channel: string;
  readonly qty: number;
  readonly location: string | null;
  /** [location, qty] */
  readonly lines: readonly (readonly [string, number])[];
  readonly expiresAt: number;
  readonly state: ReservationState;
  readonly orderId: string | null;
  readonly endedAt: number;
}

function byOrderId(a: readonly [string, number], b: readonly [string, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function exportBook(book: SkuBook): SkuState {
  return exportBookWith(book, book.reservations.values().map(reservationRecord), false);
}

/** A reservation as an exported state keeps it (as it is now). */
function reservationRecord(r: Reservation): ReservationRecord {
  return {
    id: r.id,
    channel: r.channel,
    qty: r.qty,
    location: r.requestedLocation,
    lines: r.lineList().map((l) => [l.position.location.id, l.qty] as const),
    expiresAt: r.expiresAt,
    state: r.state,
    orderId: r.orderId,
    endedAt: r.endedAt,
  };
}

/** The book's state with `reservations` or `packed` (all of them, or the first part: `more`). */
export function exportBookWith(
  book: SkuBook,
  reservations: ReservationRecord[],
  more: boolean,
  packed?: Uint8Array,
): SkuState {
  return {
    sku: book.sku,
    group: book.group,
    ...(Object.keys(book.attributes).length === 0 ? {} : { attributes: book.attributes }),
    ...(Object.keys(book.prices).length === 0 ? {} : { prices: book.prices }),
    lsn: book.lsn,
    positions: book.positions.map((p) => ({
      location: p.location.id,
      onHand: p.onHand,
      feedAsOf: p.feedAsOf === -Infinity ? null : p.feedAsOf,
      // Sorted so an export is canonical: an undone allocation re-enters the
      // map at its end, and two equal states must export equal.
      orders: p.orders === null ? [] : [...p.orders.entries()].sort(byOrderId),
      sinceFeed: sinceFeedOf(p.sinceFeed),
    })),
    reservations,
    ...(packed === undefined ? {} : { packed }),
    recentOps: [...book.recentOpEntries()].map(
      ([id, op]) => [id, op.fingerprint, op.result] as const,
    ),
    ...(more ? { more } : {}),
  };
}

export function exportState(
  books: Iterable<SkuBook>,
  rules: RulesInput,
  locations: LocationInput[],
  takenAt: number,
  metaLsn: number,
): EngineState {
  const skus: SkuState[] = [];
  for (const book of books) skus.push(exportBook(book));
  return { format: STATE_FORMAT, takenAt, metaLsn, rules, locations, skus };
}

export interface ImportTarget {
  addBook(product: ProductInput): SkuBook;
  /** The book already imported for `sku` (a ReservationsPart continues it). */
  book(sku: string): SkuBook | undefined;
  location(id: string): Location | undefined;
  /** Puts a restored reservation in the expiry schedule (the book's add already indexed it). */
  schedule(reservation: Reservation): void;
  positionAdded(p: Position): void;
  readonly idempotencyWindow: number;
  readonly tombstoneTtlMs: number;
  readonly reservationTimes: ReservationTimes;
}

/** Adds the books of a state (whole, or one snapshot chunk at a time). */
export function importBooks(
  skus: readonly (SkuState | ReservationsPart)[],
  target: ImportTarget,
): void {
  for (const s of skus) {
    if (isReservationsPart(s)) {
      const book = target.book(s.sku);
      if (book === undefined) throw new Error(`reservations of ${s.sku} come before its book`);
      importReservations(book, s.reservations, target);
      if (s.packed !== undefined) importPacked(book, s.packed, target);
      if (!s.more) book.repair();
      continue;
    }
    const book = target.addBook({
      sku: s.sku,
      group: s.group,
      attributes: s.attributes ?? {},
      prices: s.prices ?? {},
    });
    book.lsn = s.lsn;
    for (const ps of s.positions) {
      const location = target.location(ps.location);
      if (location === undefined) throw new Error(`state names unknown location ${ps.location}`);
      const p = book.addPosition(location, target);
      p.onHand = ps.onHand;
      p.feedAsOf = ps.feedAsOf ?? -Infinity;
      p.sinceFeed = ledgerOf(ps.sinceFeed);
      for (const [orderId, qty] of ps.orders) p.addOrderQty(orderId, qty);
    }
    importReservations(book, s.reservations, target);
    if (s.packed !== undefined) importPacked(book, s.packed, target);
    for (const [id, fingerprint, result] of s.recentOps) {
      book.restoreRecentOp(id, fingerprint, result, target.idempotencyWindow);
    }
    // Reserved quantities are derived once the book has all its reservations.
    if (s.more !== true) book.repair();
  }
}

function importReservations(
  book: SkuBook,
  records: readonly ReservationRecord[],
  target: ImportTarget,
): void {
  for (const rs of records) {
    const lines = rs.lines.map(
      ([loc, qty]) => new ReservationLine(positionOf(book, rs.id, loc), qty),
    );
    const r = reservationOf(
      rs.id,
      rs.channel,
      rs.qty,
      rs.location,
      lines,
      rs.expiresAt,
      target.reservationTimes,
    );
    restore(book, r, rs, target);
  }
}

/** The book's position at `location`, which reservation `id` of the state names. */
function positionOf(book: SkuBook, id: string, location: string): Position {
  const p = book.byLocation.get(location);
  if (p === undefined) throw new Error(`reservation ${id} names unknown position ${location}`);
  return p;
}

/** A reservation's changing fields as the state holds them; then it is the book's again. */
function restore(
  book: SkuBook,
  r: Reservation,
  rs: Pick<ReservationRecord, 'state' | 'orderId' | 'endedAt' | 'expiresAt'>,
  target: ImportTarget,
): void {
  r.state = rs.state;
  r.orderId = rs.orderId;
  r.endedAt = rs.endedAt;
  r.dueAt = rs.state === 'held' ? rs.expiresAt : rs.endedAt + target.tombstoneTtlMs;
  book.reservations.add(r);
  target.schedule(r);
}

/** The reservations of a binary block (format 4), built straight from its bytes. */
function importPacked(book: SkuBook, packed: Uint8Array, target: ImportTarget): void {
  readReservations(packed, (rs: ReadReservation) => {
    const lines = rs.lines;
    const first = positionOf(book, rs.id, lines[0] as string);
    let more: ReservationLine[] | null = null;
    for (let i = 2; i < lines.length; i += 2) {
      const p = positionOf(book, rs.id, lines[i] as string);
      (more ??= []).push(new ReservationLine(p, lines[i + 1] as number));
    }
    const r = new Reservation(
      rs.id,
      rs.channel,
      rs.qty,
      rs.location,
      first,
      lines[1] as number,
      more,
      rs.expiresAt,
      target.reservationTimes,
    );
    restore(book, r, rs, target);
  });
}
