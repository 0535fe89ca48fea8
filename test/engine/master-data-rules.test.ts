import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  StockEngine,
  type AvailabilityDelta,
  type RulesInput,
} from '../../engine/index.ts';
import { Location } from '../../engine/master-data.ts';
import { available, harness, RULES, stock, type Harness } from './fixtures.ts';

let h: Harness;
let restored: StockEngine | undefined;
afterEach(async () => {
  await h.engine.stop();
  await restored?.stop();
  restored = undefined;
});

function rules(extra: Omit<RulesInput, 'channels'>): RulesInput {
  return { channels: RULES.channels, ...extra };
}

describe('rules that match product attributes', () => {
  it('holds back a buffer only for the SKUs whose attributes all match', async () => {
    h = harness({
      rules: rules({ buffers: [{ attributes: { color: 'red', size: 'L' }, units: 3 }] }),
    });
    h.engine.upsertProducts([
      { sku: 'A', attributes: { color: 'red', size: 'L' } },
      { sku: 'B', attributes: { color: 'red', size: 'M' } },
    ]);
    await stock(h, 'A', { S1: 10 });
    await stock(h, 'B', { S1: 10 });
    expect(available(h, 'web', 'A')).toBe(7);
    expect(available(h, 'web', 'B')).toBe(10);

    // The ERP changes an attribute: availability follows at once, with no new rules.
    h.engine.upsertProducts([{ sku: 'B', attributes: { color: 'red', size: 'L' } }]);
    expect(available(h, 'web', 'B')).toBe(7);
    h.engine.upsertProducts([{ sku: 'A', attributes: {} }]);
    expect(available(h, 'web', 'A')).toBe(10);
  });

  it('ranks attributes above the group and below the SKU; more attributes win', async () => {
    h = harness({
      rules: rules({
        buffers: [
          { skuGroup: 'shoes', units: 1 },
          { attributes: { color: 'red' }, units: 2 },
          { attributes: { color: 'red', size: 'L' }, units: 4 },
          { sku: 'B', units: 5 },
        ],
      }),
    });
    h.engine.upsertProducts([
      { sku: 'A', group: 'shoes', attributes: { color: 'red' } },
      { sku: 'B', group: 'shoes', attributes: { color: 'red', size: 'L' } },
      { sku: 'C', group: 'shoes', attributes: { color: 'red', size: 'L' } },
      { sku: 'D', group: 'shoes', attributes: { color: 'blue' } },
    ]);
    for (const sku of ['A', 'B', 'C', 'D']) await stock(h, sku, { S1: 10 });
    expect(available(h, 'web', 'A')).toBe(8);
    expect(available(h, 'web', 'B')).toBe(5);
    expect(available(h, 'web', 'C')).toBe(6);
    expect(available(h, 'web', 'D')).toBe(9);
  });

  it('excludes and caps by attribute', async () => {
    h = harness({
      rules: rules({
        exclusions: [{ channel: 'mkt', attributes: { marketplace: 'no' } }],
        caps: [{ channel: 'kiosk', attributes: { bulky: 'yes' }, units: 2 }],
      }),
    });
    h.engine.upsertProducts([
      { sku: 'A', attributes: { marketplace: 'no' } },
      { sku: 'B', attributes: { bulky: 'yes' } },
    ]);
    await stock(h, 'A', { S1: 10 });
    await stock(h, 'B', { S1: 10 });
    expect(available(h, 'mkt', 'A')).toBe(0);
    expect(available(h, 'web', 'A')).toBe(10);
    expect(available(h, 'kiosk', 'B')).toBe(2);
    expect(available(h, 'kiosk', 'A')).toBe(10);
  });

  it('refuses two rules with the same fields and attributes', () => {
    expect(
      () =>
        new StockEngine({
          rules: rules({
            buffers: [
              { attributes: { a: '1', b: '2' }, units: 1 },
              { attributes: { b: '2', a: '1' }, units: 2 },
            ],
          }),
        }),
    ).toThrow(/two rules name the same attributes/);
  });
});

describe('locations from the master data', () => {
  it('gives a channel the location does not serve nothing there', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10, DC1: 5 });
    expect(available(h, 'kiosk', 'A')).toBe(15);
    h.engine.upsertLocations([{ id: 'S1', type: 'store', channels: ['web'] }]);
    expect(available(h, 'kiosk', 'A')).toBe(5);
    expect(available(h, 'web', 'A')).toBe(15);
    const refused = await h.fails({
      op: 'reserve',
      reservationId: 'k1',
      channel: 'kiosk',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    expect(refused.reason).toBe('LOCATION_EXCLUDED');
    // An upsert without channels keeps them; null serves every channel again.
    h.engine.upsertLocations([{ id: 'S1', type: 'store', name: 'Main street' }]);
    expect(available(h, 'kiosk', 'A')).toBe(5);
    h.engine.upsertLocations([{ id: 'S1', type: 'store', channels: null }]);
    expect(available(h, 'kiosk', 'A')).toBe(15);
  });

  it('shows no pick-up availability where pick-up is off, and keeps shipping from there', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10 });
    h.engine.upsertLocations([{ id: 'S1', type: 'store', pickup: false }]);
    expect(available(h, 'web', 'A', 'S1')).toBe(0);
    expect(available(h, 'web', 'A')).toBe(10);
    const refused = await h.fails({
      op: 'reserve',
      reservationId: 'p1',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    expect(refused.reason).toBe('PICKUP_DISABLED');
    // Orders still allocate there (ship from store).
    await h.ok({
      op: 'allocate',
      allocationId: 'al1',
      orderId: 'o1',
      channel: 'web',
      sku: 'A',
      location: 'S1',
      qty: 2,
    });
    h.engine.upsertLocations([{ id: 'S1', type: 'store', pickup: true }]);
    expect(available(h, 'web', 'A', 'S1')).toBe(8);
  });

  it('publishes the changed values to watchers when channels or pick-up change', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10, DC1: 5 });
    const deltas: AvailabilityDelta[] = [];
    h.engine.onDeltas((d) => deltas.push(...d));
    h.engine.watch('kiosk', 'A');
    h.engine.watch('web', 'A', 'S1');
    h.engine.upsertLocations([{ id: 'S1', type: 'store', channels: ['web'], pickup: false }]);
    h.engine.flushDeltas();
    expect(deltas.map((d) => [d.topic, d.available])).toEqual([
      ['availability:kiosk:A', 5],
      ['availability:web:A@S1', 0],
    ]);
  });

  it('drops an upsert that changes nothing and counts the others', () => {
    h = harness();
    expect(h.engine.upsertLocations([{ id: 'S1', type: 'store' }])).toBe(0);
    expect(h.engine.upsertLocations([{ id: 'S1', type: 'store', capacity: 40 }])).toBe(1);
    expect(h.engine.upsertLocations([{ id: 'S1', type: 'store', capacity: 40 }])).toBe(0);
    expect(h.engine.upsertProducts([{ sku: 'A', group: 'shoes' }])).toBe(0);
    expect(h.engine.upsertProducts([{ sku: 'A', group: 'shoes', prices: { EUR: 1999 } }])).toBe(1);
    expect(h.engine.upsertProducts([{ sku: 'A', group: 'shoes' }])).toBe(0);
    expect(h.engine.product('A')).toEqual({ sku: 'A', group: 'shoes', prices: { EUR: 1999 } });
  });

  it('refuses bad master data as a whole', () => {
    h = harness();
    expect(() => h.engine.upsertLocations([{ id: 'S9', type: 'store', lat: 91 }])).toThrow(
      /lat must be within -90..90/,
    );
    expect(() => h.engine.upsertProducts([{ sku: 'Z', prices: { euro: 1 } }])).toThrow(/ISO 4217/);
    expect(h.engine.location('S9')).toBeNull();
    expect(h.engine.product('Z')).toBeNull();
  });
});

describe('master data in snapshots', () => {
  it('round-trips attributes, prices, capacity, channels and pick-up', async () => {
    h = harness({ rules: rules({ buffers: [{ attributes: { color: 'red' }, units: 1 }] }) });
    h.engine.upsertProducts([{ sku: 'A', attributes: { color: 'red' }, prices: { EUR: 500 } }]);
    h.engine.upsertLocations([
      { id: 'S1', type: 'store', capacity: 25, channels: ['web', 'kiosk'], pickup: false },
    ]);
    await stock(h, 'A', { S1: 10, DC1: 4 });
    const state = h.engine.storage.exportState();
    restored = new StockEngine({
      rules: { channels: [{ id: 'web', priority: 1 }] },
      clock: new ManualClock(h.clock.now()),
    });
    restored.storage.importState(structuredClone(state));
    expect(restored.storage.exportState()).toEqual(state);
    expect(restored.product('A')).toEqual(h.engine.product('A'));
    expect(restored.location('S1')).toEqual(h.engine.location('S1'));
    expect(restored.availability('mkt', 'A')).toEqual(h.engine.availability('mkt', 'A'));
    expect(restored.availability('web', 'A', 'S1')).toMatchObject({ available: 0 });
  });

  it('reads a state written before attributes, prices and location channels existed', async () => {
    h = harness();
    await stock(h, 'A', { S1: 3 });
    // As an earlier version exported it: books with a group only, locations with id/type/name.
    const old = structuredClone(h.engine.storage.exportState());
    restored = new StockEngine({
      rules: RULES,
      locations: [{ id: 'S1', type: 'store', pickup: false, channels: ['web'] }],
      clock: new ManualClock(h.clock.now()),
    });
    restored.storage.importState(old);
    expect(restored.product('A')).toEqual({ sku: 'A', group: 'shoes' });
    // A location the old state holds is as it says: every channel, pick-up on.
    expect(restored.location('S1')).toEqual({ id: 'S1', type: 'store', name: 'S1' });
    expect(restored.availability('kiosk', 'A', 'S1')).toMatchObject({ available: 3 });
  });
});

describe("a location's one-line view of a reservation", () => {
  it('gives the location and the quantity, shares small quantities and keeps the line unchangeable', () => {
    const dc = new Location({ id: 'DC1', type: 'dc' });
    for (const qty of [0, 1, 2, 64, 65, 1_000, 2.5]) {
      expect(dc.lines(qty)).toEqual([{ location: 'DC1', qty }]);
    }
    expect(dc.lines(3)).toBe(dc.lines(3));
    expect(dc.lines(3)).not.toBe(dc.lines(4));
    // Above the shared range every view gets its own.
    expect(dc.lines(65)).not.toBe(dc.lines(65));
    const line = dc.lines(1)[0] as { qty: number };
    expect(() => {
      line.qty = 5;
    }).toThrow(TypeError);
    expect(dc.lines(1)).toEqual([{ location: 'DC1', qty: 1 }]);
  });
});
