import { afterEach, describe, expect, it } from 'vitest';
import type { JournalRecord, ReserveCommand } from '../../engine/index.ts';
import { harness, stock, type Harness } from './fixtures.ts';
import { MemoryJournal } from './memory-journal.ts';

/**
 * Replay puts a journaled reserve back without the live path's checks (SkuBook.replayReserve),
 * hashing its id once for the check that the id is new and for the index entry. These pin what
 * that must keep: the reservation is found by its id afterwards exactly as on the live path, and
 * a reserve whose id is already known still goes through the ordinary path.
 */
describe('replay of journaled reserves', () => {
  const harnesses: Harness[] = [];
  const started = (): Harness => {
    const h = harness();
    harnesses.push(h);
    return h;
  };

  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.engine.stop();
  });

  it('rebuilds reservations that later commands find by id, as the live engine holds them', async () => {
    const live = started();
    const journal = new MemoryJournal();
    live.engine.storage.attachJournal(journal, 0);
    await stock(live, 'A', { S1: 30, S2: 30 });
    await stock(live, 'B', { S1: 30 });
    // Many ids, so the index grows (and moves its entries) while the replay fills it.
    for (let i = 0; i < 40; i++) {
      await live.ok({
        op: 'reserve',
        reservationId: `r${i}`,
        channel: 'web',
        sku: i % 2 === 0 ? 'A' : 'B',
        qty: 1,
        ...(i % 4 === 0 ? {} : { location: 'S1' }),
      });
    }
    await live.engine.durable();

    const replayed = started();
    replayed.engine.storage.replay(journal.records);
    expect(replayed.engine.storage.exportState().skus).toEqual(
      live.engine.storage.exportState().skus,
    );
    // Found by id, on the book it was granted on, by both engines alike.
    for (const h of [live, replayed]) {
      await h.ok({ op: 'release', reservationId: 'r3' });
      await h.ok({ op: 'confirm', reservationId: 'r4', orderId: 'o1' });
      const again = await h.run({
        op: 'reserve',
        reservationId: 'r5',
        channel: 'web',
        sku: 'B',
        qty: 1,
        location: 'S1',
      });
      expect(again).toMatchObject({ ok: true, applied: false, duplicate: true });
    }
    // The live engine journaled those three (its books' sequences moved on); the rest is equal.
    const held = (h: Harness): unknown =>
      h.engine.storage.exportState().skus.map((s) => [s.positions, s.reservations]);
    expect(held(replayed)).toEqual(held(live));
  });

  it('applies a reserve of an id already known through the ordinary path (a duplicate)', () => {
    const h = started();
    const at = h.clock.now();
    const reserve: ReserveCommand = {
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    };
    const records: JournalRecord[] = [
      {
        seq: 1,
        at,
        entry: {
          type: 'command',
          cmd: { op: 'setOnHand', sku: 'A', location: 'S1', onHand: 10, asOf: 1 },
        },
      },
      { seq: 2, at, entry: { type: 'command', cmd: reserve } },
      { seq: 3, at, entry: { type: 'command', cmd: { ...reserve } } },
    ];
    expect(h.engine.storage.replay(records)).toMatchObject({ applied: 3, skipped: 0 });
    // Held once: the second record was answered as the live path answers a repeated id.
    expect(h.engine.position('A', 'S1')?.reserved).toBe(2);
    const skus = h.engine.storage.exportState().skus;
    expect(skus.find((s) => s.sku === 'A')?.reservations.map((r) => r.id)).toEqual(['r1']);
  });
});
