import { isValidId } from '../engine/index.ts';
import { LineFeed } from './feed-lines.ts';
import type { SnapshotFormat } from './snapshot-ingest.ts';

/** What a master-data feed carries. */
export type MasterKind = 'products' | 'locations';

/** A text map a row replaces whole (NDJSON) or changes key by key (CSV: null removes a key). */
export type MapChange<T> =
  | { readonly whole: Readonly<Record<string, T>> }
  | { readonly keys: Readonly<Record<string, T | null>> };

/** What a product row says; a field left out (undefined) keeps the product's value. */
export interface ProductFields {
  readonly sku: string;
  /** null: no group. */
  readonly group?: string | null;
  readonly attributes?: MapChange<string>;
  readonly prices?: MapChange<number>;
}

/** What a location row says; a field left out keeps the location's value, null clears it. */
export interface LocationFields {
  readonly id: string;
  readonly type?: string;
  readonly name?: string | null;
  readonly lat?: number | null;
  readonly lon?: number | null;
  readonly capacity?: number | null;
  /** null: every channel. */
  readonly channels?: readonly string[] | null;
  readonly pickup?: boolean;
}

/** One good row with its line number (1-based, counting the CSV header). */
export class MasterRow {
  constructor(
    readonly line: number,
    readonly key: string,
    readonly product: ProductFields | null,
    readonly location: LocationFields | null,
  ) {}
}

const PRODUCT_FIELDS = new Set(['sku', 'group', 'attributes', 'prices']);
const LOCATION_FIELDS = new Set([
  'id',
  'type',
  'name',
  'lat',
  'lon',
  'capacity',
  'channels',
  'pickup',
]);
/** CSV product columns: `attributes` and `prices` are spread over one column per name. */
const PRODUCT_COLUMNS = /^(sku|group|attr\..+|price\..+)$/;
const ATTRIBUTE_PREFIX = 'attr.';
const PRICE_PREFIX = 'price.';
/** Channels in one CSV cell: `web|app`; `*` for every channel. */
const CHANNEL_SEPARATOR = '|';

/** A bad value in a row: its message becomes the row's reason. */
class BadValue extends Error {}

/**
 * The rows of a master-data feed (docs/erp.md, "Master data"), over the shared line layer:
 *
 * - NDJSON: one product (`sku`, `group`, `attributes`, `prices`) or location (`id`, `type`,
 *   `name`, `lat`, `lon`, `capacity`, `channels`, `pickup`) per line; a field left out is kept,
 *   null clears it; `attributes` and `prices` given are the whole map.
 * - CSV: a header naming the columns: products `sku` (required), `group`, `attr.<name>` and
 *   `price.<CURRENCY>` (one column per attribute and currency); locations `id` (required),
 *   `type`, `name`, `lat`, `lon`, `capacity`, `channels` (`web|app`, `*` for all), `pickup`
 *   (true/false). An empty cell keeps the value, except an `attr.`/`price.` cell, which removes
 *   that attribute or price.
 *
 * Syntax and types are checked here; ranges and bounds (lat, capacity, currency codes, counts)
 * by the engine's own master-data check when the row is applied, so both entries agree.
 */
export class MasterParser extends LineFeed<MasterRow> {
  private columns: readonly string[] | null = null;
  private attributeColumns = false;
  private priceColumns = false;

  constructor(
    format: SnapshotFormat,
    readonly kind: MasterKind,
  ) {
    super(format);
  }

  private keyField(): 'sku' | 'id' {
    return this.kind === 'products' ? 'sku' : 'id';
  }

  protected headerExpected(): string {
    return this.kind === 'products'
      ? 'a CSV product feed starts with a header: sku (group, attr.<name>, price.<CURRENCY> optional)'
      : 'a CSV location feed starts with a header: id (type, name, lat, lon, capacity, channels, pickup optional)';
  }

  protected header(names: readonly string[]): string | null {
    const seen = new Set<string>();
    for (const name of names) {
      const known =
        this.kind === 'products' ? PRODUCT_COLUMNS.test(name) : LOCATION_FIELDS.has(name);
      if (!known || seen.has(name)) {
        const columns =
          this.kind === 'products'
            ? 'sku, group, attr.<name>, price.<CURRENCY>'
            : 'id, type, name, lat, lon, capacity, channels, pickup';
        return `header column ${name.slice(0, 40) || '(empty)'} is unknown or repeated: not a CSV ${this.kind} feed (columns: ${columns})`;
      }
      seen.add(name);
    }
    if (!seen.has(this.keyField())) {
      return `a CSV ${this.kind} feed's header has a ${this.keyField()} column: not a CSV feed`;
    }
    this.columns = names;
    this.attributeColumns = names.some((n) => n.startsWith(ATTRIBUTE_PREFIX));
    this.priceColumns = names.some((n) => n.startsWith(PRICE_PREFIX));
    return null;
  }

  protected csvRow(fields: readonly string[]): void {
    const columns = this.columns;
    if (columns === null) return;
    const keyAt = columns.indexOf(this.keyField());
    const key = fields[keyAt] ?? null;
    if (fields.length !== columns.length) {
      this.rowProblem(`expected ${columns.length} fields, got ${fields.length}`, key);
      return;
    }
    try {
      if (this.kind === 'products') this.productCsv(columns, fields, key);
      else this.locationCsv(columns, fields, key);
    } catch (error) {
      if (!(error instanceof BadValue)) throw error;
      this.rowProblem(error.message, isValidId(key) ? key : null);
    }
  }

  protected objectRow(value: Readonly<Record<string, unknown>>): void {
    const rawKey = value[this.keyField()];
    const key = isValidId(rawKey) ? rawKey : null;
    try {
      const allowed = this.kind === 'products' ? PRODUCT_FIELDS : LOCATION_FIELDS;
      for (const field of Object.keys(value)) {
        if (!allowed.has(field)) throw new BadValue(`unknown field ${field.slice(0, 40)}`);
      }
      if (this.kind === 'products') this.productObject(value, key);
      else this.locationObject(value, key);
    } catch (error) {
      if (!(error instanceof BadValue)) throw error;
      this.rowProblem(error.message, key);
    }
  }

  // ---- products ---------------------------------------------------------------------------------

  private productCsv(columns: readonly string[], fields: readonly string[], key: string | null) {
    const sku = requireKey(key, 'sku');
    const group = cellOf(columns, fields, 'group');
    const attributes: Record<string, string | null> = {};
    const prices: Record<string, number | null> = {};
    columns.forEach((column, i) => {
      const cell = (fields[i] ?? '').trim();
      if (column.startsWith(ATTRIBUTE_PREFIX)) {
        attributes[column.slice(ATTRIBUTE_PREFIX.length)] = cell === '' ? null : cell;
      } else if (column.startsWith(PRICE_PREFIX)) {
        prices[column.slice(PRICE_PREFIX.length)] = cell === '' ? null : wholeNumber(cell, column);
      }
    });
    this.acceptProduct({
      sku,
      ...(group === '' ? {} : { group }),
      ...(this.attributeColumns ? { attributes: { keys: attributes } } : {}),
      ...(this.priceColumns ? { prices: { keys: prices } } : {}),
    });
  }

  private productObject(v: Readonly<Record<string, unknown>>, key: string | null): void {
    const sku = requireKey(key, 'sku');
    const group = v.group;
    if (group !== undefined && group !== null && typeof group !== 'string') {
      throw new BadValue('group must be text or null');
    }
    const attributes = textMap(v.attributes, 'attributes');
    const prices = numberMap(v.prices, 'prices');
    this.acceptProduct({
      sku,
      ...(group === undefined ? {} : { group }),
      ...(attributes === undefined ? {} : { attributes: { whole: attributes } }),
      ...(prices === undefined ? {} : { prices: { whole: prices } }),
    });
  }

  private acceptProduct(fields: ProductFields): void {
    this.accept(new MasterRow(this.lineCount, fields.sku, fields, null));
  }

  // ---- locations --------------------------------------------------------------------------------

  private locationCsv(columns: readonly string[], fields: readonly string[], key: string | null) {
    const id = requireKey(key, 'id');
    const out: Record<string, unknown> = { id };
    columns.forEach((column, i) => {
      const cell = (fields[i] ?? '').trim();
      if (cell === '' || column === 'id') return;
      switch (column) {
        case 'type':
        case 'name':
          out[column] = cell;
          return;
        case 'lat':
        case 'lon':
          out[column] = decimal(cell, column);
          return;
        case 'capacity':
          out[column] = wholeNumber(cell, column);
          return;
        case 'channels':
          out[column] = cell === '*' ? null : cell.split(CHANNEL_SEPARATOR).map((c) => c.trim());
          return;
        case 'pickup':
          out[column] = flag(cell);
          return;
      }
    });
    this.locationObject(out, id);
  }

  private locationObject(v: Readonly<Record<string, unknown>>, key: string | null): void {
    const id = requireKey(key, 'id');
    const type = v.type;
    if (type !== undefined && (typeof type !== 'string' || type.length === 0)) {
      throw new BadValue('type must be text');
    }
    const name = optionalOf(v.name, 'name', (x) => typeof x === 'string', 'text');
    const lat = optionalOf(v.lat, 'lat', isFiniteNumber, 'a number');
    const lon = optionalOf(v.lon, 'lon', isFiniteNumber, 'a number');
    const capacity = optionalOf(v.capacity, 'capacity', Number.isSafeInteger, 'a whole number');
    const channels = optionalOf(
      v.channels,
      'channels',
      (x) => Array.isArray(x) && x.every((c) => typeof c === 'string'),
      'a list of channel ids',
    );
    const pickup = v.pickup;
    if (pickup !== undefined && typeof pickup !== 'boolean') {
      throw new BadValue('pickup must be true or false');
    }
    const fields: LocationFields = {
      id,
      ...(type === undefined ? {} : { type }),
      ...(name === undefined ? {} : { name: name as string | null }),
      ...(lat === undefined ? {} : { lat: lat as number | null }),
      ...(lon === undefined ? {} : { lon: lon as number | null }),
      ...(capacity === undefined ? {} : { capacity: capacity as number | null }),
      ...(channels === undefined ? {} : { channels: channels as string[] | null }),
      ...(pickup === undefined ? {} : { pickup }),
    };
    this.accept(new MasterRow(this.lineCount, id, null, fields));
  }
}

/** The trimmed cell of a column ('' when the header has no such column). */
function cellOf(columns: readonly string[], fields: readonly string[], column: string): string {
  const i = columns.indexOf(column);
  return i === -1 ? '' : (fields[i] ?? '').trim();
}

function requireKey(key: string | null, field: 'sku' | 'id'): string {
  if (key === null) {
    throw new BadValue(`${field} must be 1-128 printable characters other than : and @`);
  }
  return key;
}

function isFiniteNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A field that may be left out (undefined), null (cleared) or a value of its kind. */
function optionalOf(
  value: unknown,
  field: string,
  ok: (value: unknown) => boolean,
  kind: string,
): unknown {
  if (value === undefined || value === null || ok(value)) return value;
  throw new BadValue(`${field} must be ${kind} or null`);
}

function textMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadValue(`${field} must be an object of texts`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new BadValue(`${field}.${k.slice(0, 40)} must be text`);
  }
  return value as Record<string, string>;
}

function numberMap(value: unknown, field: string): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadValue(`${field} must be an object of whole numbers`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw new BadValue(`${field}.${k.slice(0, 40)} must be a whole number of minor units`);
    }
  }
  return value as Record<string, number>;
}

function wholeNumber(text: string, column: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new BadValue(`${column} must be a whole number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new BadValue(`${column} is out of range`);
  return n;
}

function decimal(text: string, column: string): number {
  if (!/^[+-]?\d+(\.\d+)?$/.test(text)) throw new BadValue(`${column} must be a number`);
  return Number(text);
}

function flag(text: string): boolean {
  switch (text.toLowerCase()) {
    case 'true':
    case 'yes':
    case '1':
      return true;
    case 'false':
    case 'no':
    case '0':
      return false;
    default:
      throw new BadValue('pickup must be true or false');
  }
}
