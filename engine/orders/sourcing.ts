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
  /** sku -> units this order may take here (the channel's availability at the location). */
  readonly available: ReadonlyMap<string, number>;
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
  /** Eligible candidates by rank, then skipped ones by id. */
  readonly candidates: readonly CandidateExplanation[];
  /** e.g. "2 shipments: dc-1 (4 units), store-7 (1 unit)" or "cannot ship complete from one location". */
  readonly summary: string;
}

export interface SourcingPlan {
  readonly allocations: readonly PlannedAllocation[];
  /** sku -> units not placed (the whole need when a single/maxShipments plan cannot be met). */
  readonly unplaced: ReadonlyMap<string, number>;
  readonly complete: boolean;
  readonly explanation: SourcingExplanation;
}

const EARTH_RADIUS_KM = 6371.0088;
const RADIANS = Math.PI / 180;

/** Great-circle distance (haversine) on the mean Earth radius: plenty for ranking locations. */
export function distanceKm(
  a: { readonly lat: number; readonly lon: number },
  b: { readonly lat: number; readonly lon: number },
): number {
  const halfLat = Math.sin(((b.lat - a.lat) * RADIANS) / 2);
  const halfLon = Math.sin(((b.lon - a.lon) * RADIANS) / 2);
  const h =
    halfLat * halfLat + Math.cos(a.lat * RADIANS) * Math.cos(b.lat * RADIANS) * halfLon * halfLon;
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

interface Skipped {
  readonly location: string;
  readonly reason: string;
}

/**
 * Plans which locations ship `request.need`. Ordinary "cannot source" outcomes are part of the
 * plan (complete false, with reasons); only a malformed request (a caller's bug) throws.
 */
export function planSourcing(request: SourcingRequest): SourcingPlan {
  const { profile, destination, candidates } = request;
  checkProfile(profile);
  if (destination !== null) checkCoordinates(destination.lat, destination.lon, 'destination');

  // The need as parallel arrays in SKU order, so allocations come out sorted by SKU.
  const skus: string[] = [];
  for (const [sku, qty] of request.need) {
    if (!Number.isSafeInteger(qty) || qty < 0) {
      throw new Error(`sourcing: need of ${sku} must be a whole number >= 0, got ${String(qty)}`);
    }
    if (qty > 0) skus.push(sku);
  }
  skus.sort(compareText);
  const skuCount = skus.length;
  const needs = new Float64Array(skuCount);
  for (let s = 0; s < skuCount; s++) needs[s] = request.need.get(skus[s] as string) as number;

  // Eligibility, and the per-SKU availability of each eligible location (row e of `avail`).
  const candidateCount = candidates.length;
  const seen = new Set<string>();
  const locs: SourcingLocation[] = [];
  const dist: number[] = [];
  const avail = new Float64Array(candidateCount * skuCount);
  const skipped: Skipped[] = [];
  const limit = profile.maxDistanceKm;
  for (const loc of candidates) {
    checkLocation(loc, seen);
    const excludedBecause = request.excluded.get(loc.id);
    if (excludedBecause !== undefined) {
      skipped.push({ location: loc.id, reason: `skipped: excluded (${excludedBecause})` });
      continue;
    }
    if (
      profile.capacity === 'skip' &&
      loc.dailyCapacity !== null &&
      loc.openFulfilments >= loc.dailyCapacity
    ) {
      skipped.push({
        location: loc.id,
        reason: `skipped: at capacity (${loc.openFulfilments} of ${loc.dailyCapacity} open)`,
      });
      continue;
    }
    let km = NaN;
    if (destination !== null && loc.lat !== null && loc.lon !== null) {
      km = distanceKm(destination, { lat: loc.lat, lon: loc.lon });
      if (limit !== null && km > limit) {
        skipped.push({
          location: loc.id,
          reason: `skipped: ${formatKm(km, limit)} km away, beyond ${limit} km`,
        });
        continue;
      }
    }
    const row = locs.length * skuCount;
    let any = false;
    for (let s = 0; s < skuCount; s++) {
      const units = loc.available.get(skus[s] as string) ?? 0;
      if (!Number.isSafeInteger(units) || units < 0) {
        throw new Error(
          `sourcing: ${loc.id} has ${String(units)} of ${skus[s] as string}; expected a whole number >= 0`,
        );
      }
      avail[row + s] = units;
      if (units > 0) any = true;
    }
    if (!any) {
      skipped.push({
        location: loc.id,
        reason:
          skuCount === 0 ? 'skipped: nothing to source' : 'skipped: no stock of any needed SKU',
      });
      continue;
    }
    locs.push(loc);
    dist.push(km);
  }
  skipped.sort(bySkippedLocation);

  const eligible = locs.length;
  const scoring = new Scoring(profile, locs, dist, avail, needs);
  const order = scoring.rankOrder();
  const rankOf = new Int32Array(eligible);
  for (let r = 0; r < eligible; r++) rankOf[order[r] as number] = r + 1;

  const inUse = new Set(request.inUse);
  const isInUse = new Uint8Array(eligible);
  for (let e = 0; e < eligible; e++)
    if (inUse.has((locs[e] as SourcingLocation).id)) isInUse[e] = 1;

  const state = new PlanState(skuCount, eligible, avail, needs);
  const split = profile.split;
  let failure = '';
  let inUseOnly = '';
  switch (split.policy) {
    case 'single':
      failure = planSingle(state, order, isInUse, inUse.size);
      if (inUse.size === 1) inUseOnly = request.inUse[0] as string;
      break;
    case 'maxShipments':
      failure = planMaxShipments(state, order, isInUse, split.max - inUse.size);
      break;
    case 'backorder':
      planBackorder(
        state,
        order,
        isInUse,
        split.maxShipments === null ? eligible : split.maxShipments - inUse.size,
      );
      break;
  }

  // A plan that cannot be met (single, maxShipments) places nothing: all or nothing.
  const placedAny = failure === '';
  const allocations: PlannedAllocation[] = [];
  const unitsAt = new Float64Array(eligible);
  if (placedAny) {
    for (let r = 0; r < eligible; r++) {
      const e = order[r] as number;
      const id = (locs[e] as SourcingLocation).id;
      for (let s = 0; s < skuCount; s++) {
        const qty = state.alloc[e * skuCount + s] as number;
        if (qty > 0) {
          allocations.push({ location: id, sku: skus[s] as string, qty });
          unitsAt[e] = (unitsAt[e] as number) + qty;
        }
      }
    }
  }
  const unplaced = new Map<string, number>();
  for (let s = 0; s < skuCount; s++) {
    const left = placedAny ? (state.rem[s] as number) : (needs[s] as number);
    if (left > 0) unplaced.set(skus[s] as string, left);
  }

  const explained: CandidateExplanation[] = [];
  const context: ReasonContext = {
    eligible,
    skus,
    state,
    failure,
    inUseOnly,
    inUseCount: inUse.size,
    shipmentLimit:
      split.policy === 'maxShipments'
        ? split.max
        : split.policy === 'backorder'
          ? split.maxShipments
          : 1,
  };
  for (let r = 0; r < eligible; r++) {
    const e = order[r] as number;
    const exact = scoring.totals[e] as number;
    const total = round4(exact);
    const shown = decimal4(exact);
    const units = unitsAt[e] as number;
    explained.push({
      location: (locs[e] as SourcingLocation).id,
      rank: r + 1,
      total,
      scores: scoresOf(profile, scoring, e, eligible),
      outcome: units > 0 ? 'chosen' : 'lost',
      reason:
        units > 0
          ? chosenReason(state.why[e] as number, r + 1, shown, eligible, units)
          : lostReason(context, e, r + 1, shown),
      units,
    });
  }
  for (const s of skipped) {
    explained.push({
      location: s.location,
      rank: null,
      total: null,
      scores: [],
      outcome: 'skipped',
      reason: s.reason,
      units: 0,
    });
  }

  return {
    allocations,
    unplaced,
    complete: unplaced.size === 0,
    explanation: {
      profile: profile.name,
      policy: policyName(split),
      candidates: explained,
      summary: summarize(split, failure, allocations, unplaced, skuCount),
    },
  };
}

/**
 * Raw, normalized and total scores of the eligible locations, and their order. Row c of `raw` and
 * `normalized` is criterion c of the profile: `raw[c * eligible + e]`.
 */
class Scoring {
  readonly eligible: number;
  readonly locs: readonly SourcingLocation[];
  /** NaN where the value does not apply (distance without coordinates or destination). */
  readonly raw: Float64Array;
  readonly normalized: Float64Array;
  readonly totals: Float64Array;
  /** Per criterion: the smaller raw value is the better one. */
  readonly lowerIsBetter: Uint8Array;

  constructor(
    profile: SourcingProfile,
    locs: readonly SourcingLocation[],
    dist: readonly number[],
    avail: Float64Array,
    needs: Float64Array,
  ) {
    const eligible = locs.length;
    const criteria = profile.criteria;
    this.eligible = eligible;
    this.locs = locs;
    this.raw = new Float64Array(criteria.length * eligible);
    this.normalized = new Float64Array(criteria.length * eligible);
    this.totals = new Float64Array(eligible);
    this.lowerIsBetter = new Uint8Array(criteria.length);
    const { raw, normalized, totals } = this;
    const skuCount = needs.length;
    const preference = profile.typePreference;
    for (let c = 0; c < criteria.length; c++) {
      const { criterion, weight } = criteria[c] as CriterionWeight;
      const code = CRITERION_CODE[criterion];
      const higherIsBetter = code === PRIORITY || code === STOCK_DEPTH;
      this.lowerIsBetter[c] = higherIsBetter ? 0 : 1;
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
        // NaN (unknown distance) fails every comparison and lands here: neutral.
        else if (!(span > 0) || Number.isNaN(value)) n = 0;
        else n = higherIsBetter ? (max - value) / span : (value - min) / span;
        normalized[base + e] = n;
        totals[e] = (totals[e] as number) + weight * n;
      }
    }
  }

  /** Eligible positions best first: a merge sort, so comparisons are inlined instead of called. */
  rankOrder(): Int32Array {
    const n = this.eligible;
    let from = new Int32Array(n);
    let to = new Int32Array(n);
    for (let e = 0; e < n; e++) from[e] = e;
    for (let width = 1; width < n; width *= 2) {
      for (let lo = 0; lo < n; lo += 2 * width) {
        const mid = Math.min(lo + width, n);
        const hi = Math.min(lo + 2 * width, n);
        let i = lo;
        let j = mid;
        let k = lo;
        while (i < mid && j < hi) {
          const x = from[i] as number;
          const y = from[j] as number;
          if (this.before(y, x)) {
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

  /** Location a ranks before b: lower total, then better raw values in criteria order, then id. */
  private before(a: number, b: number): boolean {
    const ta = this.totals[a] as number;
    const tb = this.totals[b] as number;
    if (ta !== tb) return ta < tb;
    return this.tieBefore(a, b);
  }

  private tieBefore(a: number, b: number): boolean {
    const { raw, eligible } = this;
    for (let c = 0; c < this.lowerIsBetter.length; c++) {
      const ra = raw[c * eligible + a] as number;
      const rb = raw[c * eligible + b] as number;
      if (ra === rb) continue;
      // A measured value beats an unknown one (NaN: no coordinates or no destination).
      if (Number.isNaN(ra)) {
        if (Number.isNaN(rb)) continue;
        return false;
      }
      if (Number.isNaN(rb)) return true;
      return ra < rb === (this.lowerIsBetter[c] === 1);
    }
    return (this.locs[a] as SourcingLocation).id < (this.locs[b] as SourcingLocation).id;
  }
}

/** What the split policies work on: who has what, what is taken, what is left. */
class PlanState {
  readonly skuCount: number;
  readonly avail: Float64Array;
  /** alloc[e * skuCount + s]: units of SKU s taken at eligible location e. */
  readonly alloc: Float64Array;
  /** Units of each SKU not yet placed. */
  readonly rem: Float64Array;
  /** Per eligible location: WHY_* when chosen, LOST_* when not. */
  readonly why: Uint8Array;
  readonly lost: Uint8Array;
  /** What a LOST_SHORT location fell short of: the whole need, or what was left after in-use locations. */
  readonly shortOf: Float64Array;
  shortOfWhole = true;

  constructor(skuCount: number, eligible: number, avail: Float64Array, needs: Float64Array) {
    this.skuCount = skuCount;
    this.avail = avail;
    this.alloc = new Float64Array(eligible * skuCount);
    this.rem = Float64Array.from(needs);
    this.why = new Uint8Array(eligible);
    this.lost = new Uint8Array(eligible);
    this.shortOf = Float64Array.from(needs);
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

  /** Location e has every unit of `of`. */
  covers(e: number, of: Float64Array): boolean {
    const row = e * this.skuCount;
    for (let s = 0; s < this.skuCount; s++) {
      if ((this.avail[row + s] as number) < (of[s] as number)) return false;
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
}

/** One location ships everything; answers why not ('' when it does). */
function planSingle(
  state: PlanState,
  order: Int32Array,
  isInUse: Uint8Array,
  inUseCount: number,
): string {
  if (inUseCount >= 2) {
    for (const e of order) state.lost[e] = LOST_SPLIT_IN_USE;
    return `the order already ships from ${inUseCount} locations`;
  }
  let chosen = -1;
  for (const e of order) {
    const qualifies = inUseCount === 0 || isInUse[e] === 1;
    if (!qualifies) state.lost[e] = LOST_NOT_IN_USE;
    else if (!state.covers(e, state.shortOf)) state.lost[e] = LOST_SHORT;
    else if (chosen < 0) chosen = e;
  }
  if (chosen >= 0) {
    state.take(chosen, isInUse[chosen] === 1 ? WHY_IN_USE : WHY_FIRST_COMPLETE);
    return '';
  }
  return inUseCount === 1
    ? 'the location already shipping it does not have the rest'
    : 'no location has all of it';
}

/** In-use locations plus up to `budget` new ones ship everything; answers why not ('' when they do). */
function planMaxShipments(
  state: PlanState,
  order: Int32Array,
  isInUse: Uint8Array,
  budget: number,
): string {
  const total = state.remaining();
  // Locations already shipping the order cost no extra shipment: they go first.
  for (const e of order) if (isInUse[e] === 1 && state.coverage(e) > 0) state.take(e, WHY_IN_USE);
  if (state.remaining() > 0 && budget >= 1) {
    state.shortOf.set(state.rem);
    state.shortOfWhole = state.remaining() === total;
    let cover = -1;
    for (const e of order) {
      if (isInUse[e] === 1) continue;
      if (state.covers(e, state.shortOf)) {
        cover = e;
        break;
      }
      state.lost[e] = LOST_SHORT;
    }
    if (cover >= 0) {
      state.take(cover, WHY_REST_COMPLETE);
    } else {
      state.lost.fill(LOST_RANK);
      // No one location has the rest: greedily add whichever covers most, until the budget is spent.
      while (budget > 0 && state.remaining() > 0) {
        let best = -1;
        let bestUnits = 0;
        for (const e of order) {
          if (isInUse[e] === 1 || state.why[e] !== WHY_NONE) continue;
          const units = state.coverage(e);
          if (units > bestUnits) {
            best = e;
            bestUnits = units;
          }
        }
        if (best < 0) break;
        state.take(best, WHY_MOST);
        budget--;
      }
    }
  }
  const left = state.remaining();
  if (left === 0) return '';
  state.lost.fill(LOST_NO_PLAN);
  return `the best plan found places ${total - left} of ${total} units`;
}

/** Takes what there is in rank order (in-use locations first), up to `budget` new locations. */
function planBackorder(
  state: PlanState,
  order: Int32Array,
  isInUse: Uint8Array,
  budget: number,
): void {
  for (const e of order) if (isInUse[e] === 1 && state.coverage(e) > 0) state.take(e, WHY_IN_USE);
  for (const e of order) {
    if (state.remaining() === 0) return;
    if (isInUse[e] === 1 || state.coverage(e) === 0) continue;
    if (budget > 0) {
      state.take(e, WHY_NONE);
      budget--;
    } else {
      state.lost[e] = LOST_LIMIT;
    }
  }
}

interface ReasonContext {
  readonly eligible: number;
  readonly skus: readonly string[];
  readonly state: PlanState;
  readonly failure: string;
  /** The one location a single-shipment plan must use, when the order already ships from it. */
  readonly inUseOnly: string;
  readonly inUseCount: number;
  readonly shipmentLimit: number | null;
}

function chosenReason(why: number, rank: number, total: string, of: number, units: number): string {
  let because = '';
  if (why === WHY_IN_USE) because = 'already ships part of this order; ';
  else if (rank > 1 && why === WHY_FIRST_COMPLETE)
    because = 'the best-ranked that can ship the order complete; ';
  else if (rank > 1 && why === WHY_REST_COMPLETE)
    because = 'the best-ranked that can ship the rest complete; ';
  else if (why === WHY_MOST) because = 'has the most of what is left; ';
  const standing =
    rank === 1
      ? `best score ${total} of ${of} ${of === 1 ? 'candidate' : 'candidates'}`
      : `score ${total} ranks ${ordinal(rank)} of ${of} candidates`;
  return `chosen: ${because}${standing}; ships ${units} ${units === 1 ? 'unit' : 'units'}`;
}

function lostReason(context: ReasonContext, e: number, rank: number, total: string): string {
  const { state } = context;
  switch (state.lost[e]) {
    case LOST_SHORT:
      return `lost: cannot ship the ${state.shortOfWhole ? 'order' : 'rest'} complete (${shortfall(context, e)})`;
    case LOST_NOT_IN_USE:
      return `lost: the order already ships from ${context.inUseOnly}, so a single shipment must come from there`;
    case LOST_SPLIT_IN_USE:
      return `lost: the order already ships from ${context.inUseCount} locations, so a single shipment is impossible`;
    case LOST_NO_PLAN:
      return `lost: no plan within ${context.shipmentLimit ?? 0} shipments ships the order complete; score ${total} ranks ${ordinal(rank)}`;
    case LOST_LIMIT:
      return `lost: shipment limit of ${context.shipmentLimit ?? 0} reached; score ${total} ranks ${ordinal(rank)}`;
    default:
      return `lost: score ${total} ranks ${ordinal(rank)}`;
  }
}

/** "has 1 of 3 SKU-B": the first SKU (in SKU order) the location is short of. */
function shortfall(context: ReasonContext, e: number): string {
  const { state, skus } = context;
  const row = e * state.skuCount;
  for (let s = 0; s < state.skuCount; s++) {
    const has = state.avail[row + s] as number;
    const wanted = state.shortOf[s] as number;
    if (has < wanted) return `has ${has} of ${wanted} ${skus[s] as string}`;
  }
  return 'has all of it';
}

function scoresOf(
  profile: SourcingProfile,
  scoring: Scoring,
  e: number,
  eligible: number,
): CriterionScore[] {
  const criteria = profile.criteria;
  const scores: CriterionScore[] = new Array<CriterionScore>(criteria.length);
  for (let c = 0; c < criteria.length; c++) {
    const { criterion, weight } = criteria[c] as CriterionWeight;
    const raw = scoring.raw[c * eligible + e] as number;
    const normalized = scoring.normalized[c * eligible + e] as number;
    scores[c] = {
      criterion,
      weight,
      raw: Number.isNaN(raw) ? null : raw,
      normalized: round4(normalized),
      weighted: round4(weight * normalized),
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
  if (seen.has(loc.id)) throw new Error(`sourcing: location ${loc.id} is a candidate twice`);
  seen.add(loc.id);
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

function bySkippedLocation(a: Skipped, b: Skipped): number {
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

function ordinal(n: number): string {
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
