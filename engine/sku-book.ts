import type {
  AdjustCommand,
  AllocateCommand,
  Command,
  CommandResult,
  ConfirmCommand,
  DeallocateCommand,
  ExpireCommand,
  ReleaseCommand,
  ReserveCommand,
  SetOnHandCommand,
  ShipCommand,
} from './commands.ts';
import { applyCap, bufferUnits, type Channel, type ChannelRules } from './channel-rules.ts';
import { floorOf, isEpochMs, keptAfter, sumAfter, withChange } from './changes-since-feed.ts';
import { ErrorCode, Reason } from './errors.ts';
import { idHash } from './id-table.ts';
import type { LocationRanker } from './location-ranker.ts';
import type { Location } from './master-data.ts';
import { Position } from './position.ts';
import { Reservation, ReservationLine, reservationOf } from './reservation.ts';
import type { ReservationTimes } from './reservation-times.ts';
import { asDuplicate, fail, ok } from './results.ts';
import { RecentOp } from './recent-op.ts';
import type { UndoableBook, UndoLog } from './undo-log.ts';
import { BookReservations, type ReservationIndex } from './reservation-index.ts';

/** What a book needs from the engine around it. */
export interface BookContext {
  readonly rules: ChannelRules;
  readonly maxReservationTtlMs: number;
  readonly tombstoneTtlMs: number;
  readonly idempotencyWindow: number;
  now(): number;
  location(id: string): Location | undefined;
  /** Where reservations keep their times. */
  readonly reservationTimes: ReservationTimes;
  /** (Re)schedules a reservation in the engine's expiry structure at its `dueAt`. */
  schedule(reservation: Reservation): void;
  /** Takes a reservation out of the expiry structure (it is purged); none there is fine. */
  unschedule(reservation: Reservation): void;
  /** A number some channel may see changed in this book. */
  changed(book: SkuBook): void;
  /** A feed older than the position's newest was ignored. */
  staleFeed(): void;
  /** A feed row's count was corrected for changes recorded after its as-of. */
  feedCompensated(): void;
  /** A feed row was applied with an as-of that is not an epoch-ms time (a sequence, seconds):
   * it cannot be corrected for what shipped after it. */
  feedUncompensable(): void;
  /** A position was created (the engine indexes positions by location). */
  positionAdded(p: Position): void;
  /** Where changes are recorded until they are durable; null when there is no journal. */
  readonly undo: UndoLog<SkuBook> | null;
  /** Chooses the locations of network reservations; null: most available first. */
  readonly ranker: LocationRanker | null;
}

const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});
const NO_PRICES: Readonly<Record<string, number>> = Object.freeze({});

/** A live availability topic of this SKU: a channel's network value or one location's value. */
export class Watch {
  subscribers = 0;
  last = -1;
  seq = 0;

  constructor(
    readonly channel: string,
    readonly location: string | null,
    readonly topic: string,
  ) {}
}

/**
 * Everything the engine knows about one SKU: its positions (one per location), its reservations
 * and each channel's availability, kept incrementally. A book is only ever mutated inside the
 * turn of the actor that owns it, one command at a time, so it needs no locks.
 */
export class SkuBook implements UndoableBook {
  readonly sku: string;
  group: string;
  /** The product's attributes (rules may match them) and prices, from the master data. */
  attributes: Readonly<Record<string, string>> = NO_ATTRIBUTES;
  prices: Readonly<Record<string, number>> = NO_PRICES;
  /** The actor (partition) that owns this book. */
  readonly partition: number;
  readonly positions: Position[] = [];
  readonly byLocation = new Map<string, Position>();
  readonly reservations: BookReservations<SkuBook>;
  private readonly recentOps = new Map<string, RecentOp>();
  /** Commands routed to this book and not yet answered (the mailbox bound counts these). */
  pending = 0;
  /** Queued for the next delta flush. */
  queued = false;
  /** Journal sequence of the last record applied to this book (0: none). Replay skips records
   * at or below it, so a snapshot taken while commands run can be completed from the journal. */
  lsn = 0;
  watches: Map<string, Watch> | null = null;
  // Views: contribution of each position to each channel's network availability.
  private viewVersion = -1;
  private contrib: number[][] = [];
  private netSum: number[] = [];
  private caps: (ReturnType<ChannelRules['cap']> | undefined)[] = [];
  private capsVersion = -1;
  private readonly stale: Position[] = [];

  constructor(sku: string, group: string, partition: number, index: ReservationIndex<SkuBook>) {
    this.sku = sku;
    this.group = group;
    this.partition = partition;
    this.reservations = new BookReservations(this, sku, index);
  }

  // ---- commands -------------------------------------------------------------------------

  apply(cmd: Command, ctx: BookContext): CommandResult {
    switch (cmd.op) {
      case 'reserve':
        return this.reserve(cmd, ctx);
      case 'release':
        return this.release(cmd, ctx);
      case 'confirm':
        return this.confirm(cmd, ctx);
      case 'setOnHand':
        return this.setOnHand(cmd, ctx);
      case 'adjust':
        return (
          this.once(cmd.adjustmentId, adjustPrint(cmd)) ??
          this.record(cmd.adjustmentId, adjustPrint(cmd), this.adjust(cmd, ctx), ctx)
        );
      case 'allocate':
        return (
          this.once(cmd.allocationId, allocatePrint(cmd)) ??
          this.record(cmd.allocationId, allocatePrint(cmd), this.allocate(cmd, ctx), ctx)
        );
      case 'deallocate':
        return (
          this.once(cmd.requestId, movePrint(cmd)) ??
          this.record(cmd.requestId, movePrint(cmd), this.unallocate(cmd, ctx), ctx)
        );
      case 'ship':
        return (
          this.once(cmd.shipmentId, movePrint(cmd)) ??
          this.record(cmd.shipmentId, movePrint(cmd), this.unallocate(cmd, ctx), ctx)
        );
      case 'expire':
        return this.expire(cmd, ctx);
    }
  }

  /**
   * An absolute count taken at `asOf`. The changes the position recorded after `asOf` (shipments,
   * restocks, deltas) are not in that count, so they are added back to it rather than undone; a
   * row older than a change the position has forgotten (its ledger was full) is stale.
   */
  private setOnHand(cmd: SetOnHandCommand, ctx: BookContext): CommandResult {
    const p = this.positionAt(cmd.location, ctx);
    if (p === undefined) return unknownLocation(cmd.location);
    if (cmd.asOf <= p.feedAsOf) {
      ctx.staleFeed();
      return ok(false, p.view(), null);
    }
    let onHand = cmd.onHand;
    const ledger = p.sinceFeed;
    if (!isEpochMs(cmd.asOf)) {
      // A sequence cannot be compared with the changes' times: the row applies as it is.
      ctx.feedUncompensable();
      if (ledger !== null) {
        ctx.undo?.changesSinceFeed(p);
        p.sinceFeed = null;
      }
    } else if (ledger !== null) {
      if (cmd.asOf < floorOf(ledger)) {
        ctx.staleFeed();
        return ok(false, p.view(), null);
      }
      const since = sumAfter(ledger, cmd.asOf);
      if (since !== 0) ctx.feedCompensated();
      onHand += since;
      ctx.undo?.changesSinceFeed(p);
      p.sinceFeed = keptAfter(ledger, cmd.asOf);
    }
    ctx.undo?.position(this, p);
    p.feedAsOf = cmd.asOf;
    if (p.onHand !== onHand) {
      p.onHand = onHand;
      this.touch(p, ctx);
    }
    return ok(true, p.view(), null);
  }

  private adjust(cmd: AdjustCommand, ctx: BookContext): CommandResult {
    const p = this.positionAt(cmd.location, ctx);
    if (p === undefined) return unknownLocation(cmd.location);
    if (cmd.asOf !== undefined && cmd.asOf <= p.feedAsOf) {
      ctx.staleFeed();
      return ok(false, p.view(), null);
    }
    ctx.undo?.position(this, p);
    p.onHand += cmd.delta;
    // A delta's own as-of is its time when it is one; otherwise it happened now.
    const at = cmd.asOf !== undefined && isEpochMs(cmd.asOf) ? cmd.asOf : ctx.now();
    this.noteChange(p, at, cmd.delta, ctx);
    this.touch(p, ctx);
    return ok(true, p.view(), null);
  }

  /** Keeps a relative onHand change for the feeds still to come (see changes-since-feed.ts). */
  private noteChange(p: Position, at: number, delta: number, ctx: BookContext): void {
    const next = withChange(p.sinceFeed, p.feedAsOf, at, delta);
    if (next === p.sinceFeed) return;
    ctx.undo?.changesSinceFeed(p);
    p.sinceFeed = next;
  }

  private reserve(cmd: ReserveCommand, ctx: BookContext): CommandResult {
    const existing = this.reservations.get(cmd.reservationId);
    if (existing !== undefined) {
      return existing.sameRequest(cmd.channel, cmd.sku, cmd.qty, cmd.location ?? null)
        ? ok(false, null, existing.view(), true)
        : fail(
            ErrorCode.CONFLICT,
            Reason.ID_REUSED,
            `reservation ${cmd.reservationId} exists with other content`,
          );
    }
    const channel = ctx.rules.channel(cmd.channel);
    if (channel === undefined) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_CHANNEL, `unknown channel ${cmd.channel}`);
    }
    const ttl = cmd.ttlMs ?? channel.reservationTtlMs;
    const now = ctx.now();
    let lines: ReservationLine[] | null = null;
    let single: Position | null = null;
    if (cmd.location !== undefined) {
      const location = ctx.location(cmd.location);
      if (location === undefined) return unknownLocation(cmd.location);
      const p = this.byLocation.get(cmd.location);
      if (p === undefined) return insufficient(0, null);
      // A hold at one location is a pick-up hold: none where the location offers no pick-up.
      if (!location.pickup) return insufficient(0, Reason.PICKUP_DISABLED);
      const available = this.locationValue(channel, p, ctx.rules);
      if (cmd.qty > available) return insufficient(available, this.excludedAt(channel, p, ctx));
      single = p;
    } else {
      const available = this.networkValue(channel, ctx.rules);
      if (cmd.qty > available) return insufficient(available, null);
      lines =
        cmd.lines === undefined
          ? this.split(channel, cmd.qty, ctx.ranker)
          : this.linesOf(cmd.lines, channel, cmd.qty, ctx.ranker);
    }
    const reservation =
      lines === null
        ? new Reservation(
            cmd.reservationId,
            channel.id,
            cmd.qty,
            cmd.location ?? null,
            single as Position,
            cmd.qty,
            null,
            now + ttl,
            ctx.reservationTimes,
          )
        : reservationOf(
            cmd.reservationId,
            channel.id,
            cmd.qty,
            null,
            lines,
            now + ttl,
            ctx.reservationTimes,
          );
    this.hold(reservation, ctx);
    return ok(true, null, reservation.view());
  }

  /** Puts a granted reservation's quantities on its positions and makes it known (`hash`: its
   * id's, when the caller has it). */
  private hold(reservation: Reservation, ctx: BookContext, hash?: number): void {
    for (let i = 0, n = reservation.lineCount; i < n; i++) {
      const p = reservation.linePosition(i);
      ctx.undo?.position(this, p);
      p.reserved += reservation.lineQty(i);
      this.touch(p, ctx);
    }
    this.reservations.add(reservation, hash);
    ctx.undo?.reservationAdded(this, reservation);
    ctx.schedule(reservation);
  }

  /**
   * Applies a journaled reserve at recovery, trusting the journal: a reserve is journaled only
   * once granted, so what `reserve` checks first (availability, which resolves the position's
   * rules) and the answer it builds are skipped; views refresh lazily, as after any change.
   * Returns false, changing nothing, when the record does not fit the state as a granted reserve
   * must (its id known, its channel or position unknown, a network reserve journaled without its
   * lines): the caller applies it through `apply` then, which decides as the live path did.
   */
  replayReserve(cmd: ReserveCommand, ctx: BookContext): boolean {
    const channel = ctx.rules.channel(cmd.channel);
    // Hashed once for the check and the add: a million ids at recovery.
    const hash = idHash(cmd.reservationId);
    if (channel === undefined || this.reservations.known(cmd.reservationId, hash)) return false;
    const expiresAt = ctx.now() + (cmd.ttlMs ?? channel.reservationTtlMs);
    let reservation: Reservation;
    if (cmd.location !== undefined) {
      const p = this.byLocation.get(cmd.location);
      if (p === undefined) return false;
      reservation = new Reservation(
        cmd.reservationId,
        channel.id,
        cmd.qty,
        cmd.location,
        p,
        cmd.qty,
        null,
        expiresAt,
        ctx.reservationTimes,
      );
    } else {
      if (cmd.lines === undefined || cmd.lines.length === 0) return false;
      const lines: ReservationLine[] = [];
      for (const [location, take] of cmd.lines) {
        const p = this.byLocation.get(location);
        if (p === undefined) return false;
        lines.push(new ReservationLine(p, take));
      }
      reservation = reservationOf(
        cmd.reservationId,
        channel.id,
        cmd.qty,
        null,
        lines,
        expiresAt,
        ctx.reservationTimes,
      );
    }
    this.hold(reservation, ctx, hash);
    return true;
  }

  private release(cmd: ReleaseCommand, ctx: BookContext): CommandResult {
    const r = this.reservations.get(cmd.reservationId);
    if (r === undefined) return unknownReservation(cmd.reservationId);
    if (cmd.channel !== undefined && cmd.channel !== r.channel) return otherChannel(r, cmd.channel);
    if (r.state === 'held') {
      this.end(r, 'released', ctx);
      return ok(true, null, r.view());
    }
    if (r.state === 'confirmed') return notHeld(r);
    return ok(false, null, r.view(), true);
  }

  private confirm(cmd: ConfirmCommand, ctx: BookContext): CommandResult {
    const r = this.reservations.get(cmd.reservationId);
    if (r === undefined) return unknownReservation(cmd.reservationId);
    if (cmd.channel !== undefined && cmd.channel !== r.channel) return otherChannel(r, cmd.channel);
    if (r.state === 'confirmed') {
      return r.orderId === cmd.orderId
        ? ok(false, null, r.view(), true)
        : fail(
            ErrorCode.CONFLICT,
            Reason.ID_REUSED,
            `reservation ${r.id} is already confirmed for order ${String(r.orderId)}`,
          );
    }
    if (r.state !== 'held') return notHeld(r);
    for (let i = 0, n = r.lineCount; i < n; i++) {
      const p = r.linePosition(i);
      const qty = r.lineQty(i);
      ctx.undo?.position(this, p);
      ctx.undo?.orderQty(p, cmd.orderId);
      p.reserved -= qty;
      p.addOrderQty(cmd.orderId, qty);
      this.touch(p, ctx);
    }
    this.finish(r, 'confirmed', ctx);
    r.orderId = cmd.orderId; // after finish, which records the fields for undo
    return ok(true, null, r.view());
  }

  private allocate(cmd: AllocateCommand, ctx: BookContext): CommandResult {
    const channel = ctx.rules.channel(cmd.channel);
    if (channel === undefined) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_CHANNEL, `unknown channel ${cmd.channel}`);
    }
    if (ctx.location(cmd.location) === undefined) return unknownLocation(cmd.location);
    const p = this.byLocation.get(cmd.location);
    if (p === undefined) return insufficient(0, null);
    const available = this.locationValue(channel, p, ctx.rules);
    if (cmd.qty > available) return insufficient(available, this.excludedAt(channel, p, ctx));
    ctx.undo?.position(this, p);
    ctx.undo?.orderQty(p, cmd.orderId);
    p.addOrderQty(cmd.orderId, cmd.qty);
    this.touch(p, ctx);
    return ok(true, p.view(), null);
  }

  /** Takes qty off the order's allocation at the location: handed back (deallocate), or gone
   * from the shelf too (ship: onHand goes down with it). */
  private unallocate(cmd: DeallocateCommand | ShipCommand, ctx: BookContext): CommandResult {
    const p = this.byLocation.get(cmd.location);
    const held = p === undefined ? 0 : p.orderQty(cmd.orderId);
    if (p === undefined || held < cmd.qty) return noAllocation(cmd, held);
    ctx.undo?.position(this, p);
    ctx.undo?.orderQty(p, cmd.orderId);
    p.addOrderQty(cmd.orderId, -cmd.qty);
    if (cmd.op === 'ship') {
      p.onHand -= cmd.qty;
      this.noteChange(p, ctx.now(), -cmd.qty, ctx);
    }
    this.touch(p, ctx);
    return ok(true, p.view(), null);
  }

  private expire(cmd: ExpireCommand, ctx: BookContext): CommandResult {
    const r = this.reservations.get(cmd.reservationId);
    if (r === undefined) return ok(false, null, null);
    if (r.state === 'held') {
      if (r.expiresAt > cmd.at) return ok(false, null, r.view());
      this.end(r, 'expired', ctx, cmd.at);
      return ok(true, null, r.view());
    }
    if (r.endedAt + ctx.tombstoneTtlMs <= cmd.at) {
      this.reservations.remove(r);
      // The expiry scheduler took it out before it sent this purge; a purge replayed from the
      // journal (recovery, a resync) finds it still scheduled, and a purged reservation left
      // there would sit at the head of the queue with its times given back.
      ctx.unschedule(r);
      // With a journal its times are given back once the purge is durable (it may be undone).
      if (ctx.undo !== null) ctx.undo.reservationDeleted(this, r);
      else r.dispose();
      return ok(true, null, null);
    }
    return ok(false, null, r.view());
  }

  private end(r: Reservation, state: 'released' | 'expired', ctx: BookContext, at?: number): void {
    for (let i = 0, n = r.lineCount; i < n; i++) {
      const p = r.linePosition(i);
      ctx.undo?.position(this, p);
      p.reserved -= r.lineQty(i);
      this.touch(p, ctx);
    }
    this.finish(r, state, ctx, at);
  }

  private finish(
    r: Reservation,
    state: 'released' | 'expired' | 'confirmed',
    ctx: BookContext,
    at?: number,
  ): void {
    ctx.undo?.reservation(r);
    r.state = state;
    r.endedAt = at ?? ctx.now();
    r.dueAt = r.endedAt + ctx.tombstoneTtlMs;
    ctx.schedule(r);
  }

  /** The answer to a repeated id: the first answer again, or CONFLICT for other content. */
  private once(id: string, fingerprint: string): CommandResult | null {
    const seen = this.recentOps.get(id);
    if (seen === undefined) return null;
    return seen.fingerprint === fingerprint
      ? asDuplicate(seen.result)
      : fail(ErrorCode.CONFLICT, Reason.ID_REUSED, `id ${id} was used with other content`);
  }

  /** Remembers an applied id-keyed command, so a retry is answered without a second effect. */
  private record(
    id: string,
    fingerprint: string,
    result: CommandResult,
    ctx: BookContext,
  ): CommandResult {
    // Only what changed state is remembered (and journaled); a stale delta asked again is simply
    // found stale again.
    if (result.ok && result.applied) {
      this.remember(id, new RecentOp(fingerprint, result), ctx.idempotencyWindow, ctx.undo);
    }
    return result;
  }

  private remember(id: string, op: RecentOp, window: number, undo: UndoLog<SkuBook> | null): void {
    this.recentOps.set(id, op);
    undo?.recentOp(this, id, null);
    if (this.recentOps.size > window) {
      const oldest = this.recentOps.entries().next();
      if (oldest.done !== true) {
        const [oldId, oldOp] = oldest.value;
        this.recentOps.delete(oldId);
        undo?.recentOp(this, oldId, oldOp);
      }
    }
  }

  dropRecentOp(id: string): void {
    this.recentOps.delete(id);
  }

  putRecentOp(id: string, op: RecentOp): void {
    this.recentOps.set(id, op);
  }

  // ---- positions and views ----------------------------------------------------------------

  private positionAt(locationId: string, ctx: BookContext): Position | undefined {
    const existing = this.byLocation.get(locationId);
    if (existing !== undefined) return existing;
    const location = ctx.location(locationId);
    if (location === undefined) return undefined;
    const p = this.addPosition(location, ctx);
    ctx.undo?.positionCreated(this, p);
    return p;
  }

  addPosition(location: Location, ctx: Pick<BookContext, 'positionAdded'>): Position {
    const p = new Position(this.sku, location, this.positions.length);
    this.positions.push(p);
    this.byLocation.set(location.id, p);
    ctx.positionAdded(p);
    if (this.viewVersion !== -1) {
      for (const column of this.contrib) column.push(0);
    }
    return p;
  }

  private touch(p: Position, ctx: BookContext): void {
    this.restale(p);
    ctx.changed(this);
  }

  /** Takes back the newest position (its creation was undone). */
  removeNewestPosition(p: Position): boolean {
    if (this.positions[this.positions.length - 1] !== p) return false;
    this.positions.pop();
    this.byLocation.delete(p.location.id);
    if (p.dirty) {
      const i = this.stale.indexOf(p);
      if (i !== -1) this.stale.splice(i, 1);
    }
    this.invalidate();
    return true;
  }

  /** Marks a position whose numbers were restored for re-evaluation. */
  restale(p: Position): void {
    // Views not built yet (a book just imported, or rules changed) are rebuilt whole at the next
    // read, every position with them: nothing to mark meanwhile (recovery replays a million).
    if (this.viewVersion === -1) return;
    if (!p.dirty) {
      p.dirty = true;
      this.stale.push(p);
    }
  }

  /** Marks every position for re-evaluation (rules or master data changed). */
  invalidate(): void {
    for (const p of this.positions) p.rulesVersion = -1;
    this.viewVersion = -1;
    this.capsVersion = -1;
  }

  private rulesOf(p: Position, rules: ChannelRules): Float64Array {
    if (p.rulesVersion !== rules.version || p.rules === null) {
      p.rules = rules.resolve(this.sku, this.group, this.attributes, p.location);
      p.rulesVersion = rules.version;
    }
    return p.rules;
  }

  /** What position p adds to the channel's network availability (before the network cap). */
  private contribution(channel: Channel, p: Position, rules: ChannelRules): number {
    const r = this.rulesOf(p, rules);
    const base = channel.index * 3;
    if (r[base] === 1) return 0;
    const v = p.free - bufferUnits(r[base + 1] ?? 0, r[base + 2] ?? 0, p.onHand);
    return v > 0 ? v : 0;
  }

  private capOf(channel: Channel, rules: ChannelRules): ReturnType<ChannelRules['cap']> {
    if (this.capsVersion !== rules.version) {
      this.capsVersion = rules.version;
      this.caps = rules.channels.map(() => undefined);
    }
    let cap = this.caps[channel.index];
    if (cap === undefined) {
      cap = rules.cap(channel, this.sku, this.group, this.attributes);
      this.caps[channel.index] = cap;
    }
    return cap;
  }

  /** The channel's view of one location: after buffers, the pickup buffer and the cap. */
  locationValue(channel: Channel, p: Position, rules: ChannelRules): number {
    const r = this.rulesOf(p, rules);
    const n = rules.channels.length * 3;
    const v =
      this.contribution(channel, p, rules) - bufferUnits(r[n] ?? 0, r[n + 1] ?? 0, p.onHand);
    return applyCap(v > 0 ? v : 0, this.capOf(channel, rules));
  }

  /**
   * Calls `visit` for every location where the channel may take something, with its view there
   * (what `locationValue` says), reading the incrementally kept network contributions instead of
   * recomputing each position's buffers: sourcing reads a SKU at every location per order.
   */
  forEachOffer(
    channel: Channel,
    rules: ChannelRules,
    visit: (location: string, available: number) => void,
  ): void {
    this.refresh(rules);
    const column = this.contrib[channel.index] as number[];
    const cap = this.capOf(channel, rules);
    for (const p of this.positions) {
      const available = this.offerOf(p, column, cap, rules);
      if (available > 0) visit(p.location.id, available);
    }
  }

  /** The same as `locationValue`, read from the kept contributions (one location of many). */
  offerAt(channel: Channel, location: string, rules: ChannelRules): number {
    const p = this.byLocation.get(location);
    if (p === undefined) return 0;
    this.refresh(rules);
    const column = this.contrib[channel.index] as number[];
    return this.offerOf(p, column, this.capOf(channel, rules), rules);
  }

  private offerOf(
    p: Position,
    column: readonly number[],
    cap: ReturnType<ChannelRules['cap']>,
    rules: ChannelRules,
  ): number {
    const contribution = column[p.index] ?? 0;
    if (contribution <= 0) return 0;
    const r = this.rulesOf(p, rules);
    const n = rules.channels.length * 3;
    const v = contribution - bufferUnits(r[n] ?? 0, r[n + 1] ?? 0, p.onHand);
    return applyCap(v > 0 ? v : 0, cap);
  }

  /** The channel's network availability of this SKU. */
  networkValue(channel: Channel, rules: ChannelRules): number {
    this.refresh(rules);
    return applyCap(this.netSum[channel.index] ?? 0, this.capOf(channel, rules));
  }

  /** Brings the per-channel contributions and network sums up to date, incrementally. */
  private refresh(rules: ChannelRules): void {
    const channels = rules.channels;
    if (this.viewVersion !== rules.version) {
      this.viewVersion = rules.version;
      this.contrib = channels.map(() => new Array<number>(this.positions.length).fill(0));
      this.netSum = channels.map(() => 0);
      for (const p of this.positions) {
        if (!p.dirty) {
          p.dirty = true;
          this.stale.push(p);
        }
      }
    }
    const stale = this.stale;
    if (stale.length === 0) return;
    for (const p of stale) {
      p.dirty = false;
      for (const channel of channels) {
        const column = this.contrib[channel.index] as number[];
        const next = this.contribution(channel, p, rules);
        const prev = column[p.index] ?? 0;
        if (next !== prev) {
          column[p.index] = next;
          this.netSum[channel.index] = (this.netSum[channel.index] ?? 0) + next - prev;
        }
      }
    }
    stale.length = 0;
  }

  /**
   * Splits a network reservation over locations: in the ranker's order when there is one, then
   * (or without one) most available first, ties by id. The caller checked the network value, so
   * the lines always cover qty.
   */
  private split(channel: Channel, qty: number, ranker: LocationRanker | null): ReservationLine[] {
    const column = this.contrib[channel.index] as number[];
    const candidates = this.positions
      .filter((p) => (column[p.index] ?? 0) > 0)
      .sort(
        (a, b) =>
          (column[b.index] ?? 0) - (column[a.index] ?? 0) ||
          (a.location.id < b.location.id ? -1 : 1),
      );
    let ordered = candidates;
    if (ranker !== null && candidates.length > 1) {
      const choices = candidates.map((p) => ({
        location: p.location.id,
        available: column[p.index] ?? 0,
      }));
      const first = ranker.rank(channel.id, this.sku, qty, choices);
      const picked = new Set<Position>();
      ordered = [];
      for (const id of first) {
        const p = this.byLocation.get(id);
        if (p !== undefined && (column[p.index] ?? 0) > 0 && !picked.has(p)) {
          picked.add(p);
          ordered.push(p);
        }
      }
      for (const p of candidates) if (!picked.has(p)) ordered.push(p);
    }
    const lines: ReservationLine[] = [];
    let remaining = qty;
    for (const p of ordered) {
      if (remaining === 0) break;
      const take = Math.min(remaining, column[p.index] ?? 0);
      lines.push(new ReservationLine(p, take));
      remaining -= take;
    }
    return lines;
  }

  /** The lines a journaled network reservation was split into (replay). */
  private linesOf(
    recorded: readonly (readonly [string, number])[],
    channel: Channel,
    qty: number,
    ranker: LocationRanker | null,
  ): ReservationLine[] {
    const lines: ReservationLine[] = [];
    for (const [location, take] of recorded) {
      const p = this.byLocation.get(location);
      if (p === undefined) return this.split(channel, qty, ranker);
      lines.push(new ReservationLine(p, take));
    }
    return lines;
  }

  private excludedAt(channel: Channel, p: Position, ctx: BookContext): Reason | null {
    return this.rulesOf(p, ctx.rules)[channel.index * 3] === 1 ? Reason.LOCATION_EXCLUDED : null;
  }

  /** Current value of a topic: the network value, or one location's value. */
  value(channelId: string, location: string | null, rules: ChannelRules): number {
    const channel = rules.channel(channelId);
    if (channel === undefined) return 0;
    if (location === null) return this.networkValue(channel, rules);
    const p = this.byLocation.get(location);
    // The per-location view is the pick-up (BOPIS) view: nothing where pick-up is off.
    return p === undefined || !p.location.pickup ? 0 : this.locationValue(channel, p, rules);
  }

  /**
   * Re-derives reserved and allocated from the reservations and order allocations, the book's
   * source of truth, after an actor failure left a command half-applied.
   */
  repair(): void {
    for (const p of this.positions) {
      p.reserved = 0;
      let allocated = 0;
      if (p.orders !== null) for (const q of p.orders.values()) allocated += q;
      p.allocated = allocated;
    }
    for (const r of this.reservations.values()) {
      if (r.state !== 'held') continue;
      for (let i = 0, n = r.lineCount; i < n; i++) r.linePosition(i).reserved += r.lineQty(i);
    }
    this.invalidate();
  }

  /** Recent idempotency ids, oldest first (persistence keeps them with the state). */
  recentOpEntries(): IterableIterator<[string, RecentOp]> {
    return this.recentOps.entries();
  }

  restoreRecentOp(id: string, fingerprint: string, result: CommandResult, window: number): void {
    this.remember(id, new RecentOp(fingerprint, result), window, null);
  }
}

function adjustPrint(cmd: AdjustCommand): string {
  return `adjust|${cmd.location}|${cmd.delta}|${cmd.asOf ?? ''}`;
}

function allocatePrint(cmd: AllocateCommand): string {
  return `allocate|${cmd.orderId}|${cmd.channel}|${cmd.location}|${cmd.qty}`;
}

function movePrint(cmd: DeallocateCommand | ShipCommand): string {
  return `${cmd.op}|${cmd.orderId}|${cmd.location}|${cmd.qty}`;
}

function unknownLocation(id: string): CommandResult {
  return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_LOCATION, `unknown location ${id}`);
}

function unknownReservation(id: string): CommandResult {
  return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_RESERVATION, `unknown reservation ${id}`);
}

function otherChannel(r: Reservation, channel: string): CommandResult {
  return fail(
    ErrorCode.FORBIDDEN,
    Reason.OTHER_CHANNEL,
    `reservation ${r.id} belongs to another channel than ${channel}`,
  );
}

function notHeld(r: Reservation): CommandResult {
  return fail(
    ErrorCode.CONFLICT,
    Reason.RESERVATION_NOT_HELD,
    `reservation ${r.id} is ${r.state}, not held`,
  );
}

function insufficient(available: number, reason: Reason | null): CommandResult {
  return fail(ErrorCode.INSUFFICIENT_STOCK, reason, `only ${available} available`, available);
}

function noAllocation(cmd: DeallocateCommand | ShipCommand, held: number): CommandResult {
  return fail(
    ErrorCode.CONFLICT,
    Reason.UNKNOWN_ALLOCATION,
    `order ${cmd.orderId} has ${held} of ${cmd.sku} allocated at ${cmd.location}, asked for ${cmd.qty}`,
  );
}
