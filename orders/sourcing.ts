/**
 * The sourcing planner: which locations ship an order, and why. It is a pure function of its
 * request (no clock, no I/O, no randomness), so the same order against the same stock always gets
 * the same plan, a plan can be replayed when support asks about it, and a test can state the
 * answer. It runs once per order over every candidate location, so it works on typed arrays of
 * numbers, sorts once and allocates no closure per candidate. docs/sourcing.md explains the
 * scoring, the split policies and the explanation a plan carries.
 */
import {
  byLocation,
  compareText,
  explainPlan,
  formatKm,
  skippedAs,
} from './sourcing-explanation.ts';
import {
  planBackorder,
  planMaxShipments,
  planSingle,
  rankOrder,
  score,
} from './sourcing-scoring.ts';
import type {
  CandidateExplanation,
  PlannedAllocation,
  SourcingLocation,
  SourcingPlan,
  SourcingProfile,
  SourcingRequest,
} from './sourcing-types.ts';
import { CRITERION_CODE, Workspace } from './sourcing-workspace.ts';

export type {
  Criterion,
  CriterionWeight,
  SourcingExplanation,
  SourcingLocation,
  SourcingPlan,
  SourcingProfile,
  SourcingRequest,
  SplitPolicy,
} from './sourcing-types.ts';

const EARTH_RADIUS_KM = 6371.0088;
const RADIANS = Math.PI / 180;

/** Great-circle distance (haversine) on the mean Earth radius: plenty for ranking locations. */
export function distanceKm(
  a: { readonly lat: number; readonly lon: number },
  b: { readonly lat: number; readonly lon: number },
): number {
  const lat = a.lat * RADIANS;
  return kmFrom(lat, Math.cos(lat), a.lon * RADIANS, b.lat, b.lon);
}

/** Haversine from a point in radians with its cosine at hand: the destination's, once per plan. */
function kmFrom(latRad: number, cosLat: number, lonRad: number, lat: number, lon: number): number {
  const toLat = lat * RADIANS;
  const halfLat = Math.sin((toLat - latRad) / 2);
  const halfLon = Math.sin((lon * RADIANS - lonRad) / 2);
  const h = halfLat * halfLat + cosLat * Math.cos(toLat) * halfLon * halfLon;
  // Rounding can push h a hair above 1 for antipodal points; asin would answer NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}

const work = new Workspace();

/**
 * Plans which locations ship `request.need`. Ordinary "cannot source" outcomes are part of the
 * plan (complete false, with reasons); only a malformed request (a caller's bug) throws.
 */
export function planSourcing(request: SourcingRequest): SourcingPlan {
  const { profile, destination, candidates } = request;
  checkProfile(profile);
  if (destination !== null) checkCoordinates(destination.lat, destination.lon, 'destination');

  // The need in SKU order, so allocations come out sorted by SKU.
  const skus: string[] = [];
  for (const [sku, qty] of request.need) {
    if (!Number.isSafeInteger(qty) || qty < 0) {
      throw new Error(`sourcing: need of ${sku} must be a whole number >= 0, got ${String(qty)}`);
    }
    if (qty > 0) skus.push(sku);
  }
  skus.sort(compareText);
  const skuCount = skus.length;
  const w = work;
  w.prepare(candidates.length, skuCount, profile.criteria.length);
  for (let s = 0; s < skuCount; s++) {
    const qty = request.need.get(skus[s] as string) as number;
    w.needs[s] = qty;
    w.rem[s] = qty;
    w.shortOf[s] = qty;
  }

  // Eligibility; an eligible location's availability becomes row `eligible` of w.avail.
  const seen = new Set<string>();
  const locs: SourcingLocation[] = [];
  const skipped: CandidateExplanation[] = [];
  const limit = profile.maxDistanceKm;
  const toLat = destination === null ? 0 : destination.lat * RADIANS;
  const toCosLat = Math.cos(toLat);
  const toLon = destination === null ? 0 : destination.lon * RADIANS;
  const noExclusions = request.excluded.size === 0;
  let eligible = 0;
  for (const loc of candidates) {
    checkLocation(loc, seen);
    const excludedBecause = noExclusions ? undefined : request.excluded.get(loc.id);
    if (excludedBecause !== undefined) {
      skipped.push(skippedAs(loc.id, `skipped: excluded (${excludedBecause})`));
      continue;
    }
    if (
      profile.capacity === 'skip' &&
      loc.dailyCapacity !== null &&
      loc.openFulfilments >= loc.dailyCapacity
    ) {
      const full = `${loc.openFulfilments} of ${loc.dailyCapacity} open`;
      skipped.push(skippedAs(loc.id, `skipped: at capacity (${full})`));
      continue;
    }
    let km = NaN;
    if (destination !== null && loc.lat !== null && loc.lon !== null) {
      km = kmFrom(toLat, toCosLat, toLon, loc.lat, loc.lon);
      if (limit !== null && km > limit) {
        const far = `${formatKm(km, limit)} km away, beyond ${limit} km`;
        skipped.push(skippedAs(loc.id, `skipped: ${far}`));
        continue;
      }
    }
    const row = eligible * skuCount;
    let any = false;
    for (let s = 0; s < skuCount; s++) {
      const units = loc.available.get(skus[s] as string) ?? 0;
      if (!Number.isSafeInteger(units) || units < 0) {
        const sku = skus[s] as string;
        throw new Error(`sourcing: ${loc.id} has ${String(units)} of ${sku}; expected >= 0`);
      }
      w.avail[row + s] = units;
      if (units > 0) any = true;
    }
    if (!any) {
      const none = skuCount === 0 ? 'nothing to source' : 'no stock of any needed SKU';
      skipped.push(skippedAs(loc.id, `skipped: ${none}`));
      continue;
    }
    w.dist[eligible] = km;
    locs.push(loc);
    eligible++;
  }
  skipped.sort(byLocation);
  w.eligible = eligible;

  score(w, profile, locs);
  const order = rankOrder(w, locs, profile.criteria.length);

  const inUse = new Set(request.inUse);
  if (inUse.size > 0) {
    for (let e = 0; e < eligible; e++) {
      if (inUse.has((locs[e] as SourcingLocation).id)) w.isInUse[e] = 1;
    }
  }
  const split = profile.split;
  let failure = '';
  switch (split.policy) {
    case 'single':
      failure = planSingle(w, order, inUse.size);
      break;
    case 'maxShipments':
      failure = planMaxShipments(w, order, split.max - inUse.size);
      break;
    case 'backorder':
      planBackorder(
        w,
        order,
        split.maxShipments === null ? eligible : split.maxShipments - inUse.size,
      );
      break;
  }

  // A plan that cannot be met (single, maxShipments) places nothing: all or nothing.
  const placed = failure === '';
  const allocations: PlannedAllocation[] = [];
  if (placed) {
    for (let r = 0; r < eligible; r++) {
      const e = order[r] as number;
      const id = (locs[e] as SourcingLocation).id;
      for (let s = 0; s < skuCount; s++) {
        const qty = w.alloc[e * skuCount + s] as number;
        if (qty > 0) {
          allocations.push({ location: id, sku: skus[s] as string, qty });
          w.unitsAt[e] = (w.unitsAt[e] as number) + qty;
        }
      }
    }
  }
  const unplaced = new Map<string, number>();
  for (let s = 0; s < skuCount; s++) {
    const left = placed ? (w.rem[s] as number) : (w.needs[s] as number);
    if (left > 0) unplaced.set(skus[s] as string, left);
  }

  const explanation = explainPlan(w, {
    request,
    skus,
    locs,
    order,
    skipped,
    inUse,
    failure,
    allocations,
    unplaced,
  });
  const ranking = new Array<string>(eligible);
  for (let r = 0; r < eligible; r++) ranking[r] = (locs[order[r] as number] as SourcingLocation).id;
  return { allocations, unplaced, complete: unplaced.size === 0, ranking, explanation };
}

function checkProfile(profile: SourcingProfile): void {
  let seen = 0;
  for (const { criterion, weight } of profile.criteria) {
    const code = Object.hasOwn(CRITERION_CODE, criterion) ? CRITERION_CODE[criterion] : undefined;
    if (code === undefined) throw new Error(`sourcing: unknown criterion ${criterion}`);
    if ((seen & (1 << code)) !== 0) throw new Error(`sourcing: criterion ${criterion} twice`);
    seen |= 1 << code;
    if (!(weight > 0) || !Number.isFinite(weight)) {
      throw new Error(`sourcing: weight of ${criterion} must be > 0, got ${String(weight)}`);
    }
  }
  const limit = profile.maxDistanceKm;
  if (limit !== null && !(limit >= 0 && Number.isFinite(limit))) {
    throw new Error(`sourcing: maxDistanceKm must be >= 0 or null, got ${String(limit)}`);
  }
  const split = profile.split;
  const max =
    split.policy === 'maxShipments'
      ? split.max
      : split.policy === 'backorder'
        ? split.maxShipments
        : null;
  if (max !== null && !(Number.isSafeInteger(max) && max >= 1)) {
    throw new Error(`sourcing: the shipment limit must be a whole number >= 1, got ${String(max)}`);
  }
}

function checkLocation(loc: SourcingLocation, seen: Set<string>): void {
  const before = seen.size;
  if (seen.add(loc.id).size === before) {
    throw new Error(`sourcing: location ${loc.id} is a candidate twice`);
  }
  if ((loc.lat === null) !== (loc.lon === null)) {
    throw new Error(`sourcing: ${loc.id} needs lat and lon together, or neither`);
  }
  if (loc.lat !== null && loc.lon !== null) checkCoordinates(loc.lat, loc.lon, loc.id);
  if (
    !Number.isFinite(loc.priority) ||
    !(loc.shippingCost >= 0 && Number.isFinite(loc.shippingCost)) ||
    !(loc.openFulfilments >= 0 && Number.isFinite(loc.openFulfilments)) ||
    (loc.dailyCapacity !== null && !(loc.dailyCapacity > 0 && Number.isFinite(loc.dailyCapacity)))
  ) {
    throw new Error(
      `sourcing: ${loc.id} needs a finite priority, shippingCost >= 0, openFulfilments >= 0 and dailyCapacity > 0 or null`,
    );
  }
}

function checkCoordinates(lat: number, lon: number, what: string): void {
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) {
    throw new Error(`sourcing: ${what} has coordinates out of range (${lat}, ${lon})`);
  }
}
