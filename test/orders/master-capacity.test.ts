import { describe, expect, it } from 'vitest';
import type { SourcingProfile } from '../../orders/index.ts';
import { BY_DISTANCE, order, orderHarness } from './order-fixture.ts';

describe('a location capacity from the master data', () => {
  it('takes precedence over the orders config, and null gives the config value back', async () => {
    const lyonFirst: SourcingProfile = {
      ...BY_DISTANCE,
      name: 'lyon-first',
      criteria: [{ criterion: 'priority', weight: 1 }],
      capacity: 'skip',
      split: { policy: 'single' },
    };
    const h = orderHarness({
      profiles: [lyonFirst],
      service: {
        locations: [
          { id: 'lyon', priority: 10, dailyCapacity: 100, shippingCost: 0, zoneCosts: {} },
          { id: 'paris', priority: 1, dailyCapacity: null, shippingCost: 0, zoneCosts: {} },
        ],
      },
    });
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
