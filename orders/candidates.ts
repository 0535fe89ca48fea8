import type { StockPort } from '../engine/index.ts';
import type { OrderIndex } from './order-index.ts';
import type { Order } from './order-state.ts';
import {
  distanceKm,
  planSourcing,
  type SourcingLocation,
  type SourcingPlan,
  type SourcingProfile,
} from './sourcing.ts';

/** Sourcing attributes of a location (operational config, beside the ERP's master data). */
export interface LocationSourcing {
  readonly id: string;
  readonly priority: number;
  readonly dailyCapacity: number | null;
  readonly shippingCost: number;
  readonly zoneCosts: Readonly<Record<string, number>>;
}

/** Candidates that lost, and skipped ones, an order keeps per sourcing decision. */
const EXPLAINED = 3;

/** What one location has of an order's SKUs (the planner only ever asks `get`). */
class StockRow {
  readonly units: number[];

  constructor(private readonly skus: readonly string[]) {
    this.units = new Array<number>(skus.length).fill(0);
  }

  get(sku: string): number | undefined {
    const i = this.skus.indexOf(sku);
    return i === -1 ? undefined : this.units[i];
  }
}

interface Place {
  readonly id: string;
  readonly lat: number;
  readonly lon: number;
}

interface LocationStatic {
  readonly type: string;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly priority: number;
  readonly shippingCost: number;
  readonly zoneCosts: Readonly<Record<string, number>>;
  readonly dailyCapacity: number | null;
}

/**
 * The locations an order could be sourced from, read from the engine's stock port and weighed by
 * the planner: every location with an offer, or with a profile's `nearest` pre-filter only the
 * nearest few. Each location's master data and sourcing config is cached until the engine's
 * locations change; its backlog (open fulfilments) comes from the order index, plus those of the
 * other order services when orders are sharded over worker threads.
 */
export class SourcingCandidates {
  private readonly sourcingOf: Map<string, LocationSourcing>;
  private readonly statics = new Map<string, LocationStatic>();
  private staticsVersion = -1;
  private places: Place[] = [];
  private placesVersion = -1;

  constructor(
    private readonly stock: StockPort,
    locations: readonly LocationSourcing[],
    private readonly index: OrderIndex,
    private readonly openElsewhere: (location: string) => number = () => 0,
  ) {
    this.sourcingOf = new Map(locations.map((l) => [l.id, l]));
  }

  /** Plans where `need` of an order is sourced now. */
  plan(
    order: Order,
    need: ReadonlyMap<string, number>,
    profile: SourcingProfile,
    excluded: ReadonlyMap<string, string>,
    inUse: readonly string[],
    pickupAt: string | null,
  ): SourcingPlan {
    const input = order.input;
    const destination =
      input.delivery.type === 'ship'
        ? { lat: input.delivery.address.lat, lon: input.delivery.address.lon }
        : null;
    const zone = input.delivery.type === 'ship' ? (input.delivery.address.zone ?? null) : null;
    if (destination !== null && pickupAt === null && (profile.nearest ?? null) !== null) {
      const near = this.nearestPlan(
        input.channel,
        need,
        destination,
        zone,
        profile,
        excluded,
        inUse,
      );
      if (near !== null) return near;
    }
    // One row per location with stock of a needed SKU: [units of sku 0, sku 1, ...].
    const skus = [...need.keys()];
    const rows = new Map<string, StockRow>();
    for (let i = 0; i < skus.length; i++) {
      const sku = skus[i] as string;
      const add = (location: string, available: number): void => {
        let row = rows.get(location);
        if (row === undefined) {
          row = new StockRow(skus);
          rows.set(location, row);
        }
        row.units[i] = available;
      };
      if (pickupAt === null) {
        this.stock.forEachOffer(input.channel, sku, add);
        continue;
      }
      const a = this.stock.availability(input.channel, sku, pickupAt);
      if (a.ok && a.available > 0) add(pickupAt, a.available);
    }
    const candidates: SourcingLocation[] = [];
    for (const [location, row] of rows) candidates.push(this.candidate(location, row, zone));
    return planSourcing({
      need,
      destination,
      candidates,
      excluded,
      inUse,
      profile,
      explain: EXPLAINED,
    });
  }

  /** A location as the planner weighs it, with `available` of the SKUs in question. */
  candidate(
    location: string,
    available: SourcingLocation['available'],
    zone: string | null,
  ): SourcingLocation {
    const s = this.staticOf(location);
    return {
      id: location,
      type: s.type,
      lat: s.lat,
      lon: s.lon,
      priority: s.priority,
      shippingCost: (zone === null ? undefined : s.zoneCosts[zone]) ?? s.shippingCost,
      dailyCapacity: s.dailyCapacity,
      openFulfilments: this.index.openAt(location) + this.openElsewhere(location),
      available,
    };
  }

  /**
   * A profile's `nearest` pre-filter: the locations with coordinates are ordered by distance, and
   * only the nearest N that hold something of the order (plus those already shipping it) are
   * read and weighed. Null when that plan cannot place the order: the caller weighs every
   * location then, so the filter never makes an order unsourceable.
   */
  private nearestPlan(
    channel: string,
    need: ReadonlyMap<string, number>,
    destination: { readonly lat: number; readonly lon: number },
    zone: string | null,
    profile: SourcingProfile,
    excluded: ReadonlyMap<string, string>,
    inUse: readonly string[],
  ): SourcingPlan | null {
    const limit = profile.nearest ?? 0;
    const places = this.placesWithCoordinates();
    const km = new Float64Array(places.length);
    for (let i = 0; i < places.length; i++) {
      const p = places[i] as Place;
      km[i] = distanceKm(destination, p);
    }
    const order = new Uint32Array(places.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => (km[a] as number) - (km[b] as number));
    const skus = [...need.keys()];
    const reader = this.stock.offerReader(channel, skus);
    const candidates: SourcingLocation[] = [];
    const taken = new Set<string>();
    let row = new StockRow(skus);
    const consider = (id: string): void => {
      if (!reader.at(id, row.units)) return;
      candidates.push(this.candidate(id, row, zone));
      taken.add(id);
      row = new StockRow(skus);
    };
    for (const i of order) {
      if (candidates.length >= limit) break;
      consider((places[i] as Place).id);
    }
    for (const id of inUse) if (!taken.has(id)) consider(id);
    const plan = planSourcing({
      need,
      destination,
      candidates,
      excluded,
      inUse,
      profile,
      explain: EXPLAINED,
    });
    return plan.complete ? plan : null;
  }

  /** Locations with coordinates, cached until the engine's locations change. */
  private placesWithCoordinates(): readonly Place[] {
    if (this.placesVersion !== this.stock.locationsVersion) {
      this.places = [];
      for (const l of this.stock.locationList()) {
        if (l.lat !== undefined && l.lon !== undefined)
          this.places.push({ id: l.id, lat: l.lat, lon: l.lon });
      }
      this.placesVersion = this.stock.locationsVersion;
    }
    return this.places;
  }

  /** A location's master data and sourcing config, cached until the engine's locations change. */
  private staticOf(location: string): LocationStatic {
    if (this.staticsVersion !== this.stock.locationsVersion) {
      this.statics.clear();
      this.staticsVersion = this.stock.locationsVersion;
    }
    let s = this.statics.get(location);
    if (s === undefined) {
      const info = this.stock.location(location);
      const cfg = this.sourcingOf.get(location);
      s = {
        type: info?.type ?? '',
        lat: info?.lat ?? null,
        lon: info?.lon ?? null,
        priority: cfg?.priority ?? 0,
        shippingCost: cfg?.shippingCost ?? 0,
        zoneCosts: cfg?.zoneCosts ?? {},
        // The ERP's capacity (master data) wins over the sourcing config's, when it gives one.
        dailyCapacity: info?.capacity ?? cfg?.dailyCapacity ?? null,
      };
      this.statics.set(location, s);
    }
    return s;
  }
}
