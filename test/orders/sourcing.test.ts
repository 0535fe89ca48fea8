import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  distanceKm,
  planSourcing,
  type Criterion,
  type CriterionWeight,
  type SourcingLocation,
  type SourcingPlan,
  type SourcingProfile,
  type SourcingRequest,
  type SplitPolicy,
} from '../../orders/sourcing.ts';

// Real places, so distances in the tables can be checked on a map: from Sheffield, Doncaster is
// 28 km, Leeds 47 km and York 69 km away; from Manchester, Leeds 58, Doncaster 74 and York 93.
const PLACES = {
  leeds: { lat: 53.7984, lon: -1.5424 },
  york: { lat: 53.9594, lon: -1.0845 },
  doncaster: { lat: 53.5228, lon: -1.1285 },
  sheffield: { lat: 53.3811, lon: -1.4701 },
  manchester: { lat: 53.4808, lon: -2.2426 },
} as const;
type Place = keyof typeof PLACES;

/** A location in a table row: only what the row is about, the rest neutral. */
interface Loc {
  readonly id: string;
  readonly type?: string;
  /** Where it is; null: no coordinates. Defaults to Leeds. */
  readonly at?: Place | null;
  readonly priority?: number;
  readonly cost?: number;
  /** [open fulfilments, daily capacity]. */
  readonly load?: readonly [number, number | null];
  readonly stock: Readonly<Record<string, number>>;
}

function location(l: Loc): SourcingLocation {
  const at = l.at === undefined ? PLACES.leeds : l.at === null ? null : PLACES[l.at];
  return {
    id: l.id,
    type: l.type ?? 'store',
    lat: at?.lat ?? null,
    lon: at?.lon ?? null,
    priority: l.priority ?? 0,
    shippingCost: l.cost ?? 0,
    dailyCapacity: l.load?.[1] ?? null,
    openFulfilments: l.load?.[0] ?? 0,
    available: new Map(Object.entries(l.stock)),
  };
}

function weights(spec: Partial<Record<Criterion, number>>): CriterionWeight[] {
  return Object.entries(spec).map(([criterion, weight]) => ({
    criterion: criterion as Criterion,
    weight,
  }));
}

function profile(
  criteria: Partial<Record<Criterion, number>>,
  extra: Partial<SourcingProfile> = {},
): SourcingProfile {
  return {
    name: 'test',
    criteria: weights(criteria),
    typePreference: [],
    capacity: 'penalise',
    split: { policy: 'maxShipments', max: 2 },
    maxDistanceKm: null,
    ...extra,
  };
}

interface Scenario {
  readonly name: string;
  readonly locations: readonly Loc[];
  readonly profile: SourcingProfile;
  readonly need: Readonly<Record<string, number>>;
  /** Defaults to Sheffield. */
  readonly to?: Place | null;
  readonly excluded?: Readonly<Record<string, string>>;
  readonly inUse?: readonly string[];
  readonly allocations: readonly (readonly [string, string, number])[];
  readonly unplaced?: Readonly<Record<string, number>>;
  /** Outcome and reason fragments of named candidates (the winner at least). */
  readonly explains: Readonly<
    Record<string, readonly ['chosen' | 'lost' | 'skipped', ...(string | RegExp)[]]>
  >;
  readonly summary?: string | RegExp;
}

function request(s: Scenario): SourcingRequest {
  const to = s.to === undefined ? PLACES.sheffield : s.to === null ? null : PLACES[s.to];
  return {
    need: new Map(Object.entries(s.need)),
    destination: to,
    candidates: s.locations.map(location),
    excluded: new Map(Object.entries(s.excluded ?? {})),
    inUse: s.inUse ?? [],
    profile: s.profile,
  };
}

const ALL_STOCK = { A: 5, B: 5 };
const NEED = { A: 1, B: 1 };

// One location per place, all with everything: only the criterion under test tells them apart.
const trio = (extra: Partial<Record<Place, Partial<Loc>>> = {}): Loc[] =>
  (['doncaster', 'leeds', 'york'] as const).map((at) => ({
    id: at,
    at,
    stock: ALL_STOCK,
    ...extra[at],
  }));

const scenarios: Scenario[] = [
  // Each criterion alone decides.
  {
    name: 'distance: the nearest wins',
    locations: trio(),
    profile: profile({ distance: 1 }),
    need: NEED,
    allocations: [
      ['doncaster', 'A', 1],
      ['doncaster', 'B', 1],
    ],
    explains: {
      doncaster: ['chosen', 'best score 0 of 3 candidates', 'ships 2 units'],
      leeds: ['lost', 'score 0.459 ranks 2nd'],
      york: ['lost', 'score 1 ranks 3rd'],
    },
    summary: '1 shipment: doncaster (2 units)',
  },
  {
    name: 'priority: the highest wins over the nearest',
    locations: trio({ york: { priority: 5 }, leeds: { priority: 1 } }),
    profile: profile({ priority: 1 }),
    need: NEED,
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    explains: { york: ['chosen', 'best score 0'], leeds: ['lost', 'score 0.8 ranks 2nd'] },
  },
  {
    name: 'locationType: DC before store',
    locations: trio({ york: { type: 'dc' }, leeds: { type: 'dropship' } }),
    profile: profile({ locationType: 1 }, { typePreference: ['dc', 'store'] }),
    need: NEED,
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    // dropship is unlisted: after every listed type.
    explains: {
      york: ['chosen', 'best score 0'],
      doncaster: ['lost', 'score 0.5 ranks 2nd'],
      leeds: ['lost', 'score 1 ranks 3rd'],
    },
  },
  {
    name: 'locationType: store before DC',
    locations: trio({ york: { type: 'dc' }, doncaster: { type: 'dc' } }),
    profile: profile({ locationType: 1 }, { typePreference: ['store', 'dc'] }),
    need: NEED,
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    explains: { leeds: ['chosen', 'best score 0'], doncaster: ['lost', 'score 1 ranks 2nd'] },
  },
  {
    name: 'stockDepth: the one left with the most wins',
    locations: trio({ leeds: { stock: { A: 9, B: 4 } }, york: { stock: { A: 1, B: 1 } } }),
    profile: profile({ stockDepth: 1 }),
    need: NEED,
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    // 11 left at leeds, 8 at doncaster, 0 at york.
    explains: { leeds: ['chosen'], doncaster: ['lost', 'score 0.2727 ranks 2nd'] },
  },
  {
    name: 'shippingCost: the cheapest wins',
    locations: trio({ doncaster: { cost: 900 }, leeds: { cost: 700 }, york: { cost: 450 } }),
    profile: profile({ shippingCost: 1 }),
    need: NEED,
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    explains: { york: ['chosen'], leeds: ['lost', 'score 0.5556 ranks 2nd'] },
  },
  {
    name: 'capacity, penalised: the least loaded wins; a full one stays eligible at its load',
    locations: trio({ doncaster: { load: [40, 40] }, leeds: { load: [5, 10] } }),
    profile: profile({ capacity: 1 }),
    need: NEED,
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    explains: {
      york: ['chosen', 'best score 0 of 3'],
      leeds: ['lost', 'score 0.5 ranks 2nd'],
      doncaster: ['lost', 'score 1 ranks 3rd'],
    },
  },
  {
    name: 'capacity, penalised: over capacity scores above 1',
    locations: trio({
      doncaster: { load: [60, 40] },
      leeds: { load: [30, 40] },
      york: { load: [36, 40] },
    }),
    profile: profile({ capacity: 1 }),
    need: NEED,
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    explains: {
      leeds: ['chosen', 'best score 0.75'],
      doncaster: ['lost', 'score 1.5 ranks 3rd'],
    },
  },

  // Capacity, distance limit and exclusion skip a location, and say so.
  {
    name: 'capacity, skipped: a full location is not considered',
    locations: trio({ doncaster: { load: [40, 40] } }),
    profile: profile({ distance: 1, capacity: 0.1 }, { capacity: 'skip' }),
    need: NEED,
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    explains: {
      leeds: ['chosen', 'best score 0 of 2 candidates'],
      doncaster: ['skipped', 'skipped: at capacity (40 of 40 open)'],
    },
  },
  {
    name: 'capacity, penalised: the same full location still wins on distance',
    locations: trio({ doncaster: { load: [40, 40] } }),
    profile: profile({ distance: 1, capacity: 0.1 }),
    need: NEED,
    allocations: [
      ['doncaster', 'A', 1],
      ['doncaster', 'B', 1],
    ],
    explains: { doncaster: ['chosen', 'best score 0.1 of 3'] },
  },
  {
    name: 'capacity exhausted everywhere: nothing can ship',
    locations: trio({
      doncaster: { load: [40, 40] },
      leeds: { load: [9, 8] },
      york: { load: [1, 1] },
    }),
    profile: profile({ distance: 1 }, { capacity: 'skip', split: { policy: 'single' } }),
    need: NEED,
    allocations: [],
    unplaced: NEED,
    explains: {
      doncaster: ['skipped', 'at capacity (40 of 40 open)'],
      leeds: ['skipped', 'at capacity (9 of 8 open)'],
      york: ['skipped', 'at capacity (1 of 1 open)'],
    },
    summary: 'cannot ship complete from one location: no location has all of it',
  },
  {
    name: 'maxDistanceKm: a location too far away is skipped',
    locations: trio({ leeds: { priority: 9 }, york: { priority: 9 } }),
    profile: profile({ priority: 1, distance: 0.1 }, { maxDistanceKm: 60 }),
    need: NEED,
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    explains: {
      leeds: ['chosen', 'best score 0.1 of 2 candidates'],
      doncaster: ['lost', 'score 1 ranks 2nd'],
      york: ['skipped', 'skipped: 69 km away, beyond 60 km'],
    },
  },
  {
    name: 'exclusion: a location that rejected the order is skipped',
    locations: trio(),
    profile: profile({ distance: 1 }),
    need: NEED,
    excluded: { doncaster: 'rejected fulfilment F-1' },
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    explains: {
      leeds: ['chosen', 'best score 0 of 2 candidates'],
      doncaster: ['skipped', 'skipped: excluded (rejected fulfilment F-1)'],
    },
  },
  {
    name: 'no stock of anything needed: skipped',
    locations: trio({ doncaster: { stock: { A: 0, C: 4 } } }),
    profile: profile({ distance: 1 }),
    need: NEED,
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 1],
    ],
    explains: { doncaster: ['skipped', 'skipped: no stock of any needed SKU'] },
  },

  // Split policies.
  {
    name: 'single: the best location that has all of it, over a nearer one that has not',
    locations: trio({ doncaster: { stock: { A: 5, B: 1 } } }),
    profile: profile({ distance: 1 }, { split: { policy: 'single' } }),
    need: { A: 1, B: 3 },
    allocations: [
      ['leeds', 'A', 1],
      ['leeds', 'B', 3],
    ],
    explains: {
      leeds: ['chosen', 'the best-ranked that can ship the order complete', 'ranks 2nd of 3'],
      doncaster: ['lost', 'lost: cannot ship the order complete (has 1 of 3 B)'],
      york: ['lost', 'score 1 ranks 3rd'],
    },
    summary: '1 shipment: leeds (4 units)',
  },
  {
    name: 'single: nobody has all of it',
    locations: trio({
      doncaster: { stock: { A: 5 } },
      leeds: { stock: { B: 5 } },
      york: { stock: { A: 1, B: 1 } },
    }),
    profile: profile({ distance: 1 }, { split: { policy: 'single' } }),
    need: { A: 2, B: 2 },
    allocations: [],
    unplaced: { A: 2, B: 2 },
    explains: {
      doncaster: ['lost', 'cannot ship the order complete (has 0 of 2 B)'],
      leeds: ['lost', 'cannot ship the order complete (has 0 of 2 A)'],
      york: ['lost', 'cannot ship the order complete (has 1 of 2 A)'],
    },
    summary: 'cannot ship complete from one location: no location has all of it',
  },
  {
    name: 'maxShipments(2): two locations together',
    locations: trio({
      doncaster: { stock: { A: 5 } },
      leeds: { stock: { B: 1 } },
      york: { stock: { B: 5 } },
    }),
    profile: profile({ distance: 1 }),
    need: { A: 2, B: 2 },
    allocations: [
      ['doncaster', 'A', 2],
      ['york', 'B', 2],
    ],
    explains: {
      doncaster: ['chosen', 'has the most of what is left', 'ships 2 units'],
      york: ['chosen', 'has the most of what is left', 'ranks 3rd of 3'],
      leeds: ['lost', 'score 0.459 ranks 2nd'],
    },
    summary: '2 shipments: doncaster (2 units), york (2 units)',
  },
  {
    name: 'maxShipments(2): one location that has it all beats splitting',
    locations: trio({ doncaster: { stock: { A: 5 } } }),
    profile: profile({ distance: 1 }),
    need: { A: 2, B: 2 },
    allocations: [
      ['leeds', 'A', 2],
      ['leeds', 'B', 2],
    ],
    explains: {
      leeds: ['chosen', 'the best-ranked that can ship the order complete', 'ranks 2nd'],
      doncaster: ['lost', 'cannot ship the order complete (has 0 of 2 B)'],
    },
  },
  {
    name: 'maxShipments(2): an order that needs three locations fails whole',
    locations: trio({
      doncaster: { stock: { A: 5 } },
      leeds: { stock: { B: 5 } },
      york: { stock: { C: 5 } },
    }),
    profile: profile({ distance: 1 }),
    need: { A: 1, B: 1, C: 1 },
    allocations: [],
    unplaced: { A: 1, B: 1, C: 1 },
    explains: {
      doncaster: ['lost', 'no plan within 2 shipments ships the order complete', 'ranks 1st'],
      york: ['lost', 'no plan within 2 shipments'],
    },
    summary: 'cannot ship complete within 2 shipments: the best plan found places 2 of 3 units',
  },
  {
    name: 'maxShipments(3): the same order in three shipments',
    locations: trio({
      doncaster: { stock: { A: 5 } },
      leeds: { stock: { B: 5 } },
      york: { stock: { C: 5 } },
    }),
    profile: profile({ distance: 1 }, { split: { policy: 'maxShipments', max: 3 } }),
    need: { A: 1, B: 1, C: 1 },
    allocations: [
      ['doncaster', 'A', 1],
      ['leeds', 'B', 1],
      ['york', 'C', 1],
    ],
    explains: { york: ['chosen', 'ships 1 unit'] },
    summary: '3 shipments: doncaster (1 unit), leeds (1 unit), york (1 unit)',
  },
  {
    name: 'backorder: ships what there is, the rest waits',
    locations: trio({
      doncaster: { stock: { A: 1 } },
      leeds: { stock: { A: 1, B: 2 } },
      york: { stock: {} },
    }),
    profile: profile({ distance: 1 }, { split: { policy: 'backorder', maxShipments: null } }),
    need: { A: 3, B: 3 },
    allocations: [
      ['doncaster', 'A', 1],
      ['leeds', 'A', 1],
      ['leeds', 'B', 2],
    ],
    unplaced: { A: 1, B: 1 },
    explains: {
      doncaster: ['chosen', 'best score 0 of 2', 'ships 1 unit'],
      leeds: ['chosen', 'ranks 2nd of 2', 'ships 3 units'],
      york: ['skipped', 'no stock of any needed SKU'],
    },
    summary: '2 shipments: doncaster (1 unit), leeds (3 units); backorder 2 units (A 1, B 1)',
  },
  {
    name: 'backorder(1): one shipment at most',
    locations: trio({ doncaster: { stock: { A: 1 } }, leeds: { stock: { A: 1, B: 2 } } }),
    profile: profile({ distance: 1 }, { split: { policy: 'backorder', maxShipments: 1 } }),
    need: { A: 9, B: 9 },
    allocations: [['doncaster', 'A', 1]],
    unplaced: { A: 8, B: 9 },
    explains: {
      doncaster: ['chosen'],
      leeds: ['lost', 'shipment limit of 1 reached', 'ranks 2nd'],
    },
  },

  // Locations already shipping part of the order.
  {
    name: 'inUse, maxShipments(2): the in-use location first, then one more',
    locations: trio({ york: { stock: { A: 1 } } }),
    profile: profile({ distance: 1 }),
    need: { A: 2, B: 1 },
    inUse: ['york'],
    allocations: [
      ['doncaster', 'A', 1],
      ['doncaster', 'B', 1],
      ['york', 'A', 1],
    ],
    explains: {
      york: ['chosen', 'already ships part of this order', 'ranks 3rd of 3', 'ships 1 unit'],
      doncaster: ['chosen', 'best score 0'],
      leeds: ['lost', 'ranks 2nd'],
    },
  },
  {
    name: 'inUse, maxShipments(2): two in use leaves no room for a third',
    locations: trio({ york: { stock: { A: 1 } }, leeds: { stock: { B: 1 } } }),
    profile: profile({ distance: 1 }),
    need: { A: 2, B: 1 },
    inUse: ['york', 'leeds'],
    allocations: [],
    unplaced: { A: 2, B: 1 },
    explains: { doncaster: ['lost', 'no plan within 2 shipments'] },
  },
  {
    name: 'inUse, single: only the location already shipping may ship the rest',
    locations: trio(),
    profile: profile({ distance: 1 }, { split: { policy: 'single' } }),
    need: NEED,
    inUse: ['york'],
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    explains: {
      york: ['chosen', 'already ships part of this order'],
      doncaster: [
        'lost',
        'the order already ships from york, so a single shipment must come from there',
      ],
    },
  },
  {
    name: 'inUse, single: two locations in use already',
    locations: trio(),
    profile: profile({ distance: 1 }, { split: { policy: 'single' } }),
    need: NEED,
    inUse: ['york', 'leeds'],
    allocations: [],
    unplaced: NEED,
    explains: { york: ['lost', 'already ships from 2 locations'] },
    summary: 'cannot ship complete from one location: the order already ships from 2 locations',
  },
  {
    name: 'inUse, backorder: the in-use location first even when ranked last',
    locations: trio({ york: { stock: { A: 1 } } }),
    profile: profile({ distance: 1 }, { split: { policy: 'backorder', maxShipments: 1 } }),
    need: { A: 2 },
    inUse: ['york'],
    allocations: [['york', 'A', 1]],
    unplaced: { A: 1 },
    explains: {
      york: ['chosen', 'already ships part of this order'],
      doncaster: ['lost', 'shipment limit of 1 reached'],
    },
  },

  // Weights, ties, and a missing destination.
  {
    name: 'weights decide when criteria disagree: distance heavier',
    locations: trio({ york: { priority: 1 } }),
    profile: profile({ distance: 2, priority: 1 }),
    need: NEED,
    allocations: [
      ['doncaster', 'A', 1],
      ['doncaster', 'B', 1],
    ],
    explains: { doncaster: ['chosen', 'best score 1 of 3'], york: ['lost', 'score 2 ranks 3rd'] },
  },
  {
    name: 'weights decide when criteria disagree: priority heavier',
    locations: trio({ york: { priority: 1 } }),
    profile: profile({ distance: 1, priority: 2 }),
    need: NEED,
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    explains: { york: ['chosen', 'best score 1 of 3'], doncaster: ['lost', 'score 2 ranks 2nd'] },
  },
  {
    name: 'an exact tie goes to the better raw value of the first criterion (priority)',
    locations: [
      { id: 'far', at: 'york', priority: 2, stock: ALL_STOCK },
      { id: 'near', at: 'doncaster', priority: 1, stock: ALL_STOCK },
    ],
    profile: profile({ priority: 1, distance: 1 }),
    need: NEED,
    allocations: [
      ['far', 'A', 1],
      ['far', 'B', 1],
    ],
    explains: { far: ['chosen', 'best score 1 of 2'], near: ['lost', 'score 1 ranks 2nd'] },
  },
  {
    name: 'the same tie, criteria listed the other way round (distance first)',
    locations: [
      { id: 'far', at: 'york', priority: 2, stock: ALL_STOCK },
      { id: 'near', at: 'doncaster', priority: 1, stock: ALL_STOCK },
    ],
    profile: profile({ distance: 1, priority: 1 }),
    need: NEED,
    allocations: [
      ['near', 'A', 1],
      ['near', 'B', 1],
    ],
    explains: { near: ['chosen', 'best score 1 of 2'], far: ['lost', 'score 1 ranks 2nd'] },
  },
  {
    name: 'identical locations: the smaller id wins',
    locations: [
      { id: 'store-b', at: 'leeds', stock: ALL_STOCK },
      { id: 'store-a', at: 'leeds', stock: ALL_STOCK },
    ],
    profile: profile({ distance: 1, priority: 1 }),
    need: NEED,
    allocations: [
      ['store-a', 'A', 1],
      ['store-a', 'B', 1],
    ],
    explains: { 'store-a': ['chosen'], 'store-b': ['lost', 'score 0 ranks 2nd'] },
  },
  {
    name: 'no destination: distance is neutral, priority decides',
    locations: trio({ york: { priority: 3 } }),
    profile: profile({ distance: 5, priority: 1 }),
    need: NEED,
    to: null,
    allocations: [
      ['york', 'A', 1],
      ['york', 'B', 1],
    ],
    explains: { york: ['chosen', 'best score 0 of 3'], doncaster: ['lost', 'score 1 ranks 2nd'] },
  },
  {
    name: 'a location without coordinates counts as farthest when there is a destination',
    locations: [
      { id: 'dropship', at: null, stock: ALL_STOCK },
      { id: 'doncaster', at: 'doncaster', stock: ALL_STOCK },
      { id: 'york', at: 'york', stock: ALL_STOCK },
    ],
    profile: profile({ distance: 1 }),
    need: NEED,
    allocations: [
      ['doncaster', 'A', 1],
      ['doncaster', 'B', 1],
    ],
    explains: { doncaster: ['chosen'], dropship: ['lost', 'score 1 ranks 3rd'] },
  },
];

function allocationsOf(plan: SourcingPlan): [string, string, number][] {
  return plan.allocations.map((a) => [a.location, a.sku, a.qty]);
}

describe('planSourcing', () => {
  it.each(scenarios)('$name', (s) => {
    const plan = planSourcing(request(s));
    expect(allocationsOf(plan)).toEqual(s.allocations);
    const unplaced = s.unplaced ?? {};
    expect(Object.fromEntries(plan.unplaced)).toEqual(unplaced);
    expect(plan.complete).toBe(Object.keys(unplaced).length === 0);
    const explained = new Map(plan.explanation.candidates.map((c) => [c.location, c]));
    for (const [id, [outcome, ...fragments]] of Object.entries(s.explains)) {
      const c = explained.get(id);
      expect(c?.outcome, id).toBe(outcome);
      expect(c?.reason.startsWith(`${outcome}: `), c?.reason).toBe(true);
      for (const fragment of fragments) expect(c?.reason, id).toMatch(fragment);
    }
    if (s.summary !== undefined) expect(plan.explanation.summary).toMatch(s.summary);
    // Every candidate is explained, eligible ones by rank, then skipped ones by id.
    const ids = plan.explanation.candidates.map((c) => c.location);
    expect([...ids].sort()).toEqual(s.locations.map((l) => l.id).sort());
    const ranked = plan.explanation.candidates.filter((c) => c.rank !== null);
    expect(ranked.map((c) => c.rank)).toEqual(ranked.map((_, i) => i + 1));
    const skipped = plan.explanation.candidates.slice(ranked.length);
    expect(skipped.every((c) => c.outcome === 'skipped' && c.rank === null)).toBe(true);
    expect(skipped.map((c) => c.location)).toEqual(skipped.map((c) => c.location).sort());
  });

  it('gives the plan of the worked example in docs/sourcing.md', () => {
    const at = (p: Place, open: number, daily: number) => ({
      lat: PLACES[p].lat,
      lon: PLACES[p].lon,
      openFulfilments: open,
      dailyCapacity: daily,
    });
    const candidates: SourcingLocation[] = [
      {
        id: 'dc-doncaster',
        type: 'dc',
        priority: 10,
        stock: { 'TENT-2P-GRN': 40 },
        ...at('doncaster', 1000, 5000),
      },
      {
        id: 'store-leeds',
        type: 'store',
        priority: 1,
        stock: { 'TENT-2P-GRN': 2 },
        ...at('leeds', 120, 300),
      },
      {
        id: 'store-york',
        type: 'store',
        priority: 1,
        stock: { 'STOVE-GAS-1B': 6 },
        ...at('york', 300, 300),
      },
      {
        id: 'dropship-acme',
        type: 'dropship',
        priority: 1,
        stock: { 'TENT-2P-GRN': 8, 'STOVE-GAS-1B': 9 },
        lat: null,
        lon: null,
        openFulfilments: 30,
        dailyCapacity: 300,
      },
    ].map(({ stock, ...l }) => ({
      ...l,
      shippingCost: 0,
      available: new Map(Object.entries(stock)),
    }));
    const standard = profile(
      { distance: 1, priority: 0.5, stockDepth: 0.25, capacity: 0.5 },
      { name: 'standard', typePreference: ['dc', 'store'] },
    );
    const r: SourcingRequest = {
      need: new Map([
        ['TENT-2P-GRN', 1],
        ['STOVE-GAS-1B', 2],
      ]),
      destination: PLACES.sheffield,
      candidates,
      excluded: new Map([['dropship-acme', 'rejected fulfilment W-1001-F1']]),
      inUse: [],
      profile: standard,
    };
    const plan = planSourcing(r);
    expect(allocationsOf(plan)).toEqual([
      ['dc-doncaster', 'TENT-2P-GRN', 1],
      ['store-york', 'STOVE-GAS-1B', 2],
    ]);
    expect(plan.complete).toBe(true);
    expect(plan.explanation.summary).toBe(
      '2 shipments: dc-doncaster (1 unit), store-york (2 units)',
    );
    expect(
      plan.explanation.candidates.map((c) => [c.location, c.rank, c.total, c.outcome, c.reason]),
    ).toEqual([
      [
        'dc-doncaster',
        1,
        0.1,
        'chosen',
        'chosen: has the most of what is left; best score 0.1 of 3 candidates; ships 1 unit',
      ],
      ['store-leeds', 2, 1.409, 'lost', 'lost: score 1.409 ranks 2nd'],
      [
        'store-york',
        3,
        2.2303,
        'chosen',
        'chosen: has the most of what is left; score 2.2303 ranks 3rd of 3 candidates; ships 2 units',
      ],
      ['dropship-acme', null, null, 'skipped', 'skipped: excluded (rejected fulfilment W-1001-F1)'],
    ]);
    const single = planSourcing({ ...r, profile: { ...standard, split: { policy: 'single' } } });
    expect(single.allocations).toEqual([]);
    expect(single.explanation.candidates[0]?.reason).toBe(
      'lost: cannot ship the order complete (has 0 of 2 STOVE-GAS-1B)',
    );
    const backorder = planSourcing({
      ...r,
      profile: { ...standard, split: { policy: 'backorder', maxShipments: null } },
    });
    expect(backorder.allocations).toEqual(plan.allocations);
  });

  it('explains each score: raw value, normalized, weighted, and the total', () => {
    const plan = planSourcing(
      request({
        name: '',
        locations: trio({ york: { priority: 4, load: [10, 20] } }),
        profile: profile({ distance: 1, priority: 0.5, capacity: 2 }),
        need: NEED,
        allocations: [],
        explains: {},
      }),
    );
    const [first, second, third] = plan.explanation.candidates;
    expect(first?.location).toBe('doncaster');
    expect(first?.scores[0]?.raw).toBeCloseTo(27.6, 1);
    expect(first?.scores).toEqual([
      { criterion: 'distance', weight: 1, raw: first?.scores[0]?.raw, normalized: 0, weighted: 0 },
      { criterion: 'priority', weight: 0.5, raw: 0, normalized: 1, weighted: 0.5 },
      { criterion: 'capacity', weight: 2, raw: 0, normalized: 0, weighted: 0 },
    ]);
    expect(first?.total).toBe(0.5);
    expect(second?.location).toBe('leeds');
    expect(second?.total).toBe(0.959);
    // Capacity penalised is the load itself: half full weighs 0.5 × 2.
    expect(third?.location).toBe('york');
    expect(third?.scores[2]).toEqual({
      criterion: 'capacity',
      weight: 2,
      raw: 0.5,
      normalized: 0.5,
      weighted: 1,
    });
    expect(third?.total).toBe(2);
    expect(plan.explanation.profile).toBe('test');
    expect(plan.explanation.policy).toBe('maxShipments(2)');
  });

  it('names the policy and explains skipped candidates without scores', () => {
    const plan = planSourcing({
      ...request(scenarios.find((s) => s.name.startsWith('exclusion'))!),
      profile: profile({ distance: 1 }, { split: { policy: 'backorder', maxShipments: 2 } }),
    });
    expect(plan.explanation.policy).toBe('backorder(2)');
    const skipped = plan.explanation.candidates.at(-1);
    expect(skipped).toEqual({
      location: 'doncaster',
      rank: null,
      total: null,
      scores: [],
      outcome: 'skipped',
      reason: 'skipped: excluded (rejected fulfilment F-1)',
      units: 0,
    });
  });

  it('has nothing to do for an empty need', () => {
    const plan = planSourcing({ ...request(scenarios[0]!), need: new Map([['A', 0]]) });
    expect(plan.allocations).toEqual([]);
    expect(plan.complete).toBe(true);
    expect(plan.explanation.summary).toBe('nothing to source');
  });

  it('refuses requests that can only be a caller bug', () => {
    const base = request(scenarios[0]!);
    const bad: [string, SourcingRequest][] = [
      ['negative need', { ...base, need: new Map([['A', -1]]) }],
      ['fractional need', { ...base, need: new Map([['A', 1.5]]) }],
      ['duplicate candidate', { ...base, candidates: [...base.candidates, base.candidates[0]!] }],
      [
        'negative availability',
        {
          ...base,
          candidates: [{ ...base.candidates[0]!, available: new Map([['A', -2]]) }],
        },
      ],
      ['zero weight', { ...base, profile: profile({ distance: 0 }) }],
      [
        'criterion twice',
        {
          ...base,
          profile: {
            ...base.profile,
            criteria: [
              { criterion: 'distance', weight: 1 },
              { criterion: 'distance', weight: 2 },
            ],
          },
        },
      ],
      [
        'no shipments allowed',
        {
          ...base,
          profile: profile({ distance: 1 }, { split: { policy: 'maxShipments', max: 0 } }),
        },
      ],
      ['half a coordinate', { ...base, candidates: [{ ...base.candidates[0]!, lon: null }] }],
    ];
    for (const [what, r] of bad) expect(() => planSourcing(r), what).toThrow(Error);
  });

  it('measures great-circle distance', () => {
    expect(distanceKm(PLACES.sheffield, PLACES.sheffield)).toBe(0);
    expect(distanceKm(PLACES.sheffield, PLACES.doncaster)).toBeCloseTo(27.6, 1);
    expect(distanceKm(PLACES.doncaster, PLACES.sheffield)).toBe(
      distanceKm(PLACES.sheffield, PLACES.doncaster),
    );
    // Half the circumference, where rounding must not turn asin into NaN.
    expect(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(
      Math.PI * 6371.0088,
      6,
    );
  });
});

// Properties over random requests.

const SKUS = ['A', 'B', 'C'] as const;
const IDS = ['dc-1', 'dc-2', 'st-1', 'st-2', 'st-3', 'st-4', 'ds-1', 'ds-2'] as const;
const TYPES = ['dc', 'store', 'dropship'] as const;
const CRITERIA: readonly Criterion[] = [
  'distance',
  'priority',
  'locationType',
  'stockDepth',
  'shippingCost',
  'capacity',
];

const coordinate = fc.record({
  lat: fc.double({ min: 50, max: 58, noNaN: true }),
  lon: fc.double({ min: -6, max: 2, noNaN: true }),
});

const locationArb = (id: string): fc.Arbitrary<SourcingLocation> =>
  fc
    .record({
      type: fc.constantFrom(...TYPES),
      at: fc.option(coordinate, { nil: null }),
      // Few distinct values, so ties happen.
      priority: fc.integer({ min: 0, max: 2 }),
      shippingCost: fc.constantFrom(0, 300, 500),
      dailyCapacity: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
      openFulfilments: fc.integer({ min: 0, max: 3 }),
      stock: fc.tuple(...SKUS.map(() => fc.integer({ min: 0, max: 4 }))),
    })
    .map((l) => ({
      id,
      type: l.type,
      lat: l.at?.lat ?? null,
      lon: l.at?.lon ?? null,
      priority: l.priority,
      shippingCost: l.shippingCost,
      dailyCapacity: l.dailyCapacity,
      openFulfilments: l.openFulfilments,
      available: new Map(SKUS.map((sku, i) => [sku, l.stock[i] ?? 0])),
    }));

const splitArb: fc.Arbitrary<SplitPolicy> = fc.oneof(
  fc.constant({ policy: 'single' as const }),
  fc.integer({ min: 1, max: 4 }).map((max) => ({ policy: 'maxShipments' as const, max })),
  fc
    .option(fc.integer({ min: 1, max: 4 }), { nil: null })
    .map((maxShipments) => ({ policy: 'backorder' as const, maxShipments })),
);

const profileArb: fc.Arbitrary<SourcingProfile> = fc.record({
  name: fc.constant('random'),
  criteria: fc.uniqueArray(
    fc.record({
      criterion: fc.constantFrom(...CRITERIA),
      weight: fc.constantFrom(0.25, 0.5, 1, 2),
    }),
    { minLength: 1, maxLength: 6, selector: (c) => c.criterion },
  ),
  typePreference: fc.shuffledSubarray([...TYPES]),
  capacity: fc.constantFrom('skip' as const, 'penalise' as const),
  split: splitArb,
  maxDistanceKm: fc.option(fc.constantFrom(100, 300, 600), { nil: null }),
});

const requestArb: fc.Arbitrary<SourcingRequest> = fc
  .shuffledSubarray([...IDS], { minLength: 1 })
  .chain((ids) =>
    fc.record({
      need: fc
        .tuple(...SKUS.map(() => fc.integer({ min: 0, max: 4 })))
        .map((qty) => new Map(SKUS.map((sku, i) => [sku, qty[i] ?? 0]))),
      destination: fc.option(coordinate, { nil: null }),
      candidates: fc.tuple(...ids.map(locationArb)),
      excluded: fc
        .subarray(ids, { maxLength: Math.min(2, ids.length) })
        .map((ex) => new Map(ex.map((id) => [id, 'rejected'] as [string, string]))),
      // In use: mostly none; else candidates, sometimes one that is not among them.
      inUse: fc.oneof(
        { arbitrary: fc.constant([]), weight: 2 },
        {
          arbitrary: fc.subarray([...ids, 'gone-1'], { maxLength: Math.min(2, ids.length + 1) }),
          weight: 1,
        },
      ),
      profile: profileArb,
    }),
  );

function sumBySku(plan: SourcingPlan): Map<string, number> {
  const sums = new Map<string, number>();
  for (const a of plan.allocations) sums.set(a.sku, (sums.get(a.sku) ?? 0) + a.qty);
  return sums;
}

describe('planSourcing properties', () => {
  it('never overallocates, keeps to the split policy, and is deterministic', () => {
    fc.assert(
      fc.property(requestArb, fc.context(), (r, ctx) => {
        const plan = planSourcing(r);
        ctx.log(plan.explanation.summary);
        const byId = new Map(r.candidates.map((c) => [c.id, c]));
        const seen = new Set<string>();
        for (const a of plan.allocations) {
          expect(a.qty).toBeGreaterThan(0);
          expect(a.qty).toBeLessThanOrEqual(byId.get(a.location)?.available.get(a.sku) ?? 0);
          expect(r.excluded.has(a.location)).toBe(false);
          const key = `${a.location}/${a.sku}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
        const placed = sumBySku(plan);
        for (const sku of SKUS) {
          const need = r.need.get(sku) ?? 0;
          const got = placed.get(sku) ?? 0;
          expect(got).toBeLessThanOrEqual(need);
          if (r.profile.split.policy === 'backorder') {
            expect(got + (plan.unplaced.get(sku) ?? 0)).toBe(need);
          }
        }
        const shipping = new Set(plan.allocations.map((a) => a.location));
        const withInUse = new Set([...shipping, ...r.inUse]);
        const inUse = new Set(r.inUse).size;
        const split = r.profile.split;
        if (split.policy === 'single') {
          expect(shipping.size).toBeLessThanOrEqual(1);
          if (plan.complete && shipping.size === 1) {
            expect(withInUse.size).toBeLessThanOrEqual(1);
          }
        } else if (split.policy === 'maxShipments') {
          // Locations already shipping the order may take more without counting as new ones,
          // even when there are more of them than the policy allows.
          expect(shipping.size).toBeLessThanOrEqual(Math.max(split.max, inUse));
          expect(withInUse.size).toBeLessThanOrEqual(Math.max(split.max, inUse));
        } else if (split.maxShipments !== null) {
          expect(withInUse.size).toBeLessThanOrEqual(Math.max(split.maxShipments, inUse));
        }
        if (split.policy !== 'backorder') {
          // All or nothing.
          if (plan.complete) {
            for (const sku of SKUS) expect(placed.get(sku) ?? 0).toBe(r.need.get(sku));
          } else {
            expect(plan.allocations).toEqual([]);
            for (const sku of SKUS) {
              expect(plan.unplaced.get(sku) ?? 0).toBe(r.need.get(sku));
            }
          }
        }
        expect(plan.complete).toBe(plan.unplaced.size === 0);
        // Every candidate explained once; chosen ones carry exactly the allocated units.
        expect(plan.explanation.candidates).toHaveLength(r.candidates.length);
        for (const c of plan.explanation.candidates) {
          const units = plan.allocations
            .filter((a) => a.location === c.location)
            .reduce((n, a) => n + a.qty, 0);
          expect(c.units).toBe(units);
          expect(c.outcome === 'chosen').toBe(units > 0);
          expect(c.reason.startsWith(`${c.outcome}: `)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same plan whatever order the candidates come in', () => {
    fc.assert(
      fc.property(
        requestArb.chain((r) =>
          fc
            .shuffledSubarray([...r.candidates], { minLength: r.candidates.length })
            .map((shuffled) => [r, shuffled] as const),
        ),
        ([r, shuffled]) => {
          expect(planSourcing({ ...r, candidates: shuffled })).toEqual(planSourcing(r));
        },
      ),
    );
  });
});
