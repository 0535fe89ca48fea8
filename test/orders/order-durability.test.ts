import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../engine/index.ts';
import type { OrderView, SourcingProfile } from '../../orders/index.ts';
import { MemoryJournal } from '../engine/memory-journal.ts';
import { BY_DISTANCE, holdings, order, orderHarness, type OrderHarness } from './order-fixture.ts';

const SKUS = ['A', 'B', 'C'] as const;
const PLACES = ['paris', 'lyon', 'dc'] as const;

function positions(h: OrderHarness): unknown[] {
  return SKUS.flatMap((sku) => PLACES.map((loc) => h.engine.position(sku, loc)));
}

/** A history touching every kind of order event, on a journaled engine. */
async function history(h: OrderHarness): Promise<string[]> {
  await h.stock('A', { paris: 4, lyon: 4, dc: 4 });
  await h.stock('B', { lyon: 3, dc: 3 });
  const a = order([['A', 2]]);
  const b = order([
    ['A', 1],
    ['B', 2],
  ]);
  const c = order([['A', 1]]);
  const ra = await h.placed(a, 'key-a');
  await h.placed(b);
  await h.placed(c);
  const fa = ra.order.fulfilments[0]?.fulfilmentId ?? '';
  await h.orders.fulfilmentAnswer(fa, { type: 'rejected', reason: 'no staff' }, null);
  const moved = h.orders.get(a.orderId as string)?.fulfilments[1]?.fulfilmentId ?? '';
  await h.orders.fulfilmentAnswer(moved, { type: 'accepted' }, null);
  await h.orders.fulfilmentAnswer(moved, { type: 'shipped', carrier: 'UPS', tracking: '1Z' }, null);
  await h.orders.cancel(c.orderId as string, { reason: 'fraud check' }, null);
  await h.idle();
  return [a, b, c].map((o) => o.orderId as string);
}

/** The order event a journal record carries, if it is one (the order service's extension). */
function orderEvent(r: JournalRecord): { readonly kind: string } | null {
  if (r.entry.type !== 'ext' || r.entry.kind !== 'order') return null;
  const record = r.entry.record as { readonly event?: { readonly kind: string } };
  return record.event ?? null;
}

function replayed(records: readonly JournalRecord[]): OrderHarness {
  const h = orderHarness({ start: false });
  h.engine.storage.replay(records);
  return h;
}

describe('orders in the journal', () => {
  it('replaying the journal on a fresh engine gives the same orders and stock', async () => {
    const journal = new MemoryJournal();
    const live = orderHarness({ journal });
    const ids = await history(live);
    const again = replayed(journal.records);
    for (const id of ids) expect(again.orders.get(id)).toEqual(live.orders.get(id));
    expect(positions(again)).toEqual(positions(live));
    expect(again.orders.stats().byStatus).toEqual(live.orders.stats().byStatus);
    // Acknowledged messages were journaled: nothing is sent twice after the restart.
    again.orders.start();
    await again.idle();
    expect(again.transport.sent).toEqual([]);
  });

  it('a snapshot taken mid-history plus the journal tail gives the same orders', async () => {
    const journal = new MemoryJournal();
    const live = orderHarness({ journal });
    await live.stock('A', { paris: 4, lyon: 4 });
    const first = await live.placed(order([['A', 2]]));
    await live.idle();
    const cursor = live.engine.storage.beginSnapshot();
    const items = [];
    for (let chunk = cursor.next(2); chunk !== null; chunk = cursor.next(2)) items.push(...chunk);
    const fid = first.order.fulfilments[0]?.fulfilmentId ?? '';
    await live.orders.fulfilmentAnswer(
      fid,
      { type: 'short_picked', picked: [{ sku: 'A', qty: 1 }] },
      null,
    );
    const second = await live.placed(order([['A', 1]]));
    await live.idle();

    const fresh = orderHarness({ start: false });
    fresh.engine.storage.beginImport(cursor.header);
    fresh.engine.storage.importChunk(items);
    fresh.engine.storage.replay(journal.records.filter((r) => r.seq >= cursor.header.startSeq));
    for (const id of [first.order.orderId, second.order.orderId]) {
      expect(fresh.orders.get(id)).toEqual(live.orders.get(id));
    }
    expect(positions(fresh)).toEqual(positions(live));
    expect(fresh.orders.stats().byStatus).toEqual(live.orders.stats().byStatus);
  });

  it('resumes an order whose sourcing was cut short by a crash without allocating twice', async () => {
    const journal = new MemoryJournal();
    const live = orderHarness({ journal });
    await live.stock('A', { paris: 5 });
    const body = order([['A', 3]]);
    await live.placed(body);
    await live.idle();
    // The crash: the allocations reached the journal, the event recording them did not.
    const cut = journal.records.findIndex((r) => orderEvent(r)?.kind === 'sourced');
    const after = replayed(journal.records.slice(0, cut));
    const id = body.orderId as string;
    expect(after.orders.get(id)?.status).toBe('received');
    expect(holdings(after, id)).toEqual({ 'A@paris': 3 });
    after.orders.start();
    await after.idle();
    const view = after.orders.get(id);
    expect(view?.status).toBe('fulfilment_requested');
    expect(view?.fulfilments.map((f) => [f.location, f.lines])).toEqual([
      ['paris', [{ sku: 'A', qty: 3 }]],
    ]);
    expect(after.engine.position('A', 'paris')).toMatchObject({ onHand: 5, allocated: 3 });
    expect(after.transport.types('location:paris')).toEqual(['fulfilment.requested']);
  });

  it('completes a resumed order whose earlier run allocated part of it at the same location', async () => {
    const journal = new MemoryJournal();
    const live = orderHarness({ journal });
    await live.stock('A', { paris: 10 });
    const body = order([['A', 5]]);
    await live.placed(body);
    await live.idle();
    const id = body.orderId as string;
    // The earlier run: the order received, then one unit allocated by each of three attempts
    // (ids that run derived), then the crash.
    const before = journal.records.filter(
      (r) =>
        orderEvent(r)?.kind === 'received' ||
        (r.entry.type === 'command' && r.entry.cmd.op !== 'allocate'),
    );
    const after = replayed(before);
    for (const attempt of [1, 2, 3]) {
      const r = await after.engine.execute({
        op: 'allocate',
        allocationId: `${id}:a1.${String(attempt)}:A@paris`,
        orderId: id,
        channel: 'web',
        sku: 'A',
        location: 'paris',
        qty: 1,
      });
      expect(r.ok).toBe(true);
    }
    after.orders.start();
    await after.idle();
    expect(after.orders.get(id)?.fulfilments.map((f) => [f.location, f.lines])).toEqual([
      ['paris', [{ sku: 'A', qty: 5 }]],
    ]);
    expect(after.engine.position('A', 'paris')).toMatchObject({ onHand: 10, allocated: 5 });
  });

  it('takes an order back out of memory when its journal write fails, and serves again after', async () => {
    const journal = new MemoryJournal();
    const h = orderHarness({ journal });
    await h.stock('A', { paris: 5 });
    journal.down = true;
    const body = order([['A', 2]]);
    const failed = await h.orders.place(body, 'k', null).then(
      (r) => r,
      (error: unknown) => error,
    );
    expect(failed).toMatchObject({ code: 'UNAVAILABLE' });
    expect(h.orders.get(body.orderId as string)).toBeNull();
    expect(holdings(h, body.orderId as string)).toEqual({});
    expect(h.engine.position('A', 'paris')?.allocated).toBe(0);
    journal.down = false;
    h.clock.advance(1_000); // the engine resyncs on its own
    await h.idle();
    const r = await h.placed(body, 'k');
    expect(r.created).toBe(true);
    expect(h.engine.position('A', 'paris')?.allocated).toBe(2);
  });
});

const profileArb: fc.Arbitrary<SourcingProfile> = fc
  .constantFrom<SourcingProfile['split']>(
    { policy: 'single' },
    { policy: 'maxShipments', max: 2 },
    { policy: 'backorder', maxShipments: null },
  )
  .map((split) => ({ ...BY_DISTANCE, name: 'p', split }));

const lineArb = fc.tuple(fc.constantFrom(...SKUS), fc.integer({ min: 1, max: 3 }));

describe('concurrent orders on scarce stock', () => {
  it('never allocate beyond stock, and a failed order holds nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        profileArb,
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 9, maxLength: 9 }),
        fc.array(
          fc.uniqueArray(lineArb, { minLength: 1, maxLength: 3, selector: ([sku]) => sku }),
          { minLength: 1, maxLength: 12, size: 'max' },
        ),
        async (profile, levels, orderLines) => {
          const h = orderHarness({ profiles: [profile] });
          for (const [i, sku] of SKUS.entries()) {
            await h.stock(
              sku,
              Object.fromEntries(PLACES.map((loc, j) => [loc, levels[i * 3 + j] ?? 0])),
            );
          }
          const bodies = orderLines.map((lines) => order(lines));
          const results = await Promise.all(bodies.map((b) => h.place(b)));
          await h.idle();
          let held = 0;
          for (const [i, body] of bodies.entries()) {
            const id = body.orderId as string;
            const r = results[i];
            const mine = holdings(h, id);
            const view = h.orders.get(id) as OrderView;
            if (r?.ok !== true) {
              expect(r).toMatchObject({ code: 'INSUFFICIENT_STOCK' });
              expect(mine).toEqual({});
              continue;
            }
            // What the engine holds for the order is what its open fulfilments say.
            const committed: Record<string, number> = {};
            for (const f of view.fulfilments) {
              if (f.status !== 'requested') continue;
              for (const l of f.lines)
                committed[`${l.sku}@${f.location}`] =
                  (committed[`${l.sku}@${f.location}`] ?? 0) + l.qty;
            }
            expect(mine).toEqual(committed);
            // Every ordered unit is placed or backordered, none twice.
            for (const [sku, qty] of orderLines[i] ?? []) {
              const placed = Object.entries(mine)
                .filter(([k]) => k.startsWith(`${sku}@`))
                .reduce((n, [, q]) => n + q, 0);
              const back = view.backordered.find((b) => b.sku === sku)?.qty ?? 0;
              expect(placed + back).toBe(qty);
            }
            held += Object.values(mine).reduce((n, q) => n + q, 0);
          }
          let allocated = 0;
          for (const p of positions(h) as ({ onHand: number; allocated: number } | null)[]) {
            if (p === null) continue;
            expect(p.allocated).toBeLessThanOrEqual(p.onHand);
            allocated += p.allocated;
          }
          expect(allocated).toBe(held);
        },
      ),
      { numRuns: 60 },
    );
  });
});
