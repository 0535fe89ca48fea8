/**
 * How the planner weighs and orders eligible locations, and how a split policy takes from them
 * in that order. Everything works in the shared Workspace (see sourcing-workspace.ts).
 */
import type { CriterionWeight, SourcingLocation, SourcingProfile } from './sourcing-types.ts';
import {
  CAPACITY,
  CRITERION_CODE,
  DISTANCE,
  LOCATION_TYPE,
  LOST_LIMIT,
  LOST_NO_PLAN,
  LOST_NOT_IN_USE,
  LOST_RANK,
  LOST_SHORT,
  LOST_SPLIT_IN_USE,
  PRIORITY,
  SHIPPING_COST,
  STOCK_DEPTH,
  WHY_FIRST_COMPLETE,
  WHY_IN_USE,
  WHY_MOST,
  WHY_NONE,
  WHY_REST_COMPLETE,
  type Workspace,
} from './sourcing-workspace.ts';

/** Raw values, normalized scores and totals of the eligible locations. */
export function score(
  w: Workspace,
  profile: SourcingProfile,
  locs: readonly SourcingLocation[],
): void {
  const { eligible, skuCount, raw, normalized, totals, avail, needs, dist } = w;
  const criteria = profile.criteria;
  const preference = profile.typePreference;
  for (let c = 0; c < criteria.length; c++) {
    const { criterion, weight } = criteria[c] as CriterionWeight;
    const code = CRITERION_CODE[criterion];
    const higherIsBetter = code === PRIORITY || code === STOCK_DEPTH;
    w.lowerIsBetter[c] = higherIsBetter ? 0 : 1;
    const base = c * eligible;
    let min = Infinity;
    let max = -Infinity;
    for (let e = 0; e < eligible; e++) {
      const loc = locs[e] as SourcingLocation;
      let value: number;
      switch (code) {
        case DISTANCE:
          value = dist[e] as number;
          break;
        case PRIORITY:
          value = loc.priority;
          break;
        case LOCATION_TYPE: {
          const index = preference.indexOf(loc.type);
          value = index < 0 ? preference.length : index;
          break;
        }
        case STOCK_DEPTH: {
          value = 0;
          const row = e * skuCount;
          for (let s = 0; s < skuCount; s++) {
            const left = (avail[row + s] as number) - (needs[s] as number);
            if (left > 0) value += left;
          }
          break;
        }
        case SHIPPING_COST:
          value = loc.shippingCost;
          break;
        default:
          value = loc.dailyCapacity === null ? 0 : loc.openFulfilments / loc.dailyCapacity;
      }
      raw[base + e] = value;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    const span = max - min;
    // Penalised capacity is the load itself, not its place among the candidates: a full
    // location must look full even when every candidate is full.
    const asLoad = code === CAPACITY && profile.capacity === 'penalise';
    for (let e = 0; e < eligible; e++) {
      const value = raw[base + e] as number;
      let n: number;
      if (asLoad) n = value;
      // NaN: a distance that cannot be measured. With a destination (some distance measured)
      // it counts as far as the farthest, so a location without coordinates never wins on
      // distance; without one, distance decides nothing.
      else if (Number.isNaN(value)) n = min === Infinity ? 0 : 1;
      else if (!(span > 0)) n = 0;
      else n = higherIsBetter ? (max - value) / span : (value - min) / span;
      normalized[base + e] = n;
      totals[e] = (totals[e] as number) + weight * n;
    }
  }
}

const RUN = 8;

/**
 * Eligible locations best first: lower total, then the tie-breaks. A merge sort written out, so
 * that the common comparison (two totals) is inline instead of a comparator call per pair.
 */
export function rankOrder(
  w: Workspace,
  locs: readonly SourcingLocation[],
  criteriaCount: number,
): Int32Array {
  const { eligible: n, totals } = w;
  let from = w.order;
  let to = w.spare;
  for (let e = 0; e < n; e++) from[e] = e;
  // Short runs by insertion first: fewer passes over the whole list.
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const x = from[i] as number;
      const tx = totals[x] as number;
      let j = i - 1;
      for (; j >= lo; j--) {
        const y = from[j] as number;
        const ty = totals[y] as number;
        if (!(tx < ty || (tx === ty && tieBefore(w, locs, criteriaCount, x, y)))) break;
        from[j + 1] = y;
      }
      from[j + 1] = x;
    }
  }
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        const x = from[i] as number;
        const y = from[j] as number;
        const tx = totals[x] as number;
        const ty = totals[y] as number;
        if (ty < tx || (ty === tx && tieBefore(w, locs, criteriaCount, y, x))) {
          to[k++] = y;
          j++;
        } else {
          to[k++] = x;
          i++;
        }
      }
      while (i < mid) to[k++] = from[i++] as number;
      while (j < hi) to[k++] = from[j++] as number;
    }
    const swap = from;
    from = to;
    to = swap;
  }
  return from;
}

/** Of two locations with equal totals, a ranks first: better raw values in criteria order, then id. */
function tieBefore(
  w: Workspace,
  locs: readonly SourcingLocation[],
  criteriaCount: number,
  a: number,
  b: number,
): boolean {
  const { raw, eligible } = w;
  for (let c = 0; c < criteriaCount; c++) {
    const ra = raw[c * eligible + a] as number;
    const rb = raw[c * eligible + b] as number;
    if (ra === rb) continue;
    // A measured value beats an unknown one (NaN: no coordinates or no destination).
    if (Number.isNaN(ra)) {
      if (Number.isNaN(rb)) continue;
      return false;
    }
    if (Number.isNaN(rb)) return true;
    return ra < rb === (w.lowerIsBetter[c] === 1);
  }
  return (locs[a] as SourcingLocation).id < (locs[b] as SourcingLocation).id;
}

/** One location ships everything; answers why not ('' when it does). */
export function planSingle(w: Workspace, order: Int32Array, inUseCount: number): string {
  const n = w.eligible;
  if (inUseCount >= 2) {
    w.lost.fill(LOST_SPLIT_IN_USE, 0, n);
    return `the order already ships from ${inUseCount} locations`;
  }
  let chosen = -1;
  for (let r = 0; r < n; r++) {
    const e = order[r] as number;
    if (inUseCount === 1 && w.isInUse[e] === 0) w.lost[e] = LOST_NOT_IN_USE;
    else if (!w.coversShortOf(e)) w.lost[e] = LOST_SHORT;
    else if (chosen < 0) chosen = e;
  }
  if (chosen >= 0) {
    w.take(chosen, w.isInUse[chosen] === 1 ? WHY_IN_USE : WHY_FIRST_COMPLETE);
    return '';
  }
  return inUseCount === 1
    ? 'the location already shipping it does not have the rest'
    : 'no location has all of it';
}

/** In-use locations plus up to `budget` new ones ship everything; answers why not ('' when they do). */
export function planMaxShipments(w: Workspace, order: Int32Array, budget: number): string {
  const n = w.eligible;
  const total = w.remaining();
  // Locations already shipping the order cost no extra shipment: they go first.
  takeInUse(w, order);
  if (w.remaining() > 0 && budget >= 1) {
    w.shortOfRest();
    let cover = -1;
    for (let r = 0; r < n && cover < 0; r++) {
      const e = order[r] as number;
      if (w.isInUse[e] === 1) continue;
      if (w.coversShortOf(e)) cover = e;
      else w.lost[e] = LOST_SHORT;
    }
    if (cover >= 0) {
      w.take(cover, WHY_REST_COMPLETE);
    } else {
      w.lost.fill(LOST_RANK, 0, n);
      // No one location has the rest: add whichever has the most of it, until the budget is spent.
      for (; budget > 0 && w.remaining() > 0; budget--) {
        let best = -1;
        let bestUnits = 0;
        for (let r = 0; r < n; r++) {
          const e = order[r] as number;
          if (w.isInUse[e] === 1 || w.why[e] !== WHY_NONE) continue;
          const units = w.coverage(e);
          if (units > bestUnits) {
            best = e;
            bestUnits = units;
          }
        }
        if (best < 0) break;
        w.take(best, WHY_MOST);
      }
    }
  }
  const left = w.remaining();
  if (left === 0) return '';
  w.lost.fill(LOST_NO_PLAN, 0, n);
  return `the best plan found places ${total - left} of ${total} units`;
}

/** Takes what there is in rank order (in-use locations first), up to `budget` new locations. */
export function planBackorder(w: Workspace, order: Int32Array, budget: number): void {
  takeInUse(w, order);
  for (let r = 0; r < w.eligible && w.remaining() > 0; r++) {
    const e = order[r] as number;
    if (w.isInUse[e] === 1 || w.coverage(e) === 0) continue;
    if (budget > 0) {
      w.take(e, WHY_NONE);
      budget--;
    } else {
      w.lost[e] = LOST_LIMIT;
    }
  }
}

function takeInUse(w: Workspace, order: Int32Array): void {
  for (let r = 0; r < w.eligible; r++) {
    const e = order[r] as number;
    if (w.isInUse[e] === 1 && w.coverage(e) > 0) w.take(e, WHY_IN_USE);
  }
}
