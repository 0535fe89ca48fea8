import { afterEach, describe, expect, it } from 'vitest';
import { StockEngine, type EngineState, type PositionState } from '../../engine/index.ts';
import { STATE_FORMAT } from '../../engine/engine-state.ts';
import { available, harness, LOCATIONS, RULES, type Harness } from './fixtures.ts';
import { MemoryJournal } from './memory-journal.ts';

/** 2026-01-01 at hh:mm UTC in epoch ms (the harness clock starts at midnight that day). */
const at = (hh: number, mm: number): number => Date.UTC(2026, 0, 1, hh, mm);

let h: Harness;
let other: StockEngine | undefined;
afterEach(async () => {
  await h.engine.stop();
  await other?.stop();
  other = undefined;
});

const feed = (onHand: number, asOf: number, location = 'S1') =>
  h.run({ op: 'setOnHand', sku: 'A', location, onHand, asOf });

/** Allocates and ships `qty` of A at S1 at the harness clock's current time. */
async function ship(id: string, qty: number): Promise<void> {
  await h.ok({
    op: 'allocate',
    allocationId: `al-${id}`,
    orderId: `o-${id}`,
    channel: 'web',
    sku: 'A',
    location: 'S1',
    qty,
  });
  await h.ok({
    op: 'ship',
    shipmentId: `sh-${id}`,
    orderId: `o-${id}`,
    sku: 'A',
    location: 'S1',
    qty,
  });
}

function positionState(state: EngineState, sku: string, location: string): PositionState {
  const p = state.skus.find((s) => s.sku === sku)?.positions.find((x) => x.location === location);
  if (p === undefined) throw new Error(`no position ${sku}@${location}`);
  return p;
}

describe('changes since the last feed: a snapshot does not resurrect what left after its as-of', () => {
  it('counts 10 at 10:00, ships 2 at 10:05, the 10:00 snapshot arrives at 10:10: onHand stays 8', async () => {
    h = harness();
    h.clock.set(at(9, 0));
    await feed(10, at(9, 0));
    h.clock.set(at(10, 5));
    await ship('1', 2);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(8);

    h.clock.set(at(10, 10));
    const late = await feed(10, at(10, 0));
    expect(late).toMatchObject({ ok: true, applied: true });
    expect(h.engine.position('A', 'S1')?.onHand).toBe(8);
    expect(available(h, 'web', 'A', 'S1')).toBe(8);
    expect(h.engine.stats().compensatedFeeds).toBe(1);
    // The shipment stays remembered: it is still after the newest count.
    expect(positionState(h.engine.storage.exportState(), 'A', 'S1').sinceFeed).toEqual({
      floor: null,
      changes: [at(10, 5), -2],
    });
  });

  it('skips out-of-order rows as stale and compensates the newer ones', async () => {
    h = harness();
    await feed(10, at(9, 0));
    h.clock.set(at(10, 5));
    await ship('1', 3);
    expect(await feed(10, at(10, 0))).toMatchObject({ applied: true });
    expect(await feed(12, at(9, 30))).toMatchObject({ ok: true, applied: false });
    expect(h.engine.stats().staleFeeds).toBe(1);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(7);
    // A count after the shipment saw it: nothing is added to it.
    expect(await feed(6, at(10, 6))).toMatchObject({ applied: true });
    expect(h.engine.position('A', 'S1')?.onHand).toBe(6);
  });

  it('adds a delta recorded after the snapshot to it, by the engine clock or the delta as-of', async () => {
    h = harness();
    await feed(10, at(9, 0));
    h.clock.set(at(10, 3));
    await h.ok({ op: 'adjust', adjustmentId: 'dmg-1', sku: 'A', location: 'S1', delta: -1 });
    // A delta carrying its own epoch-ms as-of is placed at that time, not at arrival.
    await h.ok({
      op: 'adjust',
      adjustmentId: 'grn-1',
      sku: 'A',
      location: 'S1',
      delta: 5,
      asOf: at(10, 1),
    });
    expect(h.engine.position('A', 'S1')?.onHand).toBe(14);

    h.clock.set(at(10, 10));
    await feed(20, at(10, 2)); // saw the receipt of 10:01, not the damage of 10:03
    expect(h.engine.position('A', 'S1')?.onHand).toBe(19);
  });

  it('adds a restock recorded after the snapshot to it', async () => {
    h = harness();
    await feed(4, at(9, 0));
    h.clock.set(at(10, 6));
    // What a return receipt with disposition restock sends (orders/decide-return-receipt.ts).
    await h.ok({ op: 'adjust', adjustmentId: 'rma:r1:r:rc1', sku: 'A', location: 'S1', delta: 2 });
    h.clock.set(at(10, 10));
    await feed(4, at(10, 0));
    expect(h.engine.position('A', 'S1')?.onHand).toBe(6);
    expect(available(h, 'web', 'A', 'S1')).toBe(6);
  });

  it('drops the changes a newer snapshot already counted, and keeps no ledger after it', async () => {
    h = harness();
    await feed(10, at(9, 0));
    h.clock.set(at(10, 5));
    await ship('1', 2);
    h.clock.set(at(10, 10));
    await feed(7, at(10, 8)); // counted after the shipment (and one unit lost)
    expect(h.engine.position('A', 'S1')?.onHand).toBe(7);
    expect(positionState(h.engine.storage.exportState(), 'A', 'S1').sinceFeed).toBeNull();
    expect(h.engine.stats().compensatedFeeds).toBe(0);

    // A change at or before the newest count (the store's clock a little ahead) is in it.
    await feed(7, at(10, 15));
    h.clock.set(at(10, 12));
    await h.ok({ op: 'adjust', adjustmentId: 'late', sku: 'A', location: 'S1', delta: 1 });
    expect(positionState(h.engine.storage.exportState(), 'A', 'S1').sinceFeed).toBeNull();
    h.clock.set(at(10, 20));
    await feed(8, at(10, 16));
    expect(h.engine.position('A', 'S1')?.onHand).toBe(8);
  });

  it('cannot compare a sequence or a time in seconds: the row applies as it is, counted', async () => {
    h = harness();
    h.clock.set(at(10, 0));
    await feed(10, 41); // a sequence
    expect(h.engine.stats().uncompensableFeeds).toBe(1);
    // A position fed by sequences keeps nothing: its feeds could never use it.
    h.clock.set(at(10, 5));
    await ship('1', 2);
    expect(positionState(h.engine.storage.exportState(), 'A', 'S1').sinceFeed).toBeNull();
    await feed(10, 42);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(10);
    expect(h.engine.stats().uncompensableFeeds).toBe(2);

    // Seconds (docs/api.md used to show 1767225600) are not milliseconds: no guess is made.
    await feed(3, at(9, 0) / 1000, 'S2');
    expect(h.engine.stats().uncompensableFeeds).toBe(3);
    expect(h.engine.stats().compensatedFeeds).toBe(0);
  });

  it('keeps nothing for a position that never had a timed count (a location fed by deltas)', async () => {
    h = harness();
    h.clock.set(at(10, 3));
    await h.ok({ op: 'adjust', adjustmentId: 'grn-1', sku: 'A', location: 'S1', delta: 3 });
    expect(positionState(h.engine.storage.exportState(), 'A', 'S1').sinceFeed).toBeNull();
    // Its first count applies as it is (documented: there was no count to be late against).
    await feed(0, at(10, 0));
    expect(h.engine.position('A', 'S1')?.onHand).toBe(0);
    expect(h.engine.stats().uncompensableFeeds).toBe(0);
  });

  it('keeps at most 32 changes: a snapshot older than a forgotten one is stale, newer ones exact', async () => {
    h = harness();
    await feed(100, at(9, 0));
    for (let i = 0; i < 40; i++) {
      h.clock.set(at(10, i));
      await h.ok({ op: 'adjust', adjustmentId: `d${i}`, sku: 'A', location: 'S1', delta: -1 });
    }
    const kept = positionState(h.engine.storage.exportState(), 'A', 'S1').sinceFeed;
    expect(kept?.changes.length).toBe(64);
    expect(kept?.floor).toBe(at(10, 7)); // the 8 oldest (10:00-10:07) were forgotten
    expect(await feed(100, at(10, 6))).toMatchObject({ ok: true, applied: false });
    expect(h.engine.stats().staleFeeds).toBe(1);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(60);
    await feed(100, at(10, 7));
    expect(h.engine.position('A', 'S1')?.onHand).toBe(100 - 32);
  });

  it('takes the ledger back with a failed journal write, and replay rebuilds it', async () => {
    h = harness();
    const journal = new MemoryJournal(['ok', 'ok', 'ok', 'fail']);
    h.engine.storage.attachJournal(journal, 0);
    await feed(10, at(9, 0));
    h.clock.set(at(10, 5));
    await ship('1', 2); // allocate, then ship: two appends
    const before = h.engine.storage.exportState();
    h.clock.set(at(10, 6));
    const lost = await h.run({
      op: 'adjust',
      adjustmentId: 'x',
      sku: 'A',
      location: 'S1',
      delta: 4,
    });
    expect(lost).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
    expect(positionState(h.engine.storage.exportState(), 'A', 'S1')).toEqual(
      positionState(before, 'A', 'S1'),
    );

    other = new StockEngine({ rules: RULES, locations: LOCATIONS, products: [{ sku: 'A' }] });
    other.storage.replay(journal.records.slice(0, 3));
    const replayed = positionState(other.storage.exportState(), 'A', 'S1');
    expect(replayed.sinceFeed).toEqual({ floor: null, changes: [at(10, 5), -2] });
    await other.execute({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 10, asOf: at(10, 0) });
    expect(other.position('A', 'S1')?.onHand).toBe(8);
  });

  it('keeps the ledger in the exported state, still reads a format 1 state, refuses a newer one', async () => {
    h = harness();
    await feed(10, at(9, 0));
    h.clock.set(at(10, 5));
    await ship('1', 2);
    const state = h.engine.storage.exportState();
    expect(state.format).toBe(STATE_FORMAT);

    other = new StockEngine({ rules: RULES });
    other.storage.importState(structuredClone(state));
    expect(other.storage.exportState().skus).toEqual(state.skus);
    await other.execute({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 10, asOf: at(10, 0) });
    expect(other.position('A', 'S1')?.onHand).toBe(8);
    await other.stop();

    // A snapshot written before the ledger existed: positions without `sinceFeed`.
    const v1 = {
      ...state,
      format: 1 as const,
      skus: state.skus.map((s) => ({
        ...s,
        positions: s.positions.map(({ sinceFeed: _dropped, ...p }) => p),
      })),
    };
    other = new StockEngine({ rules: RULES });
    other.storage.importState(v1);
    expect(other.position('A', 'S1')).toEqual(h.engine.position('A', 'S1'));
    expect(positionState(other.storage.exportState(), 'A', 'S1').sinceFeed).toBeNull();

    // A format this version does not know is refused before anything changes.
    const newer = { ...state, format: STATE_FORMAT + 1 } as unknown as EngineState;
    expect(() => {
      other?.storage.importState(newer);
    }).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(other.position('A', 'S1')).toEqual(h.engine.position('A', 'S1'));
  });
});
