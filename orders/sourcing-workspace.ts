/**
 * The planner's scratch space and the small integer codes it works with: criteria, why a chosen
 * location was chosen, and why an eligible one lost.
 */
import type { Criterion } from './sourcing-types.ts';

// Criteria as small integers, so the scoring loops switch on a number instead of a string.
export const DISTANCE = 0;
export const PRIORITY = 1;
export const LOCATION_TYPE = 2;
export const STOCK_DEPTH = 3;
export const SHIPPING_COST = 4;
export const CAPACITY = 5;
export const CRITERION_COUNT = 6;
export const CRITERION_CODE: Readonly<Record<Criterion, number>> = {
  distance: DISTANCE,
  priority: PRIORITY,
  locationType: LOCATION_TYPE,
  stockDepth: STOCK_DEPTH,
  shippingCost: SHIPPING_COST,
  capacity: CAPACITY,
};

// Why a chosen location was chosen, when "best score" alone does not say it.
export const WHY_NONE = 0;
export const WHY_IN_USE = 1;
export const WHY_FIRST_COMPLETE = 2;
export const WHY_REST_COMPLETE = 3;
export const WHY_MOST = 4;

// Why an eligible location lost.
export const LOST_RANK = 0;
export const LOST_SHORT = 1;
export const LOST_NOT_IN_USE = 2;
export const LOST_SPLIT_IN_USE = 3;
export const LOST_NO_PLAN = 4;
export const LOST_LIMIT = 5;

/**
 * The scratch a plan works in. Allocating a typed array costs about a microsecond and a plan needs
 * a dozen, so one workspace is reused by every plan and only grows. planSourcing runs to the end
 * without yielding or calling back into its caller (beyond Map lookups), so the workspace is never
 * used by two plans at once.
 */
export class Workspace {
  eligible = 0;
  skuCount = 0;
  /** avail[e * skuCount + s]: units of SKU s the eligible location e may give. */
  avail = new Float64Array(0);
  /** Per eligible location: km to the destination, NaN when unknown. */
  dist = new Float64Array(0);
  /** raw[c * eligible + e]: criterion c's measured value at e; NaN where it does not apply. */
  raw = new Float64Array(0);
  normalized = new Float64Array(0);
  totals = new Float64Array(0);
  /** Eligible locations best first (and the merge sort's second buffer). */
  order = new Int32Array(0);
  spare = new Int32Array(0);
  isInUse = new Uint8Array(0);
  /** Per eligible location: WHY_* once chosen, LOST_* otherwise. */
  why = new Uint8Array(0);
  lost = new Uint8Array(0);
  /** alloc[e * skuCount + s]: units of SKU s taken at e. */
  alloc = new Float64Array(0);
  unitsAt = new Float64Array(0);
  /** Per SKU: the need, what is not yet placed, and what a LOST_SHORT location fell short of. */
  needs = new Float64Array(0);
  rem = new Float64Array(0);
  shortOf = new Float64Array(0);
  /** Whether shortOf is the whole need (or what was left after in-use locations). */
  shortOfWhole = true;
  /** Per criterion of the profile: the smaller raw value is the better one. */
  readonly lowerIsBetter = new Uint8Array(CRITERION_COUNT);

  /** Room for `candidates` locations and `skus` SKUs; the rows a plan adds to start at zero. */
  prepare(candidates: number, skus: number, criteria: number): void {
    const cells = candidates * skus;
    if (this.dist.length < candidates) {
      const size = Math.max(candidates, 2 * this.dist.length, 64);
      this.dist = new Float64Array(size);
      this.totals = new Float64Array(size);
      this.unitsAt = new Float64Array(size);
      this.order = new Int32Array(size);
      this.spare = new Int32Array(size);
      this.isInUse = new Uint8Array(size);
      this.why = new Uint8Array(size);
      this.lost = new Uint8Array(size);
    }
    if (this.avail.length < cells) {
      const size = Math.max(cells, 2 * this.avail.length, 256);
      this.avail = new Float64Array(size);
      this.alloc = new Float64Array(size);
    }
    if (this.raw.length < candidates * criteria) {
      const size = Math.max(candidates * criteria, 2 * this.raw.length, 256);
      this.raw = new Float64Array(size);
      this.normalized = new Float64Array(size);
    }
    if (this.needs.length < skus) {
      const size = Math.max(skus, 2 * this.needs.length, 16);
      this.needs = new Float64Array(size);
      this.rem = new Float64Array(size);
      this.shortOf = new Float64Array(size);
    }
    this.totals.fill(0, 0, candidates);
    this.unitsAt.fill(0, 0, candidates);
    this.isInUse.fill(0, 0, candidates);
    this.why.fill(WHY_NONE, 0, candidates);
    this.lost.fill(LOST_RANK, 0, candidates);
    this.alloc.fill(0, 0, cells);
    this.skuCount = skus;
    this.shortOfWhole = true;
  }

  remaining(): number {
    let left = 0;
    for (let s = 0; s < this.skuCount; s++) left += this.rem[s] as number;
    return left;
  }

  /** Units of what is left that location e could ship. */
  coverage(e: number): number {
    const row = e * this.skuCount;
    let units = 0;
    for (let s = 0; s < this.skuCount; s++) {
      units += Math.min(this.rem[s] as number, this.avail[row + s] as number);
    }
    return units;
  }

  /** Location e has every unit of `shortOf`. */
  coversShortOf(e: number): boolean {
    const row = e * this.skuCount;
    for (let s = 0; s < this.skuCount; s++) {
      if ((this.avail[row + s] as number) < (this.shortOf[s] as number)) return false;
    }
    return true;
  }

  /** Takes what location e has of what is left. */
  take(e: number, why: number): void {
    const row = e * this.skuCount;
    for (let s = 0; s < this.skuCount; s++) {
      const qty = Math.min(this.rem[s] as number, this.avail[row + s] as number);
      this.alloc[row + s] = (this.alloc[row + s] as number) + qty;
      this.rem[s] = (this.rem[s] as number) - qty;
    }
    this.why[e] = why;
  }

  /** What is left becomes what a location must have to lose as "cannot ship the rest complete". */
  shortOfRest(): void {
    let whole = true;
    for (let s = 0; s < this.skuCount; s++) {
      this.shortOf[s] = this.rem[s] as number;
      if (this.rem[s] !== this.needs[s]) whole = false;
    }
    this.shortOfWhole = whole;
  }
}
