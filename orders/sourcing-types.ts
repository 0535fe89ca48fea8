/** The sourcing planner's request, plan and explanation: the shapes sourcing.ts names. */

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
