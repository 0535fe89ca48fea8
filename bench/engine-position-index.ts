import type { ErrorResult, LocationInput, ProductInput } from '../engine/index.ts';
import { UNKNOWN_LOCATION, UNKNOWN_SKU } from './engine-baseline-position.ts';

/**
 * How a baseline finds what holds a position: by SKU, then by location, from the command's own
 * ids (as the engine finds its book by SKU, then the position by location), with master data
 * checked the same way. Two levels, so no key string is built per command.
 */
export class PositionIndex<T> {
  private readonly bySku = new Map<string, Map<string, T>>();
  private readonly locations = new Set<string>();
  size = 0;

  upsertLocations(list: readonly LocationInput[]): void {
    for (const l of list) this.locations.add(l.id);
  }

  upsertProducts(list: readonly ProductInput[]): void {
    for (const p of list) if (!this.bySku.has(p.sku)) this.bySku.set(p.sku, new Map());
  }

  get(sku: string, location: string): T | undefined {
    return this.bySku.get(sku)?.get(location);
  }

  /** Why a position cannot exist (unknown SKU or location), or null when it may be added. */
  refusal(sku: string, location: string): ErrorResult | null {
    if (!this.bySku.has(sku)) return UNKNOWN_SKU;
    return this.locations.has(location) ? null : UNKNOWN_LOCATION;
  }

  /** Adds a position that `refusal` allowed. */
  add(sku: string, location: string, value: T): void {
    this.bySku.get(sku)?.set(location, value);
    this.size++;
  }
}
