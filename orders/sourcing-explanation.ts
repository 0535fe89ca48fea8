/**
 * The explanation a plan carries: for each candidate, its scores and one sentence a support agent
 * can read on why it was chosen, lost or skipped, and a summary of the plan. The planner
 * (sourcing.ts) decides; this only puts its decisions into words.
 */
import type {
  CandidateExplanation,
  CriterionScore,
  CriterionWeight,
  PlannedAllocation,
  SourcingExplanation,
  SourcingLocation,
  SourcingProfile,
  SourcingRequest,
  SplitPolicy,
} from './sourcing-types.ts';
import {
  LOST_LIMIT,
  LOST_NO_PLAN,
  LOST_NOT_IN_USE,
  LOST_SHORT,
  LOST_SPLIT_IN_USE,
  WHY_FIRST_COMPLETE,
  WHY_IN_USE,
  WHY_MOST,
  WHY_REST_COMPLETE,
  type Workspace,
} from './sourcing-workspace.ts';

/** What the planner decided, for the explanation to spell out. */
export interface PlanOutcome {
  readonly request: SourcingRequest;
  /** The SKUs with a need, in SKU order. */
  readonly skus: readonly string[];
  /** Eligible locations (rows of the workspace) and their rank order. */
  readonly locs: readonly SourcingLocation[];
  readonly order: Int32Array;
  /** Ineligible candidates, by id, already explained. */
  readonly skipped: readonly CandidateExplanation[];
  /** request.inUse as a set. */
  readonly inUse: ReadonlySet<string>;
  /** Why the split policy could not be met ('' when it was). */
  readonly failure: string;
  readonly allocations: readonly PlannedAllocation[];
  readonly unplaced: ReadonlyMap<string, number>;
}

/** Explains the plan in `w` (see SourcingRequest.explain for how many candidates it names). */
export function explainPlan(w: Workspace, outcome: PlanOutcome): SourcingExplanation {
  const { request, skus, locs, order, skipped, inUse, failure, allocations, unplaced } = outcome;
  const { profile } = request;
  const split = profile.split;
  const eligible = w.eligible;
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

  return {
    profile: profile.name,
    policy: policyName(split),
    candidates: explained,
    omitted,
    summary: summarize(split, failure, allocations, unplaced, skus.length),
  };
}

export function skippedAs(location: string, reason: string): CandidateExplanation {
  return { location, rank: null, total: null, scores: [], outcome: 'skipped', reason, units: 0 };
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

/** Code-unit order: the same everywhere, unlike localeCompare. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function byLocation(a: CandidateExplanation, b: CandidateExplanation): number {
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
export function formatKm(km: number, limit: number): string {
  const whole = Math.round(km);
  return whole > limit ? String(whole) : km.toFixed(2);
}
