import fc from 'fast-check';
import type {
  BufferRule,
  CapRule,
  Command,
  ExclusionRule,
  PickupBufferRule,
  RulesInput,
} from '../../engine/index.ts';

// Shared generators for the stock property tests: a small world (2 SKUs, 3 locations, 3 channels)
// where ids collide often enough to exercise idempotency, conflicts and expiry.
export const LOCATIONS = [
  { id: 'S1', type: 'store' },
  { id: 'S2', type: 'store' },
  { id: 'DC1', type: 'dc' },
];
export const SKUS = ['A', 'B'];
export const GROUPS: Record<string, string> = { A: 'shoes', B: '' };
export const CHANNELS = [
  { id: 'web', priority: 1 },
  { id: 'kiosk', priority: 2, reservationTtlMs: 120_000 },
  { id: 'mkt', priority: 3 },
];
export const TOMBSTONE_TTL = 1_800_000;
/**
 * Runs per property. The histories are drawn at their full length (`size: 'max'` on their
 * arrays): fast-check 4 otherwise caps a generated array at about 10 items whatever its
 * maxLength says, so a "40-step history" was never more than 10 steps. Fewer, longer histories
 * reach the states a short one cannot (a hold that expires after its release was retried, a
 * rule change between a reserve and its confirm).
 */
export const NUM_RUNS = 500;

const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined });
const channelId = fc.constantFrom('web', 'kiosk', 'mkt');
const qtyRule = {
  units: maybe(fc.integer({ min: 0, max: 4 })),
  percent: maybe(fc.integer({ min: 0, max: 60 })),
};
const selectorKey = (r: object): string =>
  JSON.stringify(
    Object.entries(r).filter(([k, v]) => v !== undefined && k !== 'units' && k !== 'percent'),
  );

export const rulesArb: fc.Arbitrary<RulesInput> = fc.record({
  channels: fc.constant(CHANNELS),
  buffers: fc.uniqueArray(
    fc.record({
      channel: maybe(channelId),
      locationType: maybe(fc.constantFrom('store', 'dc')),
      location: maybe(fc.constantFrom('S1', 'S2', 'DC1')),
      sku: maybe(fc.constantFrom(...SKUS)),
      skuGroup: maybe(fc.constantFrom('shoes')),
      ...qtyRule,
    }) as fc.Arbitrary<BufferRule>,
    { maxLength: 4, selector: selectorKey },
  ),
  exclusions: fc.uniqueArray(
    fc.record({
      channel: channelId,
      location: maybe(fc.constantFrom('S1', 'S2', 'DC1')),
      sku: maybe(fc.constantFrom(...SKUS)),
    }) as fc.Arbitrary<ExclusionRule>,
    { maxLength: 2, selector: selectorKey },
  ),
  caps: fc.uniqueArray(
    fc.record({
      channel: channelId,
      sku: maybe(fc.constantFrom(...SKUS)),
      ...qtyRule,
    }) as fc.Arbitrary<CapRule>,
    { maxLength: 2, selector: selectorKey },
  ),
  pickupBuffers: fc.uniqueArray(
    fc.record({
      location: maybe(fc.constantFrom('S1', 'S2')),
      locationType: maybe(fc.constantFrom('store')),
      ...qtyRule,
    }) as fc.Arbitrary<PickupBufferRule>,
    { maxLength: 2, selector: selectorKey },
  ),
});

export type Step =
  | { readonly kind: 'cmd'; readonly cmd: Command }
  | { readonly kind: 'batch'; readonly cmds: readonly Command[] }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'rules'; readonly rules: RulesInput };

/** The ManualClock's default start: histories begin here. */
export const START = Date.UTC(2026, 0, 1);

/**
 * A feed's as-of: a source's sequence, or an epoch-ms time within the first two hours of a
 * history, so counts land before and after the shipments and deltas around them (docs/engine.md,
 * changes since the last feed).
 */
const asOfArb = fc.oneof(
  fc.integer({ min: 0, max: 30 }),
  fc.integer({ min: 0, max: 120 }).map((minute) => START + minute * 60_000),
);

const sku = fc.constantFrom(...SKUS);
const location = fc.constantFrom('S1', 'S2', 'DC1');
const resId = fc.constantFrom('r0', 'r1', 'r2', 'r3', 'r4', 'r5');
const orderId = fc.constantFrom('o0', 'o1');
const opId = fc.constantFrom('x0', 'x1', 'x2', 'x3');
const cmd = (arb: fc.Arbitrary<Command>): fc.Arbitrary<Step> =>
  arb.map((c) => ({ kind: 'cmd', cmd: c }));

// Reservation ids drawn from a pool per SKU: an id claimed on one SKU while its reserve is still
// in flight is refused for another SKU (a documented race), which a sequential model cannot see.
const reservePerSku = cmd(
  sku.chain((s) =>
    fc.record({
      op: fc.constant('reserve' as const),
      reservationId: fc.constantFrom(`${s}0`, `${s}1`, `${s}2`),
      channel: channelId,
      sku: fc.constant(s),
      qty: fc.integer({ min: 1, max: 6 }),
      location: maybe(location),
    }),
  ),
);
const perSkuResId = fc.constantFrom('A0', 'A1', 'A2', 'B0', 'B1', 'B2');
export const batchCmdArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('setOnHand' as const),
      sku,
      location,
      onHand: fc.integer({ min: 0, max: 12 }),
      asOf: asOfArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('adjust' as const),
      adjustmentId: opId,
      sku,
      location,
      delta: fc.integer({ min: -4, max: 6 }).filter((d) => d !== 0),
      asOf: maybe(asOfArb),
    }),
  },
  { weight: 5, arbitrary: reservePerSku.map((st) => (st as { cmd: Command }).cmd) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('release' as const), reservationId: perSkuResId }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('confirm' as const),
      reservationId: perSkuResId,
      orderId,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('allocate' as const),
      allocationId: opId,
      orderId,
      channel: channelId,
      sku,
      location,
      qty: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('ship' as const),
      shipmentId: opId,
      orderId,
      sku,
      location,
      qty: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: cmd(
      fc.record({
        op: fc.constant('setOnHand'),
        sku,
        location,
        onHand: fc.integer({ min: 0, max: 12 }),
        asOf: asOfArb,
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: cmd(
      fc.record({
        op: fc.constant('adjust'),
        adjustmentId: opId,
        sku,
        location,
        delta: fc.integer({ min: -4, max: 6 }).filter((d) => d !== 0),
        asOf: maybe(asOfArb),
      }),
    ),
  },
  {
    weight: 5,
    arbitrary: cmd(
      fc.record({
        op: fc.constant('reserve'),
        reservationId: resId,
        channel: channelId,
        sku,
        qty: fc.integer({ min: 1, max: 6 }),
        location: maybe(location),
        ttlMs: maybe(fc.constantFrom(5_000, 60_000)),
      }),
    ),
  },
  { weight: 2, arbitrary: cmd(fc.record({ op: fc.constant('release'), reservationId: resId })) },
  {
    weight: 2,
    arbitrary: cmd(fc.record({ op: fc.constant('confirm'), reservationId: resId, orderId })),
  },
  {
    weight: 2,
    arbitrary: cmd(
      fc.record({
        op: fc.constant('allocate'),
        allocationId: opId,
        orderId,
        channel: channelId,
        sku,
        location,
        qty: fc.integer({ min: 1, max: 4 }),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: cmd(
      fc.record({
        op: fc.constant('deallocate'),
        requestId: opId,
        orderId,
        sku,
        location,
        qty: fc.integer({ min: 1, max: 3 }),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: cmd(
      fc.record({
        op: fc.constant('ship'),
        shipmentId: opId,
        orderId,
        sku,
        location,
        qty: fc.integer({ min: 1, max: 3 }),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(1_000, 5_000, 60_000, 600_000, 1_800_000),
    }),
  },
  { weight: 1, arbitrary: rulesArb.map((rules) => ({ kind: 'rules' as const, rules })) },
);
