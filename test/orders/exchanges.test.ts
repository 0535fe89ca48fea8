import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../engine/index.ts';
import { DEFAULT_RETURN_POLICY, type ReturnPolicy } from '../../orders/index.ts';
import { MemoryJournal } from '../engine/memory-journal.ts';
import { holdings, order, orderHarness, type OrderHarness } from './order-fixture.ts';
import { ok, returnOf, shipped } from './return-fixture.ts';

// Exchanges through the order service: a return names replacement lines, the receipt that
// brings the units back places them as an order of their own (sourced, its fulfilment sent like
// any order's), the refund is reduced by what the replacement is worth, and retries and a crash
// between the return's event and the new order's placement place it exactly once.

function harness(policy: Partial<ReturnPolicy> = {}, journal?: MemoryJournal): OrderHarness {
  return orderHarness({
    ...(journal === undefined ? {} : { journal }),
    service: { returns: { ...DEFAULT_RETURN_POLICY, ...policy } },
  });
}

/** The order event a journal record carries, if it is one. */
function orderEvent(r: JournalRecord): { readonly kind: string; readonly orderId: string } | null {
  if (r.entry.type !== 'ext' || r.entry.kind !== 'order') return null;
  const record = r.entry.record as {
    readonly event?: { readonly kind: string; readonly orderId: string };
  };
  return record.event ?? null;
}

/** Fulfilment requests sent to a location for one order. */
function requestsFor(h: OrderHarness, location: string, orderId: string): number {
  return h.transport.sent.filter(
    (m) =>
      m.stream === `location:${location}` &&
      m.type === 'fulfilment.requested' &&
      m.orderId === orderId,
  ).length;
}

/** A shipped order of 2 x A at 1000; a return of both with 1 x C (at `price`) instead. */
async function exchangeRequested(h: OrderHarness, price = 2000, qty = 2) {
  await h.stock('A', { paris: 5 });
  await h.stock('C', { paris: 3 });
  const { orderId } = await shipped(h, [['A', 2]]);
  const body = {
    returnId: `x-${orderId}`,
    lines: [{ lineId: '1', qty, reason: 'size' }],
    exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: price }] },
  };
  const requested = ok(await h.orders.requestReturn(orderId, body, null));
  return {
    orderId,
    returnId: body.returnId,
    requested,
    exchangeId: `${orderId}~x~${body.returnId}`,
  };
}

const receipt = {
  receiptId: 'parcel-1',
  lines: [{ lineId: '1', disposition: 'restock', qty: 2 }],
};

describe('exchanges through the order service', () => {
  it('places the replacement as its own order when the units are received, exactly once', async () => {
    const h = harness();
    const { orderId, returnId, requested, exchangeId } = await exchangeRequested(h);
    expect(returnOf(requested, returnId)).toMatchObject({
      exchangeOrderId: null,
      exchange: { status: 'awaiting_receipt', value: 2000 },
    });
    expect(h.orders.get(exchangeId)).toBeNull();

    const received = ok(await h.orders.receiveReturn(returnId, receipt, 'paris'));
    expect(returnOf(received, returnId)).toMatchObject({
      status: 'received',
      exchangeOrderId: exchangeId,
      exchange: { status: 'placed', credited: 0 },
    });
    // The new order: sourced by the same strategy as any order, linked back to the return.
    const placed = h.orders.get(exchangeId);
    expect(placed).toMatchObject({
      status: 'fulfilment_requested',
      channel: 'web',
      customer: { id: 'c-1' },
      lines: [{ sku: 'C', qty: 1, unitPrice: 2000 }],
      payment: { amount: 2000, currency: 'EUR', provider: 'exchange' },
      shippingAmount: 0,
      exchangeFor: { orderId, returnId },
    });
    expect(placed?.fulfilments.map((f) => [f.location, f.lines])).toEqual([
      ['paris', [{ sku: 'C', qty: 1 }]],
    ]);
    expect(holdings(h, exchangeId)).toEqual({ 'C@paris': 1 });
    expect(h.orders.get(orderId)?.exchangeFor).toBeNull();
    expect(h.orders.get(orderId)?.history.at(-1)).toMatchObject({
      event: 'return.received',
      detail: expect.stringContaining(`exchange ${exchangeId} placed`) as unknown,
    });
    await h.idle();
    expect(requestsFor(h, 'paris', exchangeId)).toBe(1);
    const customer = h.transport.sent.filter((m) => m.stream === 'customer');
    expect(customer.filter((m) => m.orderId === orderId).map((m) => m.type)).toEqual([
      'order.confirmed',
      'order.shipped',
      'return.requested',
      'return.received',
      'return.exchange_placed',
    ]);
    expect(customer.find((m) => m.type === 'return.exchange_placed')?.body).toMatchObject({
      returnId,
      exchangeOrderId: exchangeId,
      value: 2000,
    });
    expect(customer.filter((m) => m.orderId === exchangeId).map((m) => m.type)).toEqual([
      'order.confirmed',
    ]);

    // A retried receipt (a lost answer): a duplicate, nothing placed or allocated twice.
    const placedCount = h.orders.stats().placed;
    const version = h.orders.get(exchangeId)?.version;
    const again = ok(await h.orders.receiveReturn(returnId, receipt, 'paris'));
    expect(again.duplicate).toBe(true);
    await h.idle();
    expect(h.orders.stats().placed).toBe(placedCount);
    expect(h.orders.get(exchangeId)?.version).toBe(version);
    expect(h.engine.position('C', 'paris')).toMatchObject({ onHand: 3, allocated: 1 });
    expect(requestsFor(h, 'paris', exchangeId)).toBe(1);

    // An even exchange: the credit note pays nothing back, the replacement took the value.
    const refund = ok(await h.orders.refundReturn(returnId, { creditNoteId: 'cn-1' }, null));
    expect(returnOf(refund, returnId)).toMatchObject({
      status: 'refunded',
      creditNotes: [{ merchandise: 2000, exchange: 2000, total: 0 }],
      exchange: { credited: 2000 },
    });
    // The exchange order is an order like any other: it ships, and may be returned in turn.
    const f = placed?.fulfilments[0]?.fulfilmentId ?? '';
    ok(await h.orders.fulfilmentAnswer(f, { type: 'shipped', tracking: 'T-x' }, 'paris'));
    ok(
      await h.orders.requestReturn(
        exchangeId,
        { returnId: 'x2', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
        null,
      ),
    );
  });

  it('places an advance exchange at the request; missing units shrink what it is credited', async () => {
    const h = harness({ exchangeOn: 'request' });
    const { returnId, requested, exchangeId } = await exchangeRequested(h, 1500);
    expect(returnOf(requested, returnId)).toMatchObject({
      exchangeOrderId: exchangeId,
      exchange: { status: 'placed' },
    });
    expect(holdings(h, exchangeId)).toEqual({ 'C@paris': 1 });
    ok(
      await h.orders.receiveReturn(
        returnId,
        {
          receiptId: 'parcel-1',
          lines: [
            { lineId: '1', disposition: 'restock', qty: 1 },
            { lineId: '1', disposition: 'missing', qty: 1 },
          ],
        },
        'paris',
      ),
    );
    const refund = ok(await h.orders.refundReturn(returnId, { creditNoteId: 'cn-1' }, null));
    // One unit (1000) came back for a 1500 replacement: nothing to pay back, 500 not covered.
    expect(returnOf(refund, returnId)).toMatchObject({
      creditNotes: [{ merchandise: 1000, exchange: 1000, total: 0 }],
      exchange: { value: 1500, credited: 1000 },
    });
  });

  it('an exchange order that cannot be sourced is cancelled, and the refund pays back all', async () => {
    const h = harness();
    await h.stock('A', { paris: 5 });
    const { orderId } = await shipped(h, [['A', 1]]);
    // B has no stock anywhere and the profile does not backorder.
    ok(
      await h.orders.requestReturn(
        orderId,
        {
          returnId: 'r-b',
          lines: [{ lineId: '1', qty: 1, reason: 'size' }],
          exchange: { lines: [{ sku: 'B', qty: 1, unitPrice: 1000 }] },
        },
        null,
      ),
    );
    ok(await h.orders.receiveReturn('r-b', oneBack(), 'paris'));
    const exchangeId = `${orderId}~x~r-b`;
    expect(h.orders.get(exchangeId)).toMatchObject({
      status: 'cancelled',
      exchangeFor: { orderId, returnId: 'r-b' },
    });
    const refund = ok(await h.orders.refundReturn('r-b', { creditNoteId: 'cn-1' }, null));
    expect(returnOf(refund, 'r-b').creditNotes[0]).toMatchObject({ exchange: 0, total: 1000 });
  });

  it('refuses a replacement worth more than the return, and client orders under exchange ids', async () => {
    const h = harness();
    await h.stock('A', { paris: 5 });
    const { orderId } = await shipped(h, [['A', 1]]);
    const over = await h.orders.requestReturn(
      orderId,
      {
        returnId: 'r-1',
        lines: [{ lineId: '1', qty: 1, reason: 'size' }],
        exchange: { lines: [{ sku: 'C', qty: 2, unitPrice: 600 }] },
      },
      null,
    );
    expect(over).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'EXCHANGE_EXCEEDS_RETURN' });
    expect(h.orders.get(orderId)?.returns).toEqual([]);
    const taken = await h.place(order([['A', 1]], { orderId: `${orderId}~x~r-1` }));
    expect(taken).toMatchObject({ ok: false, code: 'BAD_REQUEST', reason: 'INVALID_ID' });
  });
});

/** A receipt of one unit, restocked. */
function oneBack() {
  return { receiptId: 'parcel-1', lines: [{ lineId: '1', disposition: 'restock', qty: 1 }] };
}

describe('exchanges and retention', () => {
  it('keeps a completed exchange order while its original order is in memory', async () => {
    const h = harness();
    const { returnId, exchangeId } = await exchangeRequested(h);
    ok(await h.orders.receiveReturn(returnId, receipt, 'paris'));
    const f = h.orders.get(exchangeId)?.fulfilments[0]?.fulfilmentId ?? '';
    ok(await h.orders.fulfilmentAnswer(f, { type: 'shipped', tracking: 'T-x' }, null));
    ok(await h.orders.fulfilmentAnswer(f, { type: 'delivered' }, null));
    expect(h.orders.get(exchangeId)?.status).toBe('delivered');
    // Past its retention (and its own return window): still kept, so that the original's
    // retried receipt (or a restart) finds it instead of placing it again.
    await h.idle();
    h.clock.advance(40 * 86_400_000);
    await h.idle();
    h.clock.advance(86_400_000);
    await h.idle();
    expect(h.orders.get(exchangeId)?.status).toBe('delivered');
    const placed = h.orders.stats().placed;
    expect(ok(await h.orders.receiveReturn(returnId, receipt, 'paris')).duplicate).toBe(true);
    await h.idle();
    expect(h.orders.stats().placed).toBe(placed);
    // Shipped once (3 - 1), nothing allocated again.
    expect(h.engine.position('C', 'paris')).toMatchObject({ onHand: 2, allocated: 0 });
  });
});

describe('exchanges across a crash', () => {
  it('a crash between the return event and the placement places the exchange once on restart', async () => {
    const journal = new MemoryJournal();
    const live = harness({}, journal);
    const { orderId, returnId, exchangeId } = await exchangeRequested(live);
    ok(await live.orders.receiveReturn(returnId, receipt, 'paris'));
    await live.idle();
    // The crash: the receipt (and its restock) reached the journal, the exchange order did not.
    const cut = journal.records.findIndex(
      (r) => orderEvent(r)?.kind === 'received' && orderEvent(r)?.orderId === exchangeId,
    );
    expect(cut).toBeGreaterThan(0);
    const records = journal.records.slice(0, cut);
    const after = orderHarness({ start: false });
    after.engine.storage.replay(records);
    expect(after.orders.get(exchangeId)).toBeNull();
    expect(after.orders.getReturn(returnId)?.return.exchangeOrderId).toBe(exchangeId);
    after.orders.start();
    await after.idle();
    const view = after.orders.get(exchangeId);
    expect(view).toMatchObject({
      status: 'fulfilment_requested',
      exchangeFor: { orderId, returnId },
    });
    expect(holdings(after, exchangeId)).toEqual({ 'C@paris': 1 });
    expect(after.engine.position('C', 'paris')).toMatchObject({ onHand: 3, allocated: 1 });
    expect(after.engine.position('A', 'paris')).toEqual(live.engine.position('A', 'paris'));
    expect(requestsFor(after, 'paris', exchangeId)).toBe(1);
    // The customer's retry of the receipt after the restart places nothing more.
    const retry = ok(await after.orders.receiveReturn(returnId, receipt, 'paris'));
    expect(retry.duplicate).toBe(true);
    await after.idle();
    expect(after.orders.get(exchangeId)?.version).toBe(view?.version);
    expect(after.engine.position('C', 'paris')).toMatchObject({ allocated: 1 });
    expect(requestsFor(after, 'paris', exchangeId)).toBe(1);
  });

  it('a placement the journal refuses at restart is tried again by the sweep, once', async () => {
    const journal = new MemoryJournal();
    const live = harness({}, journal);
    const { returnId, exchangeId } = await exchangeRequested(live);
    ok(await live.orders.receiveReturn(returnId, receipt, 'paris'));
    await live.idle();
    const cut = journal.records.findIndex(
      (r) => orderEvent(r)?.kind === 'received' && orderEvent(r)?.orderId === exchangeId,
    );
    const restarted = new MemoryJournal();
    const after = orderHarness({ start: false, journal: restarted });
    after.engine.storage.replay(journal.records.slice(0, cut));
    restarted.down = true;
    after.orders.start();
    await after.idle();
    expect(after.orders.get(exchangeId)).toBeNull();
    expect(holdings(after, exchangeId)).toEqual({});
    restarted.down = false;
    after.clock.advance(1_000); // the engine resyncs on its own
    await after.idle();
    after.clock.advance(30_000); // the sweep (orders.fulfilment.backorderRetryMs)
    await after.idle();
    expect(after.orders.get(exchangeId)).toMatchObject({ status: 'fulfilment_requested' });
    expect(holdings(after, exchangeId)).toEqual({ 'C@paris': 1 });
    after.clock.advance(30_000);
    await after.idle();
    expect(after.orders.get(exchangeId)?.version).toBe(2);
    expect(after.engine.position('C', 'paris')).toMatchObject({ allocated: 1 });
  });

  it('replaying the whole journal gives the same orders, and places nothing again', async () => {
    const journal = new MemoryJournal();
    const live = harness({}, journal);
    const { orderId, returnId, exchangeId } = await exchangeRequested(live, 1500);
    ok(await live.orders.receiveReturn(returnId, receipt, 'paris'));
    ok(await live.orders.refundReturn(returnId, { creditNoteId: 'cn-1' }, null));
    await live.idle();
    const again = orderHarness({ start: false });
    again.engine.storage.replay(journal.records);
    for (const id of [orderId, exchangeId]) {
      expect(again.orders.get(id)).toEqual(live.orders.get(id));
    }
    again.orders.start();
    await again.idle();
    expect(again.orders.stats().placed).toBe(0);
    expect(again.engine.position('C', 'paris')).toEqual(live.engine.position('C', 'paris'));
  });
});
