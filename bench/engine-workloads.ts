import type {
  LocationInput,
  ProductInput,
  ReserveCommand,
  RulesInput,
  SetOnHandCommand,
} from '../engine/index.ts';

/**
 * The workloads of the engine benchmark, shared by every implementation measured (the engine
 * and both baselines), so they all answer exactly the same commands.
 */

/** A fleet of positions: every SKU stocked at every location. */
export interface FleetShape {
  readonly skus: number;
  readonly locations: number;
}

export const CHANNEL = 'web';
export const RULES: RulesInput = { channels: [{ id: CHANNEL, priority: 1 }] };

/** Stock of the hot position: never runs out, whatever the run length. */
export const HOT_ON_HAND = 1_000_000_000;
/** Stock of each fleet position: far more than the few reservations a position gets per run. */
export const FLEET_ON_HAND = 1_000;
export const HOT_SHAPE: FleetShape = { skus: 1, locations: 1 };

export function positionsOf(shape: FleetShape): number {
  return shape.skus * shape.locations;
}

function skuIds(shape: FleetShape): string[] {
  return Array.from({ length: shape.skus }, (_, i) => `sku-${i}`);
}

function locationIds(shape: FleetShape): string[] {
  return Array.from({ length: shape.locations }, (_, i) => `loc-${i}`);
}

/** Master data and one absolute feed per position: what loading the fleet sends. */
export interface FleetLoad {
  readonly locations: readonly LocationInput[];
  readonly products: readonly ProductInput[];
  readonly feeds: readonly SetOnHandCommand[];
}

export function fleetLoad(shape: FleetShape, onHand: number): FleetLoad {
  const skus = skuIds(shape);
  const locations = locationIds(shape);
  const feeds: SetOnHandCommand[] = [];
  for (const sku of skus) {
    for (const location of locations) {
      feeds.push({ op: 'setOnHand', sku, location, onHand, asOf: 1 });
    }
  }
  return {
    locations: locations.map((id) => ({ id, type: 'store' })),
    products: skus.map((sku) => ({ sku })),
    feeds,
  };
}

function reserve(id: string, sku: string, location: string): ReserveCommand {
  return { op: 'reserve', reservationId: id, channel: CHANNEL, sku, qty: 1, location };
}

/** `count` reservations of one unit at the first position; ids are unique per `label`. */
export function hotReserves(count: number, label: string): ReserveCommand[] {
  const [sku = ''] = skuIds(HOT_SHAPE);
  const [location = ''] = locationIds(HOT_SHAPE);
  return Array.from({ length: count }, (_, i) => reserve(`${label}-${i}`, sku, location));
}

/** `count` reservations of one unit, each at a uniformly random position of the fleet. */
export function spreadReserves(
  shape: FleetShape,
  count: number,
  label: string,
  seed: number,
): ReserveCommand[] {
  const skus = skuIds(shape);
  const locations = locationIds(shape);
  const random = new XorShift32(seed);
  const out: ReserveCommand[] = [];
  for (let i = 0; i < count; i++) {
    const sku = skus[random.below(shape.skus)] ?? '';
    const location = locations[random.below(shape.locations)] ?? '';
    out.push(reserve(`${label}-${i}`, sku, location));
  }
  return out;
}

/** A small seeded generator, so every implementation gets the same positions in the same order. */
class XorShift32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  below(n: number): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }
}
