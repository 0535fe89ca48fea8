/**
 * Master data the engine needs: locations (from config or the ERP) and products (SKUs with an
 * optional group, from the ERP). Stock feeds for an unknown SKU or location are refused.
 */
export interface LocationInput {
  readonly id: string;
  /** Free-form type; the sourcing and buffer rules match on it (e.g. "store", "dc", "dropship"). */
  readonly type: string;
  readonly name?: string | undefined;
  readonly lat?: number | undefined;
  readonly lon?: number | undefined;
}

export interface ProductInput {
  readonly sku: string;
  /** A SKU group for buffer, exclusion and cap rules (e.g. "electronics"). */
  readonly group?: string | undefined;
}

/** One location as the engine holds it; positions point at it, so a type change is seen by all. */
export class Location {
  readonly id: string;
  type: string;
  name: string;
  lat: number | null;
  lon: number | null;

  constructor(input: LocationInput) {
    this.id = input.id;
    this.type = input.type;
    this.name = input.name ?? input.id;
    this.lat = input.lat ?? null;
    this.lon = input.lon ?? null;
  }

  update(input: LocationInput): void {
    this.type = input.type;
    this.name = input.name ?? input.id;
    this.lat = input.lat ?? null;
    this.lon = input.lon ?? null;
  }

  toInput(): LocationInput {
    return {
      id: this.id,
      type: this.type,
      name: this.name,
      ...(this.lat === null ? {} : { lat: this.lat }),
      ...(this.lon === null ? {} : { lon: this.lon }),
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
