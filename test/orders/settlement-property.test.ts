import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderResult, OrderView } from '../../orders/index.ts';
import { MemoryJournal } from '../engine/memory-journal.ts';
import { orderHarness, type OrderHarness } from './order-fixture.ts';

// A model-based property: random orders, shipments, short picks, rejections, cancellations,
// returns with refunds and retries of the last call, run against the order service with an ERP
// sink. At the end, per order: the settlement events are numbered 1, 2, 3... with no gap, each
// event's totals are the previous ones plus its own amount, and the last totals are what the
// order itself shows (shipped units invoiced at their line's price, cancelled units released,
// shipping invoiced with the first shipment or released with the last cancelled unit, credit
// notes credited). The journal, replayed, gives the same settlement and reconciliation.

const PRICE: Record<string, number> = { A: 700, B: 1300 };

type Action =
  | { kind: 'place'; a: number; b: number; shipping: number }
  | { kind: 'ship' | 'short' | 'reject'; order: number; f: number }
  | { kind: 'cancel'; order: number; line: number }
  | { kind: 'return'; order: number }
  | { kind: 'retry' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('place' as const),
      a: fc.integer({ min: 1, max: 3 }),
      b: fc.integer({ min: 0, max: 2 }),
      shipping: fc.constantFrom(0, 250, 499),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom('ship' as const, 'ship' as const, 'short' as const, 'reject' as const),
      order: fc.nat(5),
      f: fc.nat(2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('cancel' as const),
      order: fc.nat(5),
      line: fc.nat(1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('return' as const), order: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'retry' as const }) },
);

interface Event {
  seq: number;
  type: string;
  orderId: string;
  amount: number;
  totals: Record<'authorised' | 'invoiced' | 'released' | 'credited' | 'net' | 'open', number>;
}

const MOVES: Record<string, 'authorised' | 'invoiced' | 'released' | 'credited' | null> = {
  'order.placed': 'authorised',
  'fulfilment.shipped': 'invoiced',
  'order.cancelled': 'released',
  'return.received': null,
  'credit_note.issued': 'credited',
};

async function run(actions: readonly Action[]): Promise<void> {
  const journal = new MemoryJournal();
  const h = orderHarness({ journal, service: { settlementStreams: ['erp:webhook'] } });
  await h.stock('A', { paris: 4, lyon: 3, dc: 2 });
  await h.stock('B', { paris: 2, lyon: 2, dc: 1 });
  const orders: string[] = [];
  let last: (() => Promise<OrderResult>) | null = null;
  let n = 0;
  for (const a of actions) {
    let step: (() => Promise<OrderResult>) | null = null;
    if (a.kind === 'place') {
      const orderId = `p-${String(++n)}`;
      const lines = [
        { sku: 'A', qty: a.a, unitPrice: PRICE.A as number },
        ...(a.b > 0 ? [{ sku: 'B', qty: a.b, unitPrice: PRICE.B as number }] : []),
      ];
      const amount = lines.reduce((s, l) => s + l.qty * l.unitPrice, a.shipping);
      const body = {
        orderId,
        channel: 'web',
        customer: { id: 'c' },
        lines,
        delivery: { type: 'ship', address: { lat: 48.86, lon: 2.35 } },
        payment: { amount, currency: 'EUR' },
        shippingAmount: a.shipping,
      };
      orders.push(orderId);
      step = () => h.place(body);
    } else if (a.kind === 'retry') {
      step = last;
    } else {
      const orderId = orders.length === 0 ? null : orders[a.order % orders.length];
      const view = orderId === undefined || orderId === null ? null : h.orders.get(orderId);
      if (view !== null) step = stepFor(h, a, view, ++n);
    }
    if (step === null) continue;
    await step();
    last = step;
  }
  await h.idle();

  const sent = h.transport.sent.filter((m) => m.stream === 'erp:webhook');
  const day = new Date(h.clock.now()).toISOString().slice(0, 10);
  for (const orderId of orders) {
    const view = h.orders.get(orderId);
    if (view === null) continue;
    const events = sent.filter((m) => m.orderId === orderId).map((m) => m.body as Event);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]?.type).toBe('order.placed');
    let totals = { authorised: 0, invoiced: 0, released: 0, credited: 0 };
    for (const e of events) {
      const moves = MOVES[e.type];
      expect(moves, e.type).toBeDefined();
      if (moves !== null && moves !== undefined)
        totals = { ...totals, [moves]: totals[moves] + e.amount };
      expect(e.totals).toEqual({
        ...totals,
        net: totals.invoiced - totals.credited,
        open: totals.authorised - totals.invoiced - totals.released,
      });
      expect(e.totals.open).toBeGreaterThanOrEqual(0);
    }
    expect(totals).toEqual(model(view));
  }
  // Replay: the same settlement (numbers, totals, ledger), so the same reconciliation.
  const again = orderHarness({ start: false, service: { settlementStreams: ['erp:webhook'] } });
  again.engine.storage.replay(journal.records);
  expect(again.orders.reconciliation(day, null)).toEqual(h.orders.reconciliation(day, null));
  again.orders.start();
  await again.idle();
  expect(again.transport.sent).toEqual([]);
  expect(again.orders.stats().settlement.pending).toBe(0);
}

/** What an order's money should be, read from the order as the API shows it. */
function model(
  view: OrderView,
): Record<'authorised' | 'invoiced' | 'released' | 'credited', number> {
  let shippedAmount = 0;
  let anyShipped = false;
  for (const f of view.fulfilments) {
    if (f.status !== 'shipped' && f.status !== 'delivered') continue;
    for (const l of f.lines) {
      shippedAmount += l.qty * (PRICE[l.sku] as number);
      if (l.qty > 0) anyShipped = true;
    }
  }
  let cancelledAmount = 0;
  let allCancelled = true;
  for (const l of view.lines) {
    cancelledAmount += l.cancelled * l.unitPrice;
    if (l.cancelled < l.qty) allCancelled = false;
  }
  let credited = 0;
  for (const r of view.returns) for (const c of r.creditNotes) credited += c.total + c.exchange;
  return {
    authorised: view.payment.amount,
    invoiced: shippedAmount + (anyShipped ? view.shippingAmount : 0),
    released: cancelledAmount + (allCancelled ? view.shippingAmount : 0),
    credited,
  };
}

function stepFor(
  h: OrderHarness,
  a: Exclude<Action, { kind: 'place' | 'retry' }>,
  view: OrderView,
  n: number,
): (() => Promise<OrderResult>) | null {
  const orderId = view.orderId;
  if (a.kind === 'cancel') {
    const line = view.lines[a.line % view.lines.length];
    if (line === undefined) return null;
    return () => h.orders.cancel(orderId, { lines: [{ lineId: line.lineId }] }, null);
  }
  if (a.kind === 'return') {
    const shipped = view.fulfilments.find((f) => f.status === 'shipped');
    const sku = shipped?.lines[0]?.sku;
    const line = view.lines.find((l) => l.sku === sku);
    if (line === undefined) return null;
    const returnId = `r-${String(n)}`;
    return async () => {
      const requested = await h.orders.requestReturn(
        orderId,
        { returnId, lines: [{ lineId: line.lineId, qty: 1, reason: 'damaged' }] },
        null,
      );
      if (!requested.ok) return requested;
      await h.orders.receiveReturn(
        returnId,
        {
          receiptId: `rc-${String(n)}`,
          location: 'lyon',
          lines: [{ lineId: line.lineId, disposition: 'restock', qty: 1 }],
        },
        null,
      );
      return h.orders.refundReturn(returnId, { creditNoteId: `cn-${String(n)}` }, null);
    };
  }
  const open = view.fulfilments.filter((f) =>
    ['requested', 'accepted', 'picked'].includes(f.status),
  );
  const f = open[a.f % Math.max(1, open.length)];
  if (f === undefined) return null;
  const answer =
    a.kind === 'ship'
      ? { type: 'shipped' as const, tracking: `t-${f.fulfilmentId}` }
      : a.kind === 'short'
        ? {
            type: 'short_picked' as const,
            picked: f.lines.map((l) => ({ sku: l.sku, qty: l.qty - 1 })),
          }
        : { type: 'rejected' as const, reason: 'no staff' };
  return () => h.orders.fulfilmentAnswer(f.fulfilmentId, answer, null);
}

describe('settlement events, property', () => {
  it('are numbered without gaps, add up, match the order and replay to the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 30 }), (actions) =>
        run(actions),
      ),
      { numRuns: 60 },
    );
  });
});
