import type { Command, RulesInput } from '../../engine/index.ts';

/**
 * A plain reference model of the stock engine, written from the documented rules (docs/engine.md)
 * without the engine's data structures: no incremental views, no caches, no actors. The property
 * test runs random histories against both and compares every answer and every number.
 */
export interface ModelLocation {
  readonly id: string;
  readonly type: string;
}

interface MPosition {
  onHand: number;
  feedAsOf: number;
  /** Relative onHand changes since the last absolute feed, with their times (docs/engine.md). */
  changes: { at: number; delta: number }[];
  /** Latest time of a change forgotten because more than CHANGES_KEPT were kept. */
  floor: number;
  reserved: number;
  allocated: number;
  orders: Map<string, number>;
}

interface MReservation {
  readonly id: string;
  readonly sku: string;
  readonly channel: string;
  readonly qty: number;
  readonly location: string | null;
  readonly lines: [string, number][];
  readonly expiresAt: number;
  state: 'held' | 'released' | 'expired' | 'confirmed';
  orderId: string | null;
  endedAt: number;
}

export interface ModelAnswer {
  readonly ok: boolean;
  readonly code: string;
  readonly applied: boolean;
  readonly duplicate: boolean;
  readonly available: number | null;
  readonly lines: [string, number][] | null;
}

const FIELDS = ['channel', 'locationType', 'location', 'sku', 'skuGroup'] as const;
const WEIGHTS = { channel: 1, locationType: 2, location: 4, sku: 16, skuGroup: 8 };
type Subject = Record<(typeof FIELDS)[number], string>;
type Sel = Partial<Record<(typeof FIELDS)[number], string | undefined>>;

function best<T extends Sel>(rules: readonly T[], subject: Subject): T | undefined {
  let winner: T | undefined;
  let score = -1;
  for (const rule of rules) {
    let s = 0;
    let matches = true;
    for (const f of FIELDS) {
      const v = rule[f];
      if (v === undefined) continue;
      if (v !== subject[f]) matches = false;
      s += WEIGHTS[f];
    }
    if (matches && s > score) {
      winner = rule;
      score = s;
    }
  }
  return winner;
}

function bufferOf(units: number, percent: number, onHand: number): number {
  return onHand > 0 ? Math.max(units, Math.ceil((onHand * percent) / 100)) : units;
}

function cap(
  value: number,
  c: { units?: number | undefined; percent?: number | undefined } | undefined,
): number {
  if (c === undefined || value <= 0) return value;
  let out = value;
  if (c.units !== undefined) out = Math.min(out, c.units);
  if (c.percent !== undefined) out = Math.min(out, Math.floor((value * c.percent) / 100));
  return out;
}

/** Changes since the last feed a position keeps (docs/engine.md). */
const CHANGES_KEPT = 32;

/** An as-of within 2001..2286 in epoch ms is a time; anything else is a sequence (docs/api.md). */
function epochMs(asOf: number): boolean {
  return asOf >= 1e12 && asOf < 1e13;
}

export class StockModel {
  now: number;
  rules: RulesInput;
  private readonly positions = new Map<string, MPosition>();
  readonly reservations = new Map<string, MReservation>();
  private readonly ops = new Map<string, { print: string; answer: ModelAnswer }>();

  constructor(
    readonly locations: readonly ModelLocation[],
    readonly groups: Readonly<Record<string, string>>,
    rules: RulesInput,
    start: number,
    readonly tombstoneTtlMs: number,
  ) {
    this.rules = rules;
    this.now = start;
  }

  position(
    sku: string,
    location: string,
  ): { onHand: number; reserved: number; allocated: number } | null {
    const p = this.positions.get(`${sku}|${location}`);
    return p === undefined
      ? null
      : { onHand: p.onHand, reserved: p.reserved, allocated: p.allocated };
  }

  private pos(sku: string, location: string): MPosition {
    const key = `${sku}|${location}`;
    let p = this.positions.get(key);
    if (p === undefined) {
      p = {
        onHand: 0,
        feedAsOf: -Infinity,
        changes: [],
        floor: -Infinity,
        reserved: 0,
        allocated: 0,
        orders: new Map(),
      };
      this.positions.set(key, p);
    }
    return p;
  }

  private type(location: string): string {
    return this.locations.find((l) => l.id === location)?.type ?? '';
  }

  private contribution(channel: string, sku: string, location: string): number {
    const p = this.positions.get(`${sku}|${location}`);
    if (p === undefined) return 0;
    const subject = (ch: string): Subject => ({
      channel: ch,
      locationType: this.type(location),
      location,
      sku,
      skuGroup: this.groups[sku] ?? '',
    });
    if (best(this.rules.exclusions ?? [], subject(channel)) !== undefined) return 0;
    const me = this.rules.channels.find((c) => c.id === channel);
    let units = 0;
    let percent = 0;
    for (const h of this.rules.channels) {
      if (me === undefined || h.priority > me.priority) continue;
      const b = best(this.rules.buffers ?? [], subject(h.id));
      units = Math.max(units, b?.units ?? 0);
      percent = Math.max(percent, b?.percent ?? 0);
    }
    return Math.max(0, p.onHand - p.reserved - p.allocated - bufferOf(units, percent, p.onHand));
  }

  private capFor(channel: string, sku: string) {
    const subject = {
      channel,
      locationType: '',
      location: '',
      sku,
      skuGroup: this.groups[sku] ?? '',
    };
    return best(this.rules.caps ?? [], subject);
  }

  network(channel: string, sku: string): number {
    let sum = 0;
    for (const l of this.locations) sum += this.contribution(channel, sku, l.id);
    return cap(sum, this.capFor(channel, sku));
  }

  atLocation(channel: string, sku: string, location: string): number {
    const p = this.positions.get(`${sku}|${location}`);
    if (p === undefined) return 0;
    const subject = {
      channel: '',
      locationType: this.type(location),
      location,
      sku: '',
      skuGroup: '',
    };
    const pickup = best(this.rules.pickupBuffers ?? [], subject);
    const v =
      this.contribution(channel, sku, location) -
      bufferOf(pickup?.units ?? 0, pickup?.percent ?? 0, p.onHand);
    return cap(Math.max(0, v), this.capFor(channel, sku));
  }

  apply(cmd: Command): ModelAnswer {
    switch (cmd.op) {
      case 'setOnHand': {
        const p = this.pos(cmd.sku, cmd.location);
        if (cmd.asOf <= p.feedAsOf) return okAnswer(false);
        if (!epochMs(cmd.asOf)) {
          // A sequence cannot be compared with the changes' times.
          p.changes = [];
        } else {
          if (p.changes.length > 0 && cmd.asOf < p.floor) return okAnswer(false);
          const after = p.changes.filter((c) => c.at > cmd.asOf);
          p.onHand = cmd.onHand + after.reduce((n, c) => n + c.delta, 0);
          p.changes = after;
          p.floor = -Infinity;
          p.feedAsOf = cmd.asOf;
          return okAnswer(true);
        }
        p.floor = -Infinity;
        p.feedAsOf = cmd.asOf;
        p.onHand = cmd.onHand;
        return okAnswer(true);
      }
      case 'adjust':
        return this.once(
          `${cmd.sku}|${cmd.adjustmentId}`,
          `adj|${cmd.location}|${cmd.delta}|${cmd.asOf ?? ''}`,
          () => {
            const p = this.pos(cmd.sku, cmd.location);
            if (cmd.asOf !== undefined && cmd.asOf <= p.feedAsOf) return okAnswer(false);
            p.onHand += cmd.delta;
            const at = cmd.asOf !== undefined && epochMs(cmd.asOf) ? cmd.asOf : this.now;
            this.note(p, at, cmd.delta);
            return okAnswer(true);
          },
        );
      case 'reserve':
        return this.reserve(cmd);
      case 'release': {
        const r = this.reservations.get(cmd.reservationId);
        if (r === undefined) return error('NOT_FOUND');
        if (r.state === 'held') {
          this.end(r, 'released', this.now);
          return okAnswer(true);
        }
        return r.state === 'confirmed' ? error('CONFLICT') : okAnswer(false, true);
      }
      case 'confirm': {
        const r = this.reservations.get(cmd.reservationId);
        if (r === undefined) return error('NOT_FOUND');
        if (r.state === 'confirmed')
          return r.orderId === cmd.orderId ? okAnswer(false, true) : error('CONFLICT');
        if (r.state !== 'held') return error('CONFLICT');
        for (const [loc, qty] of r.lines) {
          const p = this.pos(r.sku, loc);
          p.reserved -= qty;
          p.allocated += qty;
          p.orders.set(cmd.orderId, (p.orders.get(cmd.orderId) ?? 0) + qty);
        }
        r.state = 'confirmed';
        r.orderId = cmd.orderId;
        r.endedAt = this.now;
        return okAnswer(true);
      }
      case 'allocate':
        return this.once(
          `${cmd.sku}|${cmd.allocationId}`,
          `allocate|${cmd.orderId}|${cmd.channel}|${cmd.location}|${cmd.qty}`,
          () => {
            if (!this.rules.channels.some((c) => c.id === cmd.channel)) return error('NOT_FOUND');
            const available = this.atLocation(cmd.channel, cmd.sku, cmd.location);
            if (cmd.qty > available) return error('INSUFFICIENT_STOCK', available);
            const p = this.pos(cmd.sku, cmd.location);
            p.allocated += cmd.qty;
            p.orders.set(cmd.orderId, (p.orders.get(cmd.orderId) ?? 0) + cmd.qty);
            return okAnswer(true);
          },
        );
      case 'deallocate':
      case 'ship': {
        const id = cmd.op === 'ship' ? cmd.shipmentId : cmd.requestId;
        return this.once(
          `${cmd.sku}|${id}`,
          `${cmd.op}|${cmd.orderId}|${cmd.location}|${cmd.qty}`,
          () => {
            const p = this.positions.get(`${cmd.sku}|${cmd.location}`);
            const held = p?.orders.get(cmd.orderId) ?? 0;
            if (p === undefined || held < cmd.qty) return error('CONFLICT');
            p.orders.set(cmd.orderId, held - cmd.qty);
            p.allocated -= cmd.qty;
            if (cmd.op === 'ship') {
              p.onHand -= cmd.qty;
              this.note(p, this.now, -cmd.qty);
            }
            return okAnswer(true);
          },
        );
      }
      case 'expire':
        throw new Error('the model drives expiry through advance()');
    }
  }

  private reserve(cmd: Extract<Command, { op: 'reserve' }>): ModelAnswer {
    const existing = this.reservations.get(cmd.reservationId);
    const location = cmd.location ?? null;
    if (existing !== undefined) {
      const same =
        existing.sku === cmd.sku &&
        existing.channel === cmd.channel &&
        existing.qty === cmd.qty &&
        existing.location === location;
      return same ? okAnswer(false, true, existing.lines) : error('CONFLICT');
    }
    const channel = this.rules.channels.find((c) => c.id === cmd.channel);
    if (channel === undefined) return error('NOT_FOUND');
    let lines: [string, number][];
    if (location !== null) {
      const avail = this.atLocation(cmd.channel, cmd.sku, location);
      if (cmd.qty > avail) return error('INSUFFICIENT_STOCK', avail);
      lines = [[location, cmd.qty]];
    } else {
      const avail = this.network(cmd.channel, cmd.sku);
      if (cmd.qty > avail) return error('INSUFFICIENT_STOCK', avail);
      const candidates = this.locations
        .map((l) => [l.id, this.contribution(cmd.channel, cmd.sku, l.id)] as [string, number])
        .filter(([, v]) => v > 0)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      lines = [];
      let left = cmd.qty;
      for (const [loc, v] of candidates) {
        if (left === 0) break;
        const take = Math.min(left, v);
        lines.push([loc, take]);
        left -= take;
      }
    }
    for (const [loc, qty] of lines) this.pos(cmd.sku, loc).reserved += qty;
    this.reservations.set(cmd.reservationId, {
      id: cmd.reservationId,
      sku: cmd.sku,
      channel: cmd.channel,
      qty: cmd.qty,
      location,
      lines,
      expiresAt: this.now + (cmd.ttlMs ?? channel.reservationTtlMs ?? 600_000),
      state: 'held',
      orderId: null,
      endedAt: 0,
    });
    return okAnswer(true, false, lines);
  }

  private end(r: MReservation, state: 'released' | 'expired', at: number): void {
    for (const [loc, qty] of r.lines) this.pos(r.sku, loc).reserved -= qty;
    r.state = state;
    r.endedAt = at;
  }

  /** Moves time forward, expiring holds and purging tombstones at their due times, in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: MReservation | undefined;
      let due = Infinity;
      for (const r of this.reservations.values()) {
        const d = r.state === 'held' ? r.expiresAt : r.endedAt + this.tombstoneTtlMs;
        if (d < due) {
          due = d;
          next = r;
        }
      }
      if (next === undefined || due > target) break;
      this.now = Math.max(this.now, due);
      if (next.state === 'held') this.end(next, 'expired', due);
      else this.reservations.delete(next.id);
    }
    this.now = target;
  }

  /** Keeps a change for later feeds, unless the newest feed is a sequence (or there was none) or
   * already saw it. */
  private note(p: MPosition, at: number, delta: number): void {
    if (!epochMs(p.feedAsOf) || at <= p.feedAsOf) return;
    p.changes.push({ at, delta });
    if (p.changes.length <= CHANGES_KEPT) return;
    let oldest = 0;
    p.changes.forEach((c, i) => {
      if (c.at < (p.changes[oldest] as { at: number }).at) oldest = i;
    });
    p.floor = Math.max(p.floor, (p.changes[oldest] as { at: number }).at);
    p.changes.splice(oldest, 1);
  }

  /** Idempotency ids of adjust, ship and deallocate are scoped per SKU: one receipt or shipment
   * id covers all of its SKU lines. */
  private once(id: string, print: string, run: () => ModelAnswer): ModelAnswer {
    const seen = this.ops.get(id);
    if (seen !== undefined) {
      return seen.print === print
        ? { ...seen.answer, applied: false, duplicate: seen.answer.ok }
        : error('CONFLICT');
    }
    const answer = run();
    if (answer.applied) this.ops.set(id, { print, answer });
    return answer;
  }
}

function okAnswer(
  applied: boolean,
  duplicate = false,
  lines: [string, number][] | null = null,
): ModelAnswer {
  return { ok: true, code: 'OK', applied, duplicate, available: null, lines };
}

function error(code: string, available: number | null = null): ModelAnswer {
  return { ok: false, code, applied: false, duplicate: false, available, lines: null };
}
