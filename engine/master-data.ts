/**
 * Master data the engine needs: locations (from config or the ERP) and products (SKUs with an
 * optional group, attributes and prices, from the ERP). Stock feeds for an unknown SKU or
 * location are refused. docs/erp.md ("Master data") describes the fields as the ERP sends them.
 */
import type { LocationQty } from './commands.ts';

export interface LocationInput {
  readonly id: string;
  /** Free-form type; the sourcing and buffer rules match on it (e.g. "store", "dc", "dropship"). */
  readonly type: string;
  readonly name?: string | undefined;
  readonly lat?: number | undefined;
  readonly lon?: number | undefined;
  /**
   * Orders a day the location can fulfil (sourcing weighs its open backlog against it); when
   * set it overrides `orders.locations[].dailyCapacity`. Left out: kept as it is; null: none.
   */
  readonly capacity?: number | null | undefined;
  /**
   * The channels this location sells to: any other channel sees nothing of its stock (as if
   * excluded by a rule). Left out: kept as it is; null: every channel (the default).
   */
  readonly channels?: readonly string[] | null | undefined;
  /** Whether customers may pick up here (BOPIS). Left out: kept as it is; default true. */
  readonly pickup?: boolean | undefined;
}

export interface ProductInput {
  readonly sku: string;
  /** A SKU group for buffer, exclusion and cap rules (e.g. "electronics"). */
  readonly group?: string | undefined;
  /**
   * Free attributes (e.g. `{ "color": "red" }`); buffer, exclusion and cap rules may match
   * them. Left out: kept as they are; given: replaced whole (`{}` clears them).
   */
  readonly attributes?: Readonly<Record<string, string>> | undefined;
  /**
   * Prices in minor units by ISO 4217 currency (e.g. `{ "EUR": 1999 }` is 19.99 EUR). Left out:
   * kept as they are; given: replaced whole.
   */
  readonly prices?: Readonly<Record<string, number>> | undefined;
}

/** Bounds of a product's attributes and prices (they are kept in memory for every SKU). */
export const MAX_ATTRIBUTES = 32;
export const MAX_ATTRIBUTE_VALUE_CHARS = 256;
export const MAX_PRICES = 16;
/** Bounds of a location's channel list and capacity. */
export const MAX_LOCATION_CHANNELS = 100;
export const MAX_CAPACITY = 1_000_000_000;

const ATTRIBUTE_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const CURRENCY = /^[A-Z]{3}$/;

const NO_TEXT: Readonly<Record<string, string>> = Object.freeze({});
const NO_PRICES: Readonly<Record<string, number>> = Object.freeze({});

/** Why a product cannot be upserted, or null when it can (the same check for every entry). */
export function productProblem(input: ProductInput): string | null {
  if (!isValidId(input.sku)) return 'sku must be 1-128 printable characters other than : and @';
  if (input.group !== undefined && (typeof input.group !== 'string' || input.group.length > 128)) {
    return 'group must be text of at most 128 characters';
  }
  const attributes: unknown = input.attributes;
  if (attributes !== undefined) {
    if (!isPlainObject(attributes)) return 'attributes must be an object of texts';
    const entries = Object.entries(attributes);
    if (entries.length > MAX_ATTRIBUTES) return `at most ${MAX_ATTRIBUTES} attributes`;
    for (const [key, value] of entries) {
      if (!ATTRIBUTE_KEY.test(key)) {
        return `attribute name ${key.slice(0, 70)} must be 1-64 letters, digits, _ . or -`;
      }
      if (typeof value !== 'string' || value.length > MAX_ATTRIBUTE_VALUE_CHARS) {
        return `attribute ${key} must be text of at most ${MAX_ATTRIBUTE_VALUE_CHARS} characters`;
      }
    }
  }
  const prices: unknown = input.prices;
  if (prices !== undefined) {
    if (!isPlainObject(prices)) return 'prices must be an object of currency: minor units';
    const entries = Object.entries(prices);
    if (entries.length > MAX_PRICES) return `at most ${MAX_PRICES} prices`;
    for (const [currency, value] of entries) {
      if (!CURRENCY.test(currency)) {
        return `price currency ${currency.slice(0, 10)} must be an ISO 4217 code (3 capital letters)`;
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        return `price ${currency} must be a whole number of minor units >= 0`;
      }
    }
  }
  return null;
}

/** Why a location cannot be upserted, or null when it can. */
export function locationProblem(input: LocationInput): string | null {
  if (!isValidId(input.id)) return 'id must be 1-128 printable characters other than : and @';
  if (typeof input.type !== 'string' || input.type.length === 0 || input.type.length > 128) {
    return 'type must be text of 1-128 characters';
  }
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.length > 256)) {
    return 'name must be text of at most 256 characters';
  }
  if (input.lat !== undefined && !inRange(input.lat, 90)) return 'lat must be within -90..90';
  if (input.lon !== undefined && !inRange(input.lon, 180)) return 'lon must be within -180..180';
  const capacity = input.capacity;
  if (
    capacity !== undefined &&
    capacity !== null &&
    (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY)
  ) {
    return `capacity must be a whole number within 1..${MAX_CAPACITY}`;
  }
  const channels: unknown = input.channels;
  if (channels !== undefined && channels !== null) {
    if (!Array.isArray(channels)) return 'channels must be a list of channel ids';
    if (channels.length > MAX_LOCATION_CHANNELS) {
      return `at most ${MAX_LOCATION_CHANNELS} channels`;
    }
    const seen = new Set<unknown>();
    for (const channel of channels) {
      if (!isValidId(channel))
        return 'a channel must be 1-128 printable characters other than : and @';
      if (seen.has(channel)) return `channel ${channel} is listed twice`;
      seen.add(channel);
    }
  }
  if (input.pickup !== undefined && typeof input.pickup !== 'boolean') {
    return 'pickup must be true or false';
  }
  return null;
}

function inRange(value: unknown, limit: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= -limit && value <= limit;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Two string maps with the same entries (order aside). */
export function sameEntries<T>(
  a: Readonly<Record<string, T>>,
  b: Readonly<Record<string, T>>,
): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!Object.hasOwn(b, key) || a[key] !== b[key]) return false;
  return true;
}

/** A frozen copy of a product's attributes (shared empty object when there are none). */
export function attributesOf(
  input: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> {
  if (input === undefined || Object.keys(input).length === 0) return NO_TEXT;
  return Object.freeze({ ...input });
}

/** A frozen copy of a product's prices (shared empty object when there are none). */
export function pricesOf(
  input: Readonly<Record<string, number>> | undefined,
): Readonly<Record<string, number>> {
  if (input === undefined || Object.keys(input).length === 0) return NO_PRICES;
  return Object.freeze({ ...input });
}

/** Quantities whose one-line view a location shares (Location.lines). */
const SHARED_LINE_QTY = 64;

/** One location as the engine holds it; positions point at it, so a type change is seen by all. */
export class Location {
  readonly id: string;
  type: string;
  name: string;
  lat: number | null;
  lon: number | null;
  /** Orders a day, or null when the master data gives none. */
  capacity: number | null = null;
  /** The channels it sells to, or null for every channel. */
  channels: ReadonlySet<string> | null = null;
  /** Whether pick-up (BOPIS) is offered here. */
  pickup = true;
  /** The channel list as text, for caches of resolved rules (one per distinct list). */
  channelsKey = '*';
  /** `lines(qty)` of the small quantities, made once each (see there). */
  private readonly smallLines: (readonly LocationQty[] | undefined)[] = [];

  constructor(input: LocationInput) {
    this.id = input.id;
    this.type = input.type;
    this.name = input.name ?? input.id;
    this.lat = input.lat ?? null;
    this.lon = input.lon ?? null;
    this.merge(input);
  }

  /**
   * The lines of a reservation of `qty` held here alone, as views show them: `[{ location, qty }]`.
   * Shared for quantities up to SHARED_LINE_QTY (a view is built for every reserve's
   * answer, and most hold a few units at one location), made anew above.
   */
  lines(qty: number): readonly LocationQty[] {
    if (!Number.isInteger(qty) || qty < 0 || qty > SHARED_LINE_QTY) {
      return [{ location: this.id, qty }];
    }
    let lines = this.smallLines[qty];
    if (lines === undefined) {
      // The line is frozen; the array is not (V8 iterates a frozen array through the generic
      // iterator, which allocates for every `for...of`): it is typed read-only.
      lines = [Object.freeze({ location: this.id, qty })];
      this.smallLines[qty] = lines;
    }
    return lines;
  }

  /**
   * Applies an upsert: type, name and coordinates are replaced (as always); capacity, channels
   * and pickup only when the input names them, so a feed without them keeps what the ERP set.
   */
  update(input: LocationInput): void {
    this.type = input.type;
    this.name = input.name ?? input.id;
    this.lat = input.lat ?? null;
    this.lon = input.lon ?? null;
    this.merge(input);
  }

  /** Puts back a state read by `toInput` (undo, snapshot import): what it leaves out is default. */
  reset(input: LocationInput): void {
    this.update({ capacity: null, channels: null, pickup: true, ...input });
  }

  /** Whether the channel may see this location's stock (its channel list). */
  serves(channel: string): boolean {
    return this.channels === null || this.channels.has(channel);
  }

  /** Whether both hold the same values (a channel list in another order is the same). */
  sameAs(other: Location): boolean {
    return (
      this.type === other.type &&
      this.name === other.name &&
      this.lat === other.lat &&
      this.lon === other.lon &&
      this.capacity === other.capacity &&
      this.channelsKey === other.channelsKey &&
      this.pickup === other.pickup
    );
  }

  private merge(input: LocationInput): void {
    if (input.capacity !== undefined) this.capacity = input.capacity;
    if (input.pickup !== undefined) this.pickup = input.pickup;
    if (input.channels !== undefined) {
      this.channels = input.channels === null ? null : new Set(input.channels);
      this.channelsKey = input.channels === null ? '*' : [...input.channels].sort().join(',');
    }
  }

  toInput(): LocationInput {
    return {
      id: this.id,
      type: this.type,
      name: this.name,
      ...(this.lat === null ? {} : { lat: this.lat }),
      ...(this.lon === null ? {} : { lon: this.lon }),
      ...(this.capacity === null ? {} : { capacity: this.capacity }),
      ...(this.channels === null ? {} : { channels: [...this.channels] }),
      ...(this.pickup ? {} : { pickup: false }),
    };
  }
}

// Printable ASCII without ':' and '@', which separate the parts of a topic name.
const KEY_PATTERN = /^[\x21-\x39\x3b-\x3f\x41-\x7e]{1,128}$/;
const REF_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** SKU, location and channel ids: 1-128 printable ASCII characters other than ':' and '@'. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && KEY_PATTERN.test(value);
}

/** Reservation, order and operation ids: 1-128 printable ASCII characters. */
export function isValidRef(value: unknown): value is string {
  return typeof value === 'string' && REF_PATTERN.test(value);
}
