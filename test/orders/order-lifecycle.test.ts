import { describe, expect, it } from 'vitest';
import type { SourcingProfile } from '../../orders/index.ts';
import {
  BY_DISTANCE,
  holdings,
  lyonFirstHarness,
  NEAR_LYON,
  order,
  orderHarness,
} from './order-fixture.ts';

describe('placing an order', () => {
  it('sources each line to the nearest location with stock and tells location and customer', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 5, lyon: 5 });
    await h.stock('B', { lyon: 5, dc: 5 });
    await h.stock('C', { dc: 5 });
    const body = order([
      ['A', 2],
      ['C', 1],
    ]);
    const r = await h.placed(body);
    expect(r.created).toBe(true);
    expect(r.order.status).toBe('fulfilment_requested');
    const where = r.order.fulfilments.map((f) => [f.location, f.lines]);
    // No location has both: A from Paris (nearest), C from the DC, its only location.
    expect(where).toEqual([
      ['paris', [{ sku: 'A', qty: 2 }]],
      ['dc', [{ sku: 'C', qty: 1 }]],
    ]);
    expect(holdings(h, body.orderId as string)).toEqual({ 'A@paris': 2, 'C@dc': 1 });
    expect(h.engine.position('A', 'paris')).toMatchObject({ onHand: 5, allocated: 2 });
    await h.idle();
    expect(h.transport.types('location:paris')).toEqual(['fulfilment.requested']);
    expect(h.transport.types('location:dc')).toEqual(['fulfilment.requested']);
    expect(h.transport.types('customer')).toEqual(['order.confirmed']);
    const explained = r.order.sourcing[0]?.explanation;
    expect(explained?.candidates.find((c) => c.location === 'paris')?.outcome).toBe('chosen');
    expect(h.orders.get(body.orderId as string)?.pendingMessages).toBe(0);
    // One location holding everything wins over two nearer shipments.
    const both = await h.placed(
      order([
        ['A', 1],
        ['B', 1],
      ]),
    );
    expect(both.order.fulfilments.map((f) => f.location)).toEqual(['lyon']);
  });

  it('refuses a payment that does not match the lines plus shipping', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 5 });
    const body = { ...order([['A', 2]]), payment: { amount: 1999, currency: 'EUR' } };
    const r = await h.place(body);
    expect(r).toMatchObject({ ok: false, code: 'BAD_REQUEST', reason: 'PAYMENT_MISMATCH' });
    const shipped = {
      ...order([['A', 2]]),
      shippingAmount: 499,
      payment: { amount: 2499, currency: 'EUR' },
    };
    expect((await h.place(shipped)).ok).toBe(true);
  });

  it('refuses bad input with every problem named, and unknown SKUs and channels', async () => {
    const h = orderHarness();
    const bad = await h.place({ orderId: 'x', lines: [{ sku: 'A', qty: 0 }] });
    expect(bad).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(bad.ok ? '' : bad.message).toMatch(/channel/);
    expect(await h.place(order([['Z', 1]]))).toMatchObject({
      ok: false,
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_SKU',
    });
    expect(await h.place(order([['A', 1]], { channel: 'nope' }))).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_CHANNEL',
    });
    expect(h.orders.stats().orders).toBe(0);
  });

  it('creates one order when the same request arrives ten times at once', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 20 });
    const body = order([['A', 3]]);
    const results = await Promise.all(Array.from({ length: 10 }, () => h.place(body, 'key-1')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.ok && r.created)).toHaveLength(1);
    expect(
      new Set(results.map((r) => (r.ok ? r.order.fulfilments[0]?.fulfilmentId : null))).size,
    ).toBe(1);
    expect(h.engine.position('A', 'paris')?.allocated).toBe(3);
    expect(h.orders.stats().orders).toBe(1);
  });

  it('answers CONFLICT for another body under the same order id or Idempotency-Key', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 20 });
    const body = order([['A', 1]]);
    await h.placed(body, 'k');
    expect(
      await h.place({ ...body, lines: [{ sku: 'A', qty: 2, unitPrice: 500 }] }, 'k'),
    ).toMatchObject({
      ok: false,
      code: 'CONFLICT',
      reason: 'ID_REUSED',
    });
    expect(await h.place(order([['A', 1]]), 'k')).toMatchObject({ ok: false, code: 'CONFLICT' });
    // Keys are scoped per channel.
    expect((await h.place(order([['A', 1]], { channel: 'app' }), 'k')).ok).toBe(true);
  });

  it('confirms the checkout reservation into the order at its location', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 5, lyon: 5 });
    const hold = await h.engine.execute({
      op: 'reserve',
      reservationId: 'cart-1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'lyon',
    });
    expect(hold.ok).toBe(true);
    const body = order([['A', 2, 'cart-1']]);
    const r = await h.placed(body);
    expect(r.order.fulfilments.map((f) => f.location)).toEqual(['lyon']);
    expect(h.engine.reservation('cart-1')).toMatchObject({
      state: 'confirmed',
      orderId: body.orderId,
    });
    expect(h.engine.position('A', 'lyon')).toMatchObject({ reserved: 0, allocated: 2 });
    expect(h.engine.position('A', 'paris')?.allocated).toBe(0);
  });

  it('refuses an order it cannot ship under the split policy and keeps nothing held', async () => {
    const single: SourcingProfile = { ...BY_DISTANCE, name: 'single', split: { policy: 'single' } };
    const h = orderHarness({ profiles: [single] });
    await h.stock('A', { paris: 2 });
    await h.stock('B', { lyon: 2 });
    await h.engine.execute({
      op: 'reserve',
      reservationId: 'cart',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'paris',
    });
    const body = order([
      ['A', 1, 'cart'],
      ['B', 1],
    ]);
    const r = await h.place(body);
    expect(r).toMatchObject({ ok: false, code: 'INSUFFICIENT_STOCK', reason: 'NOT_SOURCEABLE' });
    expect(r.ok ? null : r.order?.status).toBe('cancelled');
    expect(holdings(h, body.orderId as string)).toEqual({});
    expect(h.engine.position('A', 'paris')).toMatchObject({ reserved: 0, allocated: 0 });
    // The same request again answers the same.
    expect(await h.place(body)).toMatchObject({ ok: false, reason: 'NOT_SOURCEABLE' });
  });

  it('backorders what is missing under the backorder policy and sources it when stock arrives', async () => {
    const backorder: SourcingProfile = {
      ...BY_DISTANCE,
      name: 'bo',
      split: { policy: 'backorder', maxShipments: null },
    };
    const h = orderHarness({ profiles: [backorder] });
    await h.stock('A', { paris: 1 });
    const body = order([['A', 3]]);
    const r = await h.placed(body);
    expect(r.order.status).toBe('backordered');
    expect(r.order.backordered).toEqual([{ sku: 'A', qty: 2 }]);
    await h.idle();
    expect(h.transport.types('customer')).toEqual(['order.confirmed', 'order.delayed']);
    await h.stock('A', { lyon: 5 });
    h.clock.advance(30_000);
    await h.idle();
    const after = h.orders.get(body.orderId as string);
    expect(after?.backordered).toEqual([]);
    expect(after?.fulfilments.map((f) => [f.location, f.lines[0]?.qty])).toEqual([
      ['paris', 1],
      ['lyon', 2],
    ]);
    expect(after?.status).toBe('fulfilment_requested');
  });
});

describe('the nearest pre-filter', () => {
  const byPriority: SourcingProfile = {
    ...BY_DISTANCE,
    name: 'priority',
    criteria: [{ criterion: 'priority', weight: 1 }],
    split: { policy: 'single' },
  };
  const locations = [
    { id: 'lyon', priority: 10, dailyCapacity: null, shippingCost: 0, zoneCosts: {} },
    { id: 'paris', priority: 0, dailyCapacity: null, shippingCost: 0, zoneCosts: {} },
  ];

  it('weighs only the nearest locations with stock, and all of them when those cannot place it', async () => {
    const all = orderHarness({ profiles: [byPriority], service: { locations } });
    const near = orderHarness({
      profiles: [{ ...byPriority, nearest: 1 }],
      service: { locations },
    });
    for (const h of [all, near]) {
      await h.stock('A', { paris: 5, lyon: 5 });
      await h.stock('B', { lyon: 5 });
    }
    // Priority alone would take Lyon; with only the nearest one weighed, Paris ships.
    expect((await all.placed(order([['A', 1]]))).order.fulfilments[0]?.location).toBe('lyon');
    const r = await near.placed(order([['A', 1]]));
    expect(r.order.fulfilments[0]?.location).toBe('paris');
    expect(r.order.sourcing[0]?.explanation?.candidates.map((c) => c.location)).toEqual(['paris']);
    // Paris cannot ship A and B complete: every location is weighed, and Lyon ships.
    const both = await near.placed(
      order([
        ['A', 1],
        ['B', 1],
      ]),
    );
    expect(both.order.fulfilments.map((f) => f.location)).toEqual(['lyon']);
  });
});

describe('fulfilment answers', () => {
  async function placedAtParis(): Promise<{
    h: ReturnType<typeof orderHarness>;
    orderId: string;
    fid: string;
  }> {
    const h = orderHarness();
    await h.stock('A', { paris: 5, lyon: 5 });
    const body = order([['A', 2]]);
    const r = await h.placed(body);
    return { h, orderId: body.orderId as string, fid: r.order.fulfilments[0]?.fulfilmentId ?? '' };
  }

  it('ships: allocated and onHand go down, the customer gets the tracking, then delivered', async () => {
    const { h, orderId, fid } = await placedAtParis();
    const byStatus = (): Record<string, number> => Object.fromEntries(h.orders.stats().byStatus);
    expect(byStatus()).toEqual({ fulfilment_requested: 1 });
    expect((await h.orders.fulfilmentAnswer(fid, { type: 'accepted' }, 'paris')).ok).toBe(true);
    expect(byStatus()).toEqual({ accepted: 1 });
    const shipped = await h.orders.fulfilmentAnswer(
      fid,
      { type: 'shipped', carrier: 'DHL', tracking: 'T1' },
      'paris',
    );
    expect(shipped.ok && shipped.order.status).toBe('shipped');
    expect(h.engine.position('A', 'paris')).toMatchObject({ onHand: 3, allocated: 0 });
    // The same answer again is a duplicate, another tracking number a conflict.
    expect(
      await h.orders.fulfilmentAnswer(
        fid,
        { type: 'shipped', carrier: 'DHL', tracking: 'T1' },
        'paris',
      ),
    ).toMatchObject({
      ok: true,
      duplicate: true,
    });
    expect(
      await h.orders.fulfilmentAnswer(fid, { type: 'shipped', tracking: 'T2' }, 'paris'),
    ).toMatchObject({
      ok: false,
      code: 'CONFLICT',
    });
    expect(h.engine.position('A', 'paris')?.onHand).toBe(3);
    const delivered = await h.orders.fulfilmentAnswer(fid, { type: 'delivered' }, null);
    expect(delivered.ok && delivered.order.status).toBe('delivered');
    expect(byStatus()).toEqual({ delivered: 1 });
    await h.idle();
    const shippedMsg = h.transport.sent.find((m) => m.type === 'order.shipped');
    expect(shippedMsg?.body).toMatchObject({ carrier: 'DHL', tracking: 'T1' });
    expect(h.transport.types('customer')).toEqual([
      'order.confirmed',
      'order.shipped',
      'order.delivered',
    ]);
    expect(h.orders.get(orderId)?.history.map((e) => e.event)).toEqual([
      'order.received',
      'order.sourced',
      'fulfilment.accepted',
      'fulfilment.shipped',
      'fulfilment.delivered',
    ]);
  });

  it('re-sources a rejected fulfilment elsewhere and hands the stock back', async () => {
    const { h, orderId, fid } = await placedAtParis();
    const r = await h.orders.fulfilmentAnswer(
      fid,
      { type: 'rejected', reason: 'damaged' },
      'paris',
    );
    expect(r.ok).toBe(true);
    const view = h.orders.get(orderId);
    expect(view?.fulfilments.map((f) => [f.location, f.status])).toEqual([
      ['paris', 'rejected'],
      ['lyon', 'requested'],
    ]);
    expect(holdings(h, orderId)).toEqual({ 'A@lyon': 2 });
    expect(h.engine.position('A', 'paris')?.allocated).toBe(0);
    expect(view?.sourcing).toHaveLength(2);
    const second = view?.sourcing[1]?.explanation?.candidates.find((c) => c.location === 'paris');
    expect(second?.outcome).toBe('skipped');
    expect(second?.reason).toMatch(/rejected/);
  });

  it('corrects onHand on a short pick and re-sources the shortfall', async () => {
    const { h, orderId, fid } = await placedAtParis();
    const r = await h.orders.fulfilmentAnswer(
      fid,
      { type: 'short_picked', picked: [{ sku: 'A', qty: 1 }] },
      'paris',
    );
    expect(r.ok).toBe(true);
    expect(h.engine.position('A', 'paris')).toMatchObject({ onHand: 4, allocated: 1 });
    expect(holdings(h, orderId)).toEqual({ 'A@paris': 1, 'A@lyon': 1 });
    expect(
      h.orders.get(orderId)?.fulfilments.map((f) => [f.location, f.status, f.lines[0]?.qty]),
    ).toEqual([
      ['paris', 'picked', 1],
      ['lyon', 'requested', 1],
    ]);
  });

  it('escalates a fulfilment not answered in time and re-sources it', async () => {
    const { h, orderId } = await placedAtParis();
    h.clock.advance(60_001);
    await h.idle();
    const view = h.orders.get(orderId);
    expect(view?.fulfilments.map((f) => [f.location, f.status])).toEqual([
      ['paris', 'timed_out'],
      ['lyon', 'requested'],
    ]);
    expect(holdings(h, orderId)).toEqual({ 'A@lyon': 2 });
    expect(h.transport.types('location:paris')).toEqual([
      'fulfilment.requested',
      'fulfilment.cancelled',
    ]);
    expect(h.orders.stats().timeouts).toBe(1);
    // A late answer from Paris no longer applies.
    const late = await h.orders.fulfilmentAnswer(
      view?.fulfilments[0]?.fulfilmentId ?? '',
      { type: 'accepted' },
      'paris',
    );
    expect(late).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ORDER_STATE' });
  });

  it("refuses another location's answer", async () => {
    const { h, fid } = await placedAtParis();
    expect(await h.orders.fulfilmentAnswer(fid, { type: 'accepted' }, 'lyon')).toMatchObject({
      ok: false,
      code: 'FORBIDDEN',
      reason: 'OTHER_LOCATION',
    });
    expect(await h.orders.fulfilmentAnswer('nope', { type: 'accepted' }, null)).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_FULFILMENT',
    });
  });
});

describe('cancelling', () => {
  it('releases every allocation of an order cancelled before shipment', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 5, lyon: 5 });
    await h.stock('B', { lyon: 5 });
    const body = order([
      ['A', 2],
      ['B', 1],
    ]);
    await h.placed(body);
    const r = await h.orders.cancel(body.orderId as string, { reason: 'changed my mind' }, null);
    expect(r.ok && r.order.status).toBe('cancelled');
    expect(h.orders.stats().byStatus.get('cancelled')).toBe(1);
    expect(h.orders.stats().byStatus.has('fulfilment_requested')).toBe(false);
    expect(holdings(h, body.orderId as string)).toEqual({});
    expect(h.engine.position('A', 'lyon')?.allocated).toBe(0);
    await h.idle();
    expect(h.transport.types('location:lyon')).toEqual([
      'fulfilment.requested',
      'fulfilment.cancelled',
    ]);
    expect(h.transport.types('customer')).toEqual(['order.confirmed', 'order.cancelled']);
  });

  it('cancels part of a line, and refuses to cancel shipped units', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 5 });
    const body = order([['A', 3]]);
    const placed = await h.placed(body);
    const orderId = body.orderId as string;
    const partial = await h.orders.cancel(orderId, { lines: [{ lineId: '1', qty: 1 }] }, null);
    expect(partial.ok && partial.order.lines[0]?.cancelled).toBe(1);
    expect(holdings(h, orderId)).toEqual({ 'A@paris': 2 });
    const fid = placed.order.fulfilments[0]?.fulfilmentId ?? '';
    await h.orders.fulfilmentAnswer(fid, { type: 'shipped', tracking: 'T' }, 'paris');
    expect(await h.orders.cancel(orderId, {}, null)).toMatchObject({
      ok: false,
      code: 'CONFLICT',
      reason: 'ORDER_STATE',
    });
    expect(await h.orders.cancel(orderId, {}, 'app')).toMatchObject({
      ok: false,
      code: 'FORBIDDEN',
    });
    expect(await h.orders.cancel('nope', {}, null)).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_ORDER',
    });
  });
});

describe('network reservations', () => {
  it('are held where the channel profile would source them', async () => {
    const h = lyonFirstHarness();
    // Paris has more, which the engine's default split would take first.
    await h.stock('A', { paris: 9, lyon: 3 });
    const r = await h.engine.execute({
      op: 'reserve',
      reservationId: 'n1',
      channel: 'web',
      sku: 'A',
      qty: 4,
    });
    expect(r.ok && r.reservation?.lines).toEqual([
      { location: 'lyon', qty: 3 },
      { location: 'paris', qty: 1 },
    ]);
  });

  it('still work for a ship order placed towards Lyon', async () => {
    const h = orderHarness();
    await h.stock('A', { paris: 5, lyon: 5 });
    const r = await h.placed(order([['A', 1]], { delivery: { type: 'ship', address: NEAR_LYON } }));
    expect(r.order.fulfilments[0]?.location).toBe('lyon');
  });
});
