import { afterEach, describe, expect, it } from 'vitest';
import type { AvailabilityDelta } from '../../engine/index.ts';
import { harness, stock, type Harness } from './fixtures.ts';

let h: Harness;
afterEach(async () => {
  await h.engine.stop();
});

function collect(engine: Harness['engine']): AvailabilityDelta[] {
  const out: AvailabilityDelta[] = [];
  engine.onDeltas((d) => out.push(...d));
  return out;
}

describe('availability deltas', () => {
  it('conflates many changes inside one interval into the latest value per topic', async () => {
    h = harness({ conflationMs: 50 });
    await stock(h, 'A', { S1: 100 });
    const deltas = collect(h.engine);
    expect(h.engine.watch('web', 'A')).toEqual({
      ok: true,
      topic: 'availability:web:A',
      available: 100,
      seq: 0,
    });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        h.ok({
          op: 'reserve',
          reservationId: `r${i}`,
          channel: 'web',
          sku: 'A',
          qty: 1,
          location: 'S1',
        }),
      ),
    );
    expect(deltas).toEqual([]);
    h.clock.advance(49);
    expect(deltas).toEqual([]);
    h.clock.advance(1);
    expect(deltas).toEqual([
      {
        topic: 'availability:web:A',
        channel: 'web',
        sku: 'A',
        location: null,
        available: 70,
        seq: 1,
      },
    ]);
    await h.ok({ op: 'release', reservationId: 'r0' });
    h.clock.advance(50);
    expect(deltas.map((d) => [d.available, d.seq])).toEqual([
      [70, 1],
      [71, 2],
    ]);
  });

  it('emits only when a number a channel sees changes', async () => {
    h = harness({
      rules: {
        channels: [
          { id: 'web', priority: 1 },
          { id: 'mkt', priority: 2 },
        ],
        buffers: [{ channel: 'mkt', units: 10 }],
      },
    });
    await stock(h, 'A', { S1: 5 });
    const deltas = collect(h.engine);
    h.engine.watch('mkt', 'A');
    h.engine.watch('web', 'A', 'S2');
    await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 8, asOf: 2 });
    await h.ok({
      op: 'reserve',
      reservationId: 'r',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    h.clock.advance(50);
    expect(deltas).toEqual([]);
    await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 20, asOf: 3 });
    h.clock.advance(50);
    expect(deltas).toEqual([
      {
        topic: 'availability:mkt:A',
        channel: 'mkt',
        sku: 'A',
        location: null,
        available: 9,
        seq: 1,
      },
    ]);
  });

  it('stops publishing a topic once its last watcher leaves, and refuses unknown topics', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const deltas = collect(h.engine);
    h.engine.watch('web', 'A', 'S1');
    h.engine.watch('web', 'A', 'S1');
    h.engine.unwatch('web', 'A', 'S1');
    await h.ok({ op: 'adjust', adjustmentId: 'a1', sku: 'A', location: 'S1', delta: 1 });
    h.clock.advance(50);
    expect(deltas).toHaveLength(1);
    h.engine.unwatch('web', 'A', 'S1');
    expect(h.engine.stats().watchedTopics).toBe(0);
    await h.ok({ op: 'adjust', adjustmentId: 'a2', sku: 'A', location: 'S1', delta: 1 });
    h.clock.advance(50);
    expect(deltas).toHaveLength(1);
    expect(h.engine.watch('web', 'Q')).toMatchObject({
      ok: false,
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_SKU',
    });
    expect(h.engine.watch('fax', 'A')).toMatchObject({ ok: false, reason: 'UNKNOWN_CHANNEL' });
    expect(h.engine.watch('web', 'A', 'X')).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_LOCATION',
    });
  });
});
