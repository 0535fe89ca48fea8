import { ErrorCode, Reason, StockflowError } from './errors.ts';
import { isValidId, type Location } from './master-data.ts';

/**
 * Channel rules: what each demand-side channel may see of the stock.
 *
 * Resolution (documented in docs/engine.md):
 * - A buffer, exclusion or pickup-buffer rule names any of channel, locationType, location, sku,
 *   skuGroup (buffers, exclusions and caps also `attributes`: every listed key=value must be the
 *   product's); a field left out matches everything. The most specific matching rule wins, with
 *   weights sku 32 > attributes 16 > skuGroup 8 > location 4 > locationType 2 > channel 1 (so
 *   every combination of fields has its own rank; the same combination twice is an error). Two
 *   rules of one combination with different attributes may both match: the one listing more
 *   attributes wins, then the one listed first.
 * - A location whose master data lists the channels it serves is excluded for every other
 *   channel, as if by an exclusion rule.
 * - A buffer holds back max(units, ceil(percent% of onHand)).
 * - Priority: a channel's effective buffer is the largest buffer of itself and of every channel
 *   with a higher priority (smaller number), so a lower-priority channel never sees more than a
 *   higher-priority one at the same location and the own web shop sells the last units.
 * - A cap (per channel, optionally per sku or skuGroup) limits what the channel sees:
 *   min(value, units, floor(percent% of value)), on the network value and on each location value.
 * - The per-location view (topic `sku@location`, e.g. BOPIS) also subtracts the location's
 *   pickup buffer.
 */
export interface ChannelInput {
  readonly id: string;
  /** 1 is the highest priority. */
  readonly priority: number;
  /** Default time-to-live of this channel's reservations. */
  readonly reservationTtlMs?: number | undefined;
}

export interface Selector {
  readonly channel?: string | undefined;
  readonly locationType?: string | undefined;
  readonly location?: string | undefined;
  readonly sku?: string | undefined;
  readonly skuGroup?: string | undefined;
  /** Product attributes that must all be as listed (see ProductInput.attributes). */
  readonly attributes?: Readonly<Record<string, string>> | undefined;
}

export interface QuantityRule {
  readonly units?: number | undefined;
  readonly percent?: number | undefined;
}

export type BufferRule = Selector & QuantityRule;
export type ExclusionRule = Selector & { readonly channel: string };
export type CapRule = {
  readonly channel: string;
  readonly sku?: string | undefined;
  readonly skuGroup?: string | undefined;
  readonly attributes?: Readonly<Record<string, string>> | undefined;
} & QuantityRule;
export type PickupBufferRule = {
  readonly location?: string | undefined;
  readonly locationType?: string | undefined;
} & QuantityRule;

export interface RulesInput {
  readonly channels: readonly ChannelInput[];
  readonly buffers?: readonly BufferRule[] | undefined;
  readonly exclusions?: readonly ExclusionRule[] | undefined;
  readonly caps?: readonly CapRule[] | undefined;
  readonly pickupBuffers?: readonly PickupBufferRule[] | undefined;
}

export const DEFAULT_RESERVATION_TTL_MS = 10 * 60_000;

/** What a rule resolves to for one channel at one position. */
interface Quantity {
  readonly units: number;
  readonly percent: number;
}

const NO_QUANTITY: Quantity = Object.freeze({ units: 0, percent: 0 });

interface Subject {
  readonly channel: string;
  readonly locationType: string;
  readonly location: string;
  readonly sku: string;
  readonly skuGroup: string;
  readonly attributes: Readonly<Record<string, string>>;
}

const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});

const FIELDS = ['channel', 'locationType', 'location', 'sku', 'skuGroup'] as const;
const WEIGHT = { channel: 1, locationType: 2, location: 4, sku: 32, skuGroup: 8 } as const;
/** The shape bit of a rule that names attributes, and its weight (between skuGroup and sku). */
const ATTRIBUTES_BIT = 1 << FIELDS.length;
const ATTRIBUTES_WEIGHT = 16;

/** The attributes a rule names, in a canonical order, and their key part. */
class AttributeSet {
  readonly entries: readonly (readonly [string, string])[];
  readonly key: string;

  constructor(attributes: Readonly<Record<string, string>>) {
    this.entries = Object.entries(attributes).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    this.key = this.entries.map(([k, v]) => `${k}=${v}`).join('\u0001');
  }

  matches(attributes: Readonly<Record<string, string>>): boolean {
    for (const [k, v] of this.entries) if (attributes[k] !== v) return false;
    return true;
  }
}

/** A set of rules of one kind, indexed by the combination of fields each names. */
class RuleIndex<R extends Selector, T> {
  /** Shapes (bit masks of named fields) in order of decreasing specificity. */
  private readonly shapes: number[] = [];
  private readonly byKey = new Map<string, T>();
  /** For shapes that name attributes: their attribute sets, most attributes first. */
  private readonly attributeSets = new Map<number, AttributeSet[]>();
  /** Attribute names any rule lists (what of a product the rules can see). */
  readonly attributeNames = new Set<string>();

  constructor(
    private readonly kind: string,
    rules: readonly R[],
    project: (rule: R) => T,
  ) {
    const shapeSet = new Set<number>();
    for (const rule of rules) {
      const shape = shapeOf(rule);
      let set: AttributeSet | null = null;
      if (shape & ATTRIBUTES_BIT) {
        set = new AttributeSet(rule.attributes ?? NO_ATTRIBUTES);
        for (const [name] of set.entries) this.attributeNames.add(name);
        let sets = this.attributeSets.get(shape);
        if (sets === undefined) {
          sets = [];
          this.attributeSets.set(shape, sets);
        }
        if (!sets.some((s) => s.key === set?.key)) sets.push(set);
      }
      const key = keyOf(shape, rule, set?.key ?? '');
      if (this.byKey.has(key)) {
        throw new StockflowError(
          ErrorCode.BAD_REQUEST,
          `${kind}: two rules name the same ${describe(rule)}`,
          { details: { rule } },
        );
      }
      this.byKey.set(key, project(rule));
      shapeSet.add(shape);
    }
    // A stable sort: among as many attributes, the set listed first is tried first.
    for (const sets of this.attributeSets.values()) {
      sets.sort((a, b) => b.entries.length - a.entries.length);
    }
    this.shapes = [...shapeSet].sort((a, b) => specificity(b) - specificity(a));
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The most specific rule that matches, or undefined. */
  match(subject: Subject): T | undefined {
    for (const shape of this.shapes) {
      const sets = this.attributeSets.get(shape);
      if (sets === undefined) {
        const hit = this.byKey.get(keyOf(shape, subject, ''));
        if (hit !== undefined) return hit;
        continue;
      }
      for (const set of sets) {
        if (!set.matches(subject.attributes)) continue;
        const hit = this.byKey.get(keyOf(shape, subject, set.key));
        if (hit !== undefined) return hit;
      }
    }
    return undefined;
  }
}

function shapeOf(selector: Selector): number {
  let shape = 0;
  FIELDS.forEach((field, bit) => {
    if (selector[field] !== undefined) shape |= 1 << bit;
  });
  // An empty attribute list restricts nothing: the rule is as if it named none.
  if (selector.attributes !== undefined && Object.keys(selector.attributes).length > 0) {
    shape |= ATTRIBUTES_BIT;
  }
  return shape;
}

function specificity(shape: number): number {
  let score = shape & ATTRIBUTES_BIT ? ATTRIBUTES_WEIGHT : 0;
  FIELDS.forEach((field, bit) => {
    if (shape & (1 << bit)) score += WEIGHT[field];
  });
  return score;
}

function keyOf(shape: number, selector: Omit<Selector, 'attributes'>, attributes: string): string {
  // The shape leads the key: a SKU without a group must not hit the rule that names nothing.
  let key = `${shape}\u0000`;
  for (let bit = 0; bit < FIELDS.length; bit++) {
    const field = FIELDS[bit] as (typeof FIELDS)[number];
    key += shape & (1 << bit) ? (selector[field] ?? '') : '';
    key += '\u0000';
  }
  return key + attributes;
}

function describe(selector: Selector): string {
  const parts = FIELDS.filter((f) => selector[f] !== undefined).map((f) => `${f}=${selector[f]}`);
  const attributes = selector.attributes ?? NO_ATTRIBUTES;
  for (const [k, v] of Object.entries(attributes)) parts.push(`attributes.${k}=${v}`);
  return parts.length === 0 ? 'everything' : parts.join(', ');
}

/**
 * The rules resolved at one location, shared by every SKU of a group there. They hold for the
 * location's type and channel list they were resolved with (a location merged with others is
 * resolved again); its id never changes.
 */
class ResolvedAt {
  readonly byGroup = new Map<string, Float64Array>();

  constructor(
    readonly type: string,
    readonly channelsKey: string,
  ) {}
}

/** The values of the named attributes, as a cache key part ('' when no rule names any). */
function attributeKey(
  names: readonly string[],
  attributes: Readonly<Record<string, string>>,
): string {
  if (names.length === 0) return '';
  let key = '';
  for (const name of names) key += `${attributes[name] ?? '\u0002'}\u0001`;
  return key;
}

function quantityOf(rule: QuantityRule, where: string): Quantity {
  const units = rule.units ?? 0;
  const percent = rule.percent ?? 0;
  if (!Number.isInteger(units) || units < 0) {
    throw new StockflowError(ErrorCode.BAD_REQUEST, `${where}: units must be a whole number >= 0`, {
      reason: Reason.INVALID_QUANTITY,
    });
  }
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new StockflowError(ErrorCode.BAD_REQUEST, `${where}: percent must be within 0..100`, {
      reason: Reason.INVALID_QUANTITY,
    });
  }
  return { units, percent };
}

interface Cap {
  readonly units: number;
  readonly percent: number;
}

/** Channel settings after validation, in priority order. */
export interface Channel {
  readonly id: string;
  readonly index: number;
  readonly priority: number;
  readonly reservationTtlMs: number;
}

/**
 * Compiled, immutable rules. A new document gives a new ChannelRules with a higher version; the
 * engine re-evaluates every position against it and re-publishes what changed.
 */
export class ChannelRules {
  readonly version: number;
  readonly channels: readonly Channel[];
  private readonly channelIndex = new Map<string, Channel>();
  private readonly buffers: RuleIndex<BufferRule, Quantity>;
  private readonly exclusions: RuleIndex<ExclusionRule, true>;
  private readonly pickup: RuleIndex<PickupBufferRule, Quantity>;
  private readonly caps: RuleIndex<CapRule, Cap>;
  /** For each channel index, the indexes of channels whose buffers it must respect (itself included). */
  private readonly dominatedBy: readonly (readonly number[])[];
  readonly source: RulesInput;
  // Most positions resolve alike: unless a rule names its SKU, a position's rules depend only on
  // its location (and type) and its SKU's group, so the result is shared, not rebuilt per
  // position. The arrays handed out are never written to.
  private readonly skusInRules = new Set<string>();
  private readonly skusInCaps = new Set<string>();
  /** Per location: its shared results by SKU group (and rule attributes), see `resolve`. */
  private readonly resolved = new WeakMap<Location, ResolvedAt>();
  private readonly capsByGroup = new Map<string, Cap | null>();
  /** Attribute names buffer and exclusion rules (resp. caps) list, sorted: part of cache keys. */
  private readonly ruleAttributes: readonly string[];
  private readonly capAttributes: readonly string[];

  constructor(input: RulesInput, version: number) {
    this.version = version;
    if (input.channels.length === 0) {
      throw new StockflowError(ErrorCode.BAD_REQUEST, 'rules: at least one channel is required');
    }
    const channels: Channel[] = [];
    for (const c of input.channels) {
      if (!isValidId(c.id)) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `rules: bad channel id ${String(c.id)}`, {
          reason: Reason.INVALID_ID,
        });
      }
      if (this.channelIndex.has(c.id)) {
        throw new StockflowError(ErrorCode.BAD_REQUEST, `rules: channel ${c.id} is listed twice`);
      }
      if (!Number.isInteger(c.priority) || c.priority < 1) {
        throw new StockflowError(
          ErrorCode.BAD_REQUEST,
          `rules: channel ${c.id}: priority must be a whole number >= 1`,
        );
      }
      const ttl = c.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
      if (!Number.isInteger(ttl) || ttl < 1_000) {
        throw new StockflowError(
          ErrorCode.BAD_REQUEST,
          `rules: channel ${c.id}: reservationTtlMs must be a whole number >= 1000`,
          { reason: Reason.INVALID_TTL },
        );
      }
      const channel: Channel = {
        id: c.id,
        index: channels.length,
        priority: c.priority,
        reservationTtlMs: ttl,
      };
      channels.push(channel);
      this.channelIndex.set(c.id, channel);
    }
    this.channels = Object.freeze(channels);
    this.dominatedBy = channels.map((c) =>
      channels.filter((h) => h.priority <= c.priority).map((h) => h.index),
    );
    const known = (rule: { channel?: string | undefined }, kind: string): void => {
      if (rule.channel !== undefined && !this.channelIndex.has(rule.channel)) {
        throw new StockflowError(
          ErrorCode.BAD_REQUEST,
          `rules: ${kind} names unknown channel ${rule.channel}`,
          { reason: Reason.UNKNOWN_CHANNEL },
        );
      }
    };
    const buffers = input.buffers ?? [];
    buffers.forEach((r) => {
      known(r, 'buffer');
    });
    this.buffers = new RuleIndex('buffers', buffers, (r) =>
      quantityOf(r, `buffer for ${describe(r)}`),
    );
    const exclusions = input.exclusions ?? [];
    exclusions.forEach((r) => {
      known(r, 'exclusion');
    });
    this.exclusions = new RuleIndex('exclusions', exclusions, () => true as const);
    const caps = input.caps ?? [];
    caps.forEach((r) => {
      known(r, 'cap');
    });
    this.caps = new RuleIndex('caps', caps, (r) => {
      const q = quantityOf(r, `cap for ${describe(r)}`);
      return {
        units: r.units === undefined ? Infinity : q.units,
        percent: r.percent === undefined ? 100 : q.percent,
      };
    });
    const pickup = input.pickupBuffers ?? [];
    this.pickup = new RuleIndex('pickupBuffers', pickup, (r) =>
      quantityOf(r, `pickup buffer for ${describe(r)}`),
    );
    this.source = input;
    for (const r of [...buffers, ...exclusions])
      if (r.sku !== undefined) this.skusInRules.add(r.sku);
    for (const r of caps) if (r.sku !== undefined) this.skusInCaps.add(r.sku);
    this.ruleAttributes = [
      ...new Set([...this.buffers.attributeNames, ...this.exclusions.attributeNames]),
    ].sort();
    this.capAttributes = [...this.caps.attributeNames].sort();
  }

  channel(id: string): Channel | undefined {
    return this.channelIndex.get(id);
  }

  /**
   * Resolves the rules for one position into a flat array, 3 numbers per channel:
   * [excluded (0|1), effective buffer units, effective buffer percent, ...] then the location's
   * pickup buffer units and percent. Positions cache it per rules version (and the engine makes
   * them resolve again when the product or location changes), so the hot path does arithmetic
   * only. A channel the location does not serve is excluded there.
   */
  resolve(
    sku: string,
    skuGroup: string,
    attributes: Readonly<Record<string, string>>,
    location: Location,
  ): Float64Array {
    if (this.skusInRules.has(sku)) return this.compute(sku, skuGroup, attributes, location);
    // Found by the location itself, then by its SKU group: no key string is built per position
    // (a million positions resolve once each on their first reserve).
    let at = this.resolved.get(location);
    if (at === undefined || at.type !== location.type || at.channelsKey !== location.channelsKey) {
      at = new ResolvedAt(location.type, location.channelsKey);
      this.resolved.set(location, at);
    }
    const key =
      this.ruleAttributes.length === 0
        ? skuGroup
        : `${skuGroup}\u0000${attributeKey(this.ruleAttributes, attributes)}`;
    let shared = at.byGroup.get(key);
    if (shared === undefined) {
      shared = this.compute(sku, skuGroup, attributes, location);
      at.byGroup.set(key, shared);
    }
    return shared;
  }

  private compute(
    sku: string,
    skuGroup: string,
    attributes: Readonly<Record<string, string>>,
    where: Location,
  ): Float64Array {
    const n = this.channels.length;
    const out = new Float64Array(n * 3 + 2);
    const own: Quantity[] = [];
    const locationType = where.type;
    const location = where.id;
    for (const channel of this.channels) {
      const subject: Subject = {
        channel: channel.id,
        locationType,
        location,
        sku,
        skuGroup,
        attributes,
      };
      own.push(this.buffers.match(subject) ?? NO_QUANTITY);
      const excluded = !where.serves(channel.id) || this.exclusions.match(subject) !== undefined;
      out[channel.index * 3] = excluded ? 1 : 0;
    }
    for (const channel of this.channels) {
      let units = 0;
      let percent = 0;
      for (const h of this.dominatedBy[channel.index] ?? []) {
        const q = own[h] ?? NO_QUANTITY;
        if (q.units > units) units = q.units;
        if (q.percent > percent) percent = q.percent;
      }
      out[channel.index * 3 + 1] = units;
      out[channel.index * 3 + 2] = percent;
    }
    const pickup =
      this.pickup.match({
        channel: '',
        locationType,
        location,
        sku: '',
        skuGroup: '',
        attributes: NO_ATTRIBUTES,
      }) ?? NO_QUANTITY;
    out[n * 3] = pickup.units;
    out[n * 3 + 1] = pickup.percent;
    return out;
  }

  /** The cap of a channel for a SKU, or null when none applies. */
  cap(
    channel: Channel,
    sku: string,
    skuGroup: string,
    attributes: Readonly<Record<string, string>> = NO_ATTRIBUTES,
  ): Cap | null {
    const subject = {
      channel: channel.id,
      locationType: '',
      location: '',
      sku,
      skuGroup,
      attributes,
    };
    if (this.skusInCaps.has(sku)) return this.caps.match(subject) ?? null;
    const key = `${channel.index}\u0000${skuGroup}\u0000${attributeKey(this.capAttributes, attributes)}`;
    let cap = this.capsByGroup.get(key);
    if (cap === undefined) {
      cap = this.caps.match(subject) ?? null;
      this.capsByGroup.set(key, cap);
    }
    return cap;
  }
}

/** Buffer in units for a resolved (units, percent) pair at a given onHand. */
export function bufferUnits(units: number, percent: number, onHand: number): number {
  if (percent === 0 || onHand <= 0) return units;
  const byPercent = Math.ceil((onHand * percent) / 100);
  return byPercent > units ? byPercent : units;
}

export function applyCap(value: number, cap: Cap | null): number {
  if (cap === null || value <= 0) return value;
  let out = value;
  if (cap.units < out) out = cap.units;
  if (cap.percent < 100) {
    const byPercent = Math.floor((value * cap.percent) / 100);
    if (byPercent < out) out = byPercent;
  }
  return out;
}
