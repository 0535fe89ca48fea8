import { afterEach, describe, expect, it } from 'vitest';
import type { AvailabilityDelta, RulesInput } from '../../engine/index.ts';
import { available, harness, RULES, stock, type Harness } from './fixtures.ts';

let h: Harness;
afterEach(async () => {
  await h.engine.stop();
});

function rules(extra: Omit<RulesInput, 'channels'>): RulesInput {
  return { channels: RULES.channels, ...extra };
}

describe('buffers', () => {
  it('holds back units or a percentage of onHand (rounded up), per channel', async () => {
    h = harness({
      rules: rules({
        buffers: [
          { channel: 'kiosk', units: 2 },
          { channel: 'mkt', percent: 25 },
        ],
      }),
    });
    await stock(h, 'A', { S1: 10 });
    expect(available(h, 'web', 'A', 'S1')).toBe(10);
    expect(available(h, 'kiosk', 'A', 'S1')).toBe(8);
    expect(available(h, 'mkt', 'A', 'S1')).toBe(7); // max(2 from kiosk, ceil(2.5)) = 3
  });

  it('lets the most specific rule win: sku > skuGroup > location > locationType > channel', async () => {
    h = harness({
      rules: rules({
        buffers: [
          { units: 1 },
          { locationType: 'store', units: 2 },
          { location: 'S1', units: 3 },
          { skuGroup: 'shoes', units: 4 },
          { sku: 'A', location: 'S1', units: 6 },
          { sku: 'A', units: 5 },
        ],
      }),
    });
    await stock(h, 'A', { S1: 20, S2: 20, DC1: 20 });
    await stock(h, 'B', { S1: 20, S2: 20, DC1: 20 });
    await stock(h, 'C', { S1: 20, S2: 20, DC1: 20 });
    expect(available(h, 'web', 'A', 'S1')).toBe(14); // sku+location
    expect(available(h, 'web', 'A', 'S2')).toBe(15); // sku
    expect(available(h, 'web', 'B', 'S2')).toBe(16); // skuGroup
    expect(available(h, 'web', 'C', 'S1')).toBe(17); // location
    expect(available(h, 'web', 'C', 'S2')).toBe(18); // location type
    expect(available(h, 'web', 'C', 'DC1')).toBe(19); // everything
    expect(available(h, 'web', 'C')).toBe(17 + 18 + 19);
  });

  it('never lets a lower-priority channel see more than a higher-priority one', async () => {
    h = harness({
      rules: rules({
        buffers: [
          { channel: 'web', units: 4 },
          { channel: 'kiosk', units: 1 },
        ],
      }),
    });
    await stock(h, 'A', { S1: 10 });
    expect(available(h, 'web', 'A', 'S1')).toBe(6);
    expect(available(h, 'kiosk', 'A', 'S1')).toBe(6);
    expect(available(h, 'mkt', 'A', 'S1')).toBe(6);
  });

  it('applies buffers to reservations: the channel can only reserve what it sees', async () => {
    h = harness({ rules: rules({ buffers: [{ channel: 'mkt', units: 3 }] }) });
    await stock(h, 'A', { S1: 4 });
    const no = await h.fails({
      op: 'reserve',
      reservationId: 'm1',
      channel: 'mkt',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    expect([no.code, no.available]).toEqual(['INSUFFICIENT_STOCK', 1]);
    await h.ok({
      op: 'reserve',
      reservationId: 'w1',
      channel: 'web',
      sku: 'A',
      qty: 4,
      location: 'S1',
    });
  });
});

describe('exclusions and caps', () => {
  it('excludes a location or a SKU group from a channel', async () => {
    h = harness({
      rules: rules({
        exclusions: [
          { channel: 'mkt', location: 'S2' },
          { channel: 'kiosk', skuGroup: 'shoes' },
        ],
      }),
    });
    await stock(h, 'A', { S1: 3, S2: 4 });
    await stock(h, 'C', { S1: 3 });
    expect(available(h, 'mkt', 'A')).toBe(3);
    expect(available(h, 'mkt', 'A', 'S2')).toBe(0);
    expect(available(h, 'kiosk', 'A')).toBe(0);
    expect(available(h, 'kiosk', 'C')).toBe(3);
    const r = await h.fails({
      op: 'reserve',
      reservationId: 'x',
      channel: 'mkt',
      sku: 'A',
      qty: 1,
      location: 'S2',
    });
    expect([r.code, r.reason]).toEqual(['INSUFFICIENT_STOCK', 'LOCATION_EXCLUDED']);
    const n = await h.ok({ op: 'reserve', reservationId: 'y', channel: 'mkt', sku: 'A', qty: 3 });
    expect(n.reservation?.lines).toEqual([{ location: 'S1', qty: 3 }]);
  });

  it('caps what a channel sees at N units or P% of the network, whichever is less', async () => {
    h = harness({
      rules: rules({
        caps: [
          { channel: 'mkt', units: 50, percent: 30 },
          { channel: 'kiosk', sku: 'A', units: 5 },
        ],
      }),
    });
    await stock(h, 'A', { S1: 100, DC1: 200 });
    expect(available(h, 'web', 'A')).toBe(300);
    expect(available(h, 'mkt', 'A')).toBe(50);
    expect(available(h, 'kiosk', 'A')).toBe(5);
    await h.ok({ op: 'reserve', reservationId: 'w', channel: 'web', sku: 'A', qty: 200 });
    expect(available(h, 'mkt', 'A')).toBe(30); // 30% of 100
    const over = await h.fails({
      op: 'reserve',
      reservationId: 'm',
      channel: 'mkt',
      sku: 'A',
      qty: 31,
    });
    expect(over.available).toBe(30);
  });

  it('subtracts the pickup buffer from the per-location (BOPIS) view only', async () => {
    h = harness({
      rules: rules({
        pickupBuffers: [
          { locationType: 'store', units: 2 },
          { location: 'S2', percent: 50 },
        ],
      }),
    });
    await stock(h, 'A', { S1: 5, S2: 10, DC1: 7 });
    expect(available(h, 'web', 'A', 'S1')).toBe(3);
    expect(available(h, 'web', 'A', 'S2')).toBe(5);
    expect(available(h, 'web', 'A', 'DC1')).toBe(7);
    expect(available(h, 'web', 'A')).toBe(22);
  });
});

describe('rule changes', () => {
  it('re-publishes every watched availability that a rule change alters, and nothing else', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10 });
    await stock(h, 'C', { S1: 10 });
    const deltas: AvailabilityDelta[] = [];
    h.engine.onDeltas((d) => deltas.push(...d));
    expect(h.engine.watch('web', 'A')).toMatchObject({ available: 10, seq: 0 });
    h.engine.watch('mkt', 'A', 'S1');
    h.engine.watch('web', 'C');
    h.engine.setRules(rules({ buffers: [{ skuGroup: 'shoes', channel: 'mkt', units: 4 }] }));
    expect(deltas).toEqual([
      {
        topic: 'availability:mkt:A@S1',
        channel: 'mkt',
        sku: 'A',
        location: 'S1',
        available: 6,
        seq: 1,
      },
    ]);
  });

  it('refuses an invalid rules document and keeps the rules in force', async () => {
    h = harness({ rules: rules({ buffers: [{ channel: 'mkt', units: 1 }] }) });
    await stock(h, 'A', { S1: 10 });
    const bad: RulesInput[] = [
      { channels: [] },
      rules({ buffers: [{ channel: 'fax', units: 1 }] }),
      rules({
        buffers: [
          { sku: 'A', units: 1 },
          { sku: 'A', units: 2 },
        ],
      }),
      rules({ buffers: [{ units: 1.5 }] }),
      rules({ caps: [{ channel: 'mkt', percent: 101 }] }),
      { channels: [{ id: 'web', priority: 0 }] },
      {
        channels: [
          { id: 'web', priority: 1 },
          { id: 'web', priority: 2 },
        ],
      },
      { channels: [{ id: 'web', priority: 1, reservationTtlMs: 5 }] },
    ];
    for (const doc of bad) {
      expect(() => {
        h.engine.setRules(doc);
      }).toThrow(expect.objectContaining({ name: 'StockflowError', code: 'BAD_REQUEST' }));
    }
    expect(available(h, 'mkt', 'A', 'S1')).toBe(9);
  });

  it('re-evaluates buffers when master data changes a location type or a SKU group', async () => {
    h = harness({
      rules: rules({
        buffers: [
          { locationType: 'outlet', units: 3 },
          { skuGroup: 'bags', units: 1 },
        ],
      }),
    });
    await stock(h, 'C', { S1: 10 });
    expect(available(h, 'web', 'C', 'S1')).toBe(10);
    h.engine.upsertLocations([{ id: 'S1', type: 'outlet' }]);
    expect(available(h, 'web', 'C', 'S1')).toBe(7);
    h.engine.upsertLocations([{ id: 'S1', type: 'store' }]);
    h.engine.upsertProducts([{ sku: 'C', group: 'bags' }]);
    expect(available(h, 'web', 'C', 'S1')).toBe(9);
  });
});
