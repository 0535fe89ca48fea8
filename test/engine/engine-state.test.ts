import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, StockEngine } from '../../engine/index.ts';
import { available, harness, LOCATIONS, RULES, stock, type Harness } from './fixtures.ts';

let h: Harness;
let restored: StockEngine | undefined;
afterEach(async () => {
  await h.engine.stop();
  await restored?.stop();
  restored = undefined;
});

describe('export and import of the engine state', () => {
  it('round-trips positions, reservations, allocations and idempotency ids', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10, S2: 4 });
    await stock(h, 'B', { DC1: 7 });
    await h.ok({ op: 'reserve', reservationId: 'held', channel: 'web', sku: 'A', qty: 12 });
    await h.ok({
      op: 'reserve',
      reservationId: 'conf',
      channel: 'kiosk',
      sku: 'B',
      qty: 3,
      location: 'DC1',
    });
    await h.ok({ op: 'confirm', reservationId: 'conf', orderId: 'o1' });
    await h.ok({
      op: 'reserve',
      reservationId: 'gone',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S2',
    });
    await h.ok({ op: 'release', reservationId: 'gone' });
    await h.ok({ op: 'adjust', adjustmentId: 'adj', sku: 'B', location: 'DC1', delta: 2 });

    const state = h.engine.storage.exportState();
    const clock = new ManualClock(h.clock.now());
    restored = new StockEngine({
      rules: { channels: [{ id: 'web', priority: 1 }] },
      clock,
      partitions: 2,
    });
    restored.storage.importState(structuredClone(state));

    expect(restored.storage.exportState()).toEqual(state);
    for (const [sku, loc] of [
      ['A', 'S1'],
      ['A', 'S2'],
      ['B', 'DC1'],
    ] as const) {
      expect(restored.position(sku, loc)).toEqual(h.engine.position(sku, loc));
    }
    expect(restored.reservation('held')).toEqual(h.engine.reservation('held'));
    expect(restored.locationList()).toEqual(LOCATIONS.map((l) => ({ ...l, name: l.id })));
    expect(restored.rules().rules).toEqual(RULES);
    const again = await restored.execute({
      op: 'adjust',
      adjustmentId: 'adj',
      sku: 'B',
      location: 'DC1',
      delta: 2,
    });
    expect(again).toMatchObject({ ok: true, duplicate: true });
    expect(await restored.execute({ op: 'release', reservationId: 'gone' })).toMatchObject({
      ok: true,
      duplicate: true,
    });

    // Restored holds still expire on time.
    clock.advance(600_000);
    await restored.settle();
    expect(restored.reservation('held')?.state).toBe('expired');
    expect(restored.position('A', 'S1')?.reserved).toBe(0);
    const r = restored.availability('web', 'A');
    expect(r.ok && r.available).toBe(available(h, 'web', 'A') + 12);
  });

  it('refuses to import into a busy engine', async () => {
    h = harness();
    await stock(h, 'A', { S1: 1 });
    const state = h.engine.storage.exportState();
    const pending = h.run({
      op: 'reserve',
      reservationId: 'x',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    expect(() => {
      h.engine.storage.importState(state);
    }).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    await pending;
  });
});
