/**
 * The sourcing planner: which locations ship an order, and why. It is a pure function of its
 * request (no clock, no I/O, no randomness), so the same order against the same stock always gets
 * the same plan, a plan can be replayed when support asks about it, and a test can state the
 * answer. It runs once per order over every candidate location, so it works on typed arrays of
 * numbers, sorts once and allocates no closure per candidate. docs/sourcing.md explains the
 * scoring, the split policies and the explanation a plan carries.
 */

export type Criterion =
  'distance' | 'priority' | 'locationType' | 'stockDepth' | 'shippingCost' | 'capacity';

export interface CriterionWeight {
  readonly criterion: Criterion;
  /** > 0. */
  readonly weight: number;
}

export type SplitPolicy =
  /** Ship the order complete from one location. */
  | { readonly policy: 'single' }
  /** Ship the order complete from up to `max` locations (>= 1). */
  | { readonly policy: 'maxShipments'; readonly max: number }
  /** Ship what is available (from up to `maxShipments` locations), backorder the rest. */
  | { readonly policy: 'backorder'; readonly maxShipments: number | null };

export interface SourcingProfile {
  readonly name: string;
  /** Ordered: the weighted sum ranks; ties are broken by the raw values in this order, then location id. */
  readonly criteria: readonly CriterionWeight[];
  /** Location types, most preferred first; unlisted types rank after all listed ones. */
  readonly typePreference: readonly string[];
  /** What a location at or over its daily capacity gets: skipped, or penalised (its capacity score is its load, >1 when over). */
  readonly capacity: 'skip' | 'penalise';
  readonly split: SplitPolicy;
  /** Locations farther than this from the destination are skipped; null: no limit (and ignored without a destination). */
  readonly maxDistanceKm: number | null;
  /**
   * Weigh only the N nearest locations that have something of the order, when the order has a
   * destination; all of them when those cannot place it (the order service applies this before
   * planning, see docs/sourcing.md). null or absent: every location.
   */
  readonly nearest?: number | null | undefined;
}

export interface SourcingLocation {
  readonly id: string;
  readonly type: string;
  readonly lat: number | null;
  readonly lon: number | null;
  /** Higher is preferred. */
  readonly priority: number;
  /** Cost of shipping from here to this order's destination (already resolved for its zone), minor units. */
  readonly shippingCost: number;
  /** Fulfilments per day; null: unlimited. */
  readonly dailyCapacity: number | null;
  /** Fulfilments open at the location now (its backlog). */
  readonly openFulfilments: number;
  /** sku -> units this order may take here (the channel's availability at the location); a Map
   * or anything with its `get`. */
  readonly available: Pick<ReadonlyMap<string, number>, 'get'>;
}

export interface SourcingRequest {
  /** sku -> units still to source. */
  readonly need: ReadonlyMap<string, number>;
  /** Delivery coordinates; null (network reservation, unknown) makes distance neutral. */
  readonly destination: { readonly lat: number; readonly lon: number } | null;
  readonly candidates: readonly SourcingLocation[];
  /** location id -> why it may not be used for this order (e.g. "rejected fulfilment F-1"). */
  readonly excluded: ReadonlyMap<string, string>;
  /** Locations already shipping part of this order: using them again costs no extra shipment. */
  readonly inUse: readonly string[];
  readonly profile: SourcingProfile;
  /**
   * Explain at most this many of the candidates that lost (the best ranked) and this many of the
   * skipped ones; the chosen are always explained, the rest only counted (`omitted`). Default:
   * all. An order keeps a few: two hundred explained candidates would be most of its memory and
   * most of the time a plan takes, and support asks why the winner won and who came close.
   */
  readonly explain?: number | undefined;
}

export interface PlannedAllocation {
  readonly location: string;
  readonly sku: string;
  readonly qty: number;
}

export interface CriterionScore {
  readonly criterion: Criterion;
  readonly weight: number;
  /** The measured value (km, priority, preference index, units left, cost, load); null when it does not apply. */
  readonly raw: number | null;
  /** 0 (best among candidates) .. 1 (worst); load-based capacity may exceed 1 when penalised. */
  readonly normalized: number;
  readonly weighted: number;
}

export interface CandidateExplanation {
  readonly location: string;
  /** 1-based rank among eligible candidates; null when skipped. */
  readonly rank: number | null;
  readonly total: number | null;
  readonly scores: readonly CriterionScore[];
  readonly outcome: 'chosen' | 'lost' | 'skipped';
  /** One sentence a support agent can read, e.g. "chosen: best score 0.12 of 4 candidates; ships 3 units". */
  readonly reason: string;
  /** Units allocated here by the plan. */
  readonly units: number;
}

export interface SourcingExplanation {
  readonly profile: string;
  /** "single", "maxShipments(2)", "backorder" or "backorder(2)". */
  readonly policy: string;
  /** Eligible candidates by rank, then skipped ones by id (see SourcingRequest.explain). */
  readonly candidates: readonly CandidateExplanation[];
  /** Candidates weighed but not explained here. */
  readonly omitted: number;
  /** e.g. "2 shipments: dc-1 (4 units), store-7 (1 unit)" or "cannot ship complete from one location". */
  readonly summary: string;
}

export interface SourcingPlan {
  readonly allocations: readonly PlannedAllocation[];
  /** sku -> units not placed (the whole need when a single/maxShipments plan cannot be met). */
  readonly unplaced: ReadonlyMap<string, number>;
  readonly complete: boolean;
  /** Every eligible location, best first (what a network reservation is split by). */
  readonly ranking: readonly string[];
  readonly explanation: SourcingExplanation;
}

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

// Criteria as small integers, so the scoring loops switch on a number instead of a string.
const DISTANCE = 0;
const PRIORITY = 1;
const LOCATION_TYPE = 2;
const STOCK_DEPTH = 3;
const SHIPPING_COST = 4;
const CAPACITY = 5;
const CRITERION_COUNT = 6;
const CRITERION_CODE: Readonly<Record<Criterion, number>> = {
  distance: DISTANCE,
  priority: PRIORITY,
  locationType: LOCATION_TYPE,
  stockDepth: STOCK_DEPTH,
  shippingCost: SHIPPING_COST,
  capacity: CAPACITY,
};

// Why a chosen location was chosen, when "best score" alone does not say it.
const WHY_NONE = 0;
const WHY_IN_USE = 1;
const WHY_FIRST_COMPLETE = 2;
const WHY_REST_COMPLETE = 3;
const WHY_MOST = 4;

// Why an eligible location lost.
const LOST_RANK = 0;
const LOST_SHORT = 1;
const LOST_NOT_IN_USE = 2;
const LOST_SPLIT_IN_USE = 3;
const LOST_NO_PLAN = 4;
const LOST_LIMIT = 5;

/**
 * The scratch a plan works in. Allocating a typed array costs about a microsecond and a plan needs
 * a dozen, so one workspace is reused by every plan and only grows. planSourcing runs to the end
 * without yielding or calling back into its caller (beyond Map lookups), so the workspace is never
 * used by two plans at once.
 */
class Workspace {
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

  const context: ReasonContext = {
    w,
    skus,
    inUseOnly: inUse.size === 1 ? (request.inUse[0] as string) : '',
    inUseCount: inUse.size,
    shipmentLimit:
      split.policy === 'maxShipments'
        ? split.max
        : split.policy === 'backorder'
          ? (split.maxShipments ?? 0)
          : 1,
  };
  const keep = request.explain ?? Infinity;
  const explained: CandidateExplanation[] = [];
  let lost = 0;
  let omitted = 0;
  for (let r = 0; r < eligible; r++) {
    const e = order[r] as number;
    const exact = w.totals[e] as number;
    const units = w.unitsAt[e] as number;
    if (units === 0 && lost++ >= keep) {
      omitted++;
      continue;
    }
    explained.push({
      location: (locs[e] as SourcingLocation).id,
      rank: r + 1,
      total: round4(exact),
      scores: scoresOf(w, profile, e),
      outcome: units > 0 ? 'chosen' : 'lost',
      reason:
        units > 0
          ? chosenReason(w.why[e] as number, w.shortOfWhole, r + 1, exact, eligible, units)
          : lostReason(context, e, r + 1, exact),
      units,
    });
  }
  for (let i = 0; i < skipped.length; i++) {
    if (i >= keep) {
      omitted++;
      continue;
    }
    explained.push(skipped[i] as CandidateExplanation);
  }

  const ranking = new Array<string>(eligible);
  for (let r = 0; r < eligible; r++) ranking[r] = (locs[order[r] as number] as SourcingLocation).id;
  return {
    allocations,
    unplaced,
    complete: unplaced.size === 0,
    ranking,
    explanation: {
      profile: profile.name,
      policy: policyName(split),
      candidates: explained,
      omitted,
      summary: summarize(split, failure, allocations, unplaced, skuCount),
    },
  };
}

function skippedAs(location: string, reason: string): CandidateExplanation {
  return { location, rank: null, total: null, scores: [], outcome: 'skipped', reason, units: 0 };
}

/** Raw values, normalized scores and totals of the eligible locations. */
function score(w: Workspace, profile: SourcingProfile, locs: readonly SourcingLocation[]): void {
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
function rankOrder(
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
function planSingle(w: Workspace, order: Int32Array, inUseCount: number): string {
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
function planMaxShipments(w: Workspace, order: Int32Array, budget: number): string {
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
function planBackorder(w: Workspace, order: Int32Array, budget: number): void {
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

interface ReasonContext {
  readonly w: Workspace;
  readonly skus: readonly string[];
  /** The one location a single-shipment plan must use, when the order already ships from it. */
  readonly inUseOnly: string;
  readonly inUseCount: number;
  readonly shipmentLimit: number;
}

function chosenReason(
  why: number,
  whole: boolean,
  rank: number,
  exact: number,
  of: number,
  units: number,
): string {
  const total = decimal4(exact);
  let because = '';
  if (why === WHY_IN_USE) because = 'already ships part of this order; ';
  else if (rank > 1 && why === WHY_FIRST_COMPLETE)
    because = 'the best-ranked that can ship the order complete; ';
  else if (rank > 1 && why === WHY_REST_COMPLETE)
    because = `the best-ranked that can ship the ${whole ? 'order' : 'rest'} complete; `;
  else if (why === WHY_MOST) because = 'has the most of what is left; ';
  const standing =
    rank === 1
      ? `best score ${total} of ${of} ${of === 1 ? 'candidate' : 'candidates'}`
      : `score ${total} ranks ${ordinal(rank)} of ${of} candidates`;
  return `chosen: ${because}${standing}; ships ${units} ${units === 1 ? 'unit' : 'units'}`;
}

function lostReason(context: ReasonContext, e: number, rank: number, exact: number): string {
  const { w } = context;
  switch (w.lost[e]) {
    case LOST_SHORT:
      return `lost: cannot ship the ${w.shortOfWhole ? 'order' : 'rest'} complete (${shortfall(context, e)})`;
    case LOST_NOT_IN_USE:
      return `lost: the order already ships from ${context.inUseOnly}, so a single shipment must come from there`;
    case LOST_SPLIT_IN_USE:
      return `lost: the order already ships from ${context.inUseCount} locations, so a single shipment is impossible`;
    case LOST_NO_PLAN:
      return `lost: no plan within ${context.shipmentLimit} shipments ships the order complete; score ${decimal4(exact)} ranks ${ordinal(rank)}`;
    case LOST_LIMIT:
      return `lost: shipment limit of ${context.shipmentLimit} reached; score ${decimal4(exact)} ranks ${ordinal(rank)}`;
    default:
      return `lost: score ${decimal4(exact)} ranks ${ordinal(rank)}`;
  }
}

/** "has 1 of 3 SKU-B": the first SKU (in SKU order) the location is short of. */
function shortfall(context: ReasonContext, e: number): string {
  const { w, skus } = context;
  const row = e * w.skuCount;
  for (let s = 0; s < w.skuCount; s++) {
    const has = w.avail[row + s] as number;
    const wanted = w.shortOf[s] as number;
    if (has < wanted) return `has ${has} of ${wanted} ${skus[s] as string}`;
  }
  return 'has all of it';
}

function scoresOf(w: Workspace, profile: SourcingProfile, e: number): CriterionScore[] {
  const criteria = profile.criteria;
  // Sized up front: a pushed-to empty array reserves 17 slots.
  const scores = new Array<CriterionScore>(criteria.length);
  for (let c = 0; c < criteria.length; c++) {
    const { criterion, weight } = criteria[c] as CriterionWeight;
    const raw = w.raw[c * w.eligible + e] as number;
    const normalized = w.normalized[c * w.eligible + e] as number;
    scores[c] = {
      criterion,
      weight,
      raw: Number.isNaN(raw) ? null : raw,
      normalized,
      weighted: weight * normalized,
    };
  }
  return scores;
}

function summarize(
  split: SplitPolicy,
  failure: string,
  allocations: readonly PlannedAllocation[],
  unplaced: ReadonlyMap<string, number>,
  skuCount: number,
): string {
  if (skuCount === 0) return 'nothing to source';
  if (failure !== '') {
    const what =
      split.policy === 'single'
        ? 'cannot ship complete from one location'
        : `cannot ship complete within ${policyLimit(split)}`;
    return `${what}: ${failure}`;
  }
  let shipments = 0;
  let list = '';
  for (let i = 0; i < allocations.length;) {
    const location = (allocations[i] as PlannedAllocation).location;
    let units = 0;
    while (i < allocations.length && (allocations[i] as PlannedAllocation).location === location) {
      units += (allocations[i] as PlannedAllocation).qty;
      i++;
    }
    list += `${shipments === 0 ? '' : ', '}${location} (${units} ${units === 1 ? 'unit' : 'units'})`;
    shipments++;
  }
  const shipped =
    shipments === 0
      ? 'no shipment'
      : `${shipments} ${shipments === 1 ? 'shipment' : 'shipments'}: ${list}`;
  if (unplaced.size === 0) return shipped;
  let missing = 0;
  let lines = '';
  for (const [sku, units] of unplaced) {
    missing += units;
    lines += `${lines === '' ? '' : ', '}${sku} ${units}`;
  }
  return `${shipped}; backorder ${missing} ${missing === 1 ? 'unit' : 'units'} (${lines})`;
}

function policyLimit(split: SplitPolicy): string {
  const max = split.policy === 'maxShipments' ? split.max : 1;
  return `${max} ${max === 1 ? 'shipment' : 'shipments'}`;
}

function policyName(split: SplitPolicy): string {
  switch (split.policy) {
    case 'single':
      return 'single';
    case 'maxShipments':
      return `maxShipments(${split.max})`;
    case 'backorder':
      return split.maxShipments === null ? 'backorder' : `backorder(${split.maxShipments})`;
  }
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

/** Code-unit order: the same everywhere, unlike localeCompare. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byLocation(a: CandidateExplanation, b: CandidateExplanation): number {
  return compareText(a.location, b.location);
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

const ZEROS = ['', '0', '00', '000'];

/**
 * `String(round4(value))` for the scores in reasons, about twice as fast: small integers print
 * from V8's number-string cache, while a fraction goes through the general double printer.
 */
function decimal4(value: number): string {
  const scaled = Math.round(value * 10_000);
  if (!(scaled < 1e15)) return String(scaled / 10_000);
  const whole = Math.floor(scaled / 10_000);
  let fraction = scaled - whole * 10_000;
  if (fraction === 0) return `${whole}`;
  const lead = fraction < 10 ? 3 : fraction < 100 ? 2 : fraction < 1_000 ? 1 : 0;
  while (fraction % 10 === 0) fraction /= 10;
  return `${whole}.${ZEROS[lead] as string}${fraction}`;
}

/** "1st", "2nd", ...: the first few hundred made once, as every plan names a rank per candidate. */
const ORDINALS: readonly string[] = Array.from({ length: 256 }, (_, n) => spellOrdinal(n));

function ordinal(n: number): string {
  return n < ORDINALS.length ? (ORDINALS[n] as string) : spellOrdinal(n);
}

function spellOrdinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

/** Whole km, unless rounding would make a location just past the limit look within it. */
function formatKm(km: number, limit: number): string {
  const whole = Math.round(km);
  return whole > limit ? String(whole) : km.toFixed(2);
}
