import { describe, expect, it } from 'vitest';
import { lyonFirstHarness, order } from './order-fixture.ts';

describe('a location capacity from the master data', () => {
  it('takes precedence over the orders config, and null gives the config value back', async () => {
    // Lyon first, skipped once full, one shipment per order; the config gives Lyon 100 a day.
    const h = lyonFirstHarness({ capacity: 'skip', split: { policy: 'single' } }, 100);
    await h.stock('A', { paris: 9, lyon: 9 });
    const lyon = h.engine.location('lyon');
    if (lyon === null) throw new Error('no lyon');
    // The ERP says Lyon takes one order a day.
    h.engine.upsertLocations([{ ...lyon, capacity: 1 }]);
    const first = await h.placed(order([['A', 1]]));
    expect(first.order.fulfilments[0]?.location).toBe('lyon');
    const second = await h.placed(order([['A', 1]]));
    expect(second.order.fulfilments[0]?.location).toBe('paris');
    // Without the ERP's capacity, the config's 100 applies again.
    h.engine.upsertLocations([{ ...lyon, capacity: null }]);
    const third = await h.placed(order([['A', 1]]));
    expect(third.order.fulfilments[0]?.location).toBe('lyon');
  });
});
