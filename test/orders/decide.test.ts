import { describe, expect, it } from 'vitest';
import { decideAnswer, type FulfilmentAnswer } from '../../orders/decide-answer.ts';
import { decideCancel, type CancelRequest } from '../../orders/decide-cancel.ts';
import { decidePlace, type PlaceContext } from '../../orders/decide-place.ts';
import { decideTimeout } from '../../orders/decide-timeout.ts';
import type { DecideContext, Decided, Decision, Refusal } from '../../orders/decision.ts';
import type { FulfilmentUpdate, PlannedFulfilment } from '../../orders/order-events.ts';
import { fingerprintOf } from '../../orders/order-input.ts';
import type { Order } from '../../orders/order-state.ts';
import { orderInput, receivedOrder } from './order-fixture.ts';

// The decide functions are pure: an order built from plain events, a command and a plain
// context object in, events, stock commands, messages or an error out. No engine anywhere.

const NOTIFY: DecideContext = { notifyCustomers: true, settlementStreams: [] };
const SILENT: DecideContext = { notifyCustomers: false, settlementStreams: [] };

/** An order sourced to `fulfilments` ([location, [sku, qty][]]), F1, F2, ... */
function sourced(
  orderId: string,
  fulfilments: readonly (readonly [string, readonly (readonly [string, number])[]])[],
  extra = {},
): Order {
  const order = receivedOrder(orderId, null, extra);
  const planned: PlannedFulfilment[] = fulfilments.map(([location, lines], i) => ({
    fulfilmentId: `${orderId}-F${String(i + 1)}`,
    location,
    lines,
    dueBy: 61_000,
  }));
  order.apply({
    kind: 'sourced',
    orderId,
    version: 2,
    at: 2_000,
    messages: [],
    attempt: 1,
    fulfilments: planned,
    backordered: [],
    explanation: null,
  });
  return order;
}

/** Applies a fulfilment update as the runner would after the decision. */
function update(order: Order, fulfilmentId: string, kind: FulfilmentUpdate, tracking = null) {
  order.apply({
    kind: 'fulfilment',
    orderId: order.orderId,
    version: order.version + 1,
    at: 3_000,
    messages: [],
    fulfilmentId,
    update: kind,
    picked: null,
    carrier: null,
    tracking,
    reason: null,
  });
}

function applies(d: Decided | null): Decision {
  if (d === null || !d.ok) throw new Error(`expected a decision, got ${JSON.stringify(d)}`);
  expect(d.duplicate).toBe(false);
  return d;
}

function refused(d: Decided): Refusal {
  if (d.ok) throw new Error(`expected a refusal, got ${JSON.stringify(d)}`);
  return d;
}

describe('decidePlace', () => {
  const known: PlaceContext = {
    keyOwner: () => null,
    hasChannel: (c) => c === 'web',
    hasProduct: (sku) => sku === 'A' || sku === 'B',
    hasLocation: (l) => l === 'paris',
  };
  const command = (orderId: string, key: string | null = null, extra = {}) => {
    const i = orderInput(orderId, extra);
    return { input: i, fingerprint: fingerprintOf(i), idempotencyKey: key };
  };

  it('records a new order as received and reconciles it as fresh', () => {
    const d = applies(decidePlace(null, command('o-1', 'k-1'), known));
    expect(d.event).toMatchObject({ kind: 'received', idempotencyKey: 'k-1' });
    expect(d.stock).toEqual([]);
    expect(d.messages).toEqual([]);
    expect(d).toMatchObject({ reconcile: 'fresh', resourcing: false, count: 'placed' });
  });

  it('answers the same body again as a duplicate, another body under the same id as CONFLICT', () => {
    const existing = receivedOrder('o-1');
    const again = decidePlace(existing, command('o-1'), known);
    expect(again).toMatchObject({ ok: true, duplicate: true, event: null, stock: [] });
    const other = command('o-1', null, {
      lines: [{ lineId: 'L1', sku: 'A', qty: 7, unitPrice: 500 }],
    });
    const r = refused(decidePlace(existing, other, known));
    expect(r.error).toMatchObject({ code: 'CONFLICT', reason: 'ID_REUSED' });
    expect(r.error.message).toBe('order o-1 exists with other content');
    expect(r.withOrder).toBe(false);
  });

  it('checks the Idempotency-Key once, scoped to the channel, before the order id', () => {
    const asked: string[] = [];
    const owned: PlaceContext = {
      ...known,
      keyOwner: (channel, key) => {
        asked.push(`${channel}/${key}`);
        return key === 'k-1' ? 'o-9' : null;
      },
    };
    const r = refused(decidePlace(receivedOrder('o-1'), command('o-1', 'k-1'), owned));
    expect(r.error).toMatchObject({ code: 'CONFLICT', reason: 'ID_REUSED' });
    expect(r.error.message).toBe('Idempotency-Key was used for order o-9');
    expect(asked).toEqual(['web/k-1']);
    // The key's own order placed again is fine.
    const mine: PlaceContext = { ...known, keyOwner: () => 'o-1' };
    expect(applies(decidePlace(null, command('o-1', 'k-1'), mine)).event?.kind).toBe('received');
    // Without a key nothing is asked.
    asked.length = 0;
    applies(decidePlace(null, command('o-2'), owned));
    expect(asked).toEqual([]);
  });

  it('refuses unknown channels, SKUs and pickup locations as NOT_FOUND', () => {
    const noWeb = { ...known, hasChannel: () => false };
    expect(refused(decidePlace(null, command('o-1'), noWeb)).error).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_CHANNEL',
    });
    const noB = { ...known, hasProduct: (sku: string) => sku === 'A' };
    expect(refused(decidePlace(null, command('o-1'), noB)).error).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_SKU',
      message: 'unknown sku B',
    });
    const pickup = command('o-1', null, { delivery: { type: 'pickup', location: 'lyon' } });
    expect(refused(decidePlace(null, pickup, known)).error).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_LOCATION',
    });
    const here = command('o-1', null, { delivery: { type: 'pickup', location: 'paris' } });
    expect(applies(decidePlace(null, here, known)).event?.kind).toBe('received');
  });
});

describe('decideCancel', () => {
  const cancel = (
    order: Order | null,
    request: CancelRequest = {},
    channel: string | null = null,
  ) => decideCancel(order, { orderId: order?.orderId ?? 'o-x', request, channel }, NOTIFY);

  it('refuses an unknown order and another channel’s order without showing it', () => {
    expect(refused(cancel(null)).error).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_ORDER',
    });
    const r = refused(cancel(receivedOrder('o-1'), {}, 'app'));
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', reason: 'OTHER_CHANNEL' });
    expect(r.withOrder).toBe(false);
  });

  it('cancels a whole order: every line, every fulfilment told, the customer told', () => {
    const order = sourced('o-1', [
      ['paris', [['A', 3]]],
      ['lyon', [['B', 1]]],
    ]);
    const d = applies(cancel(order, { reason: 'changed my mind' }));
    expect(d.event).toEqual({
      kind: 'cancelled',
      lines: [
        ['L1', 3],
        ['L2', 1],
      ],
      reduce: [
        ['o-1-F1', 'A', 3],
        ['o-1-F2', 'B', 1],
      ],
      reason: 'changed my mind',
    });
    expect(d.messages.map((m) => [m.stream, m.type])).toEqual([
      ['location:paris', 'fulfilment.cancelled'],
      ['location:lyon', 'fulfilment.cancelled'],
      ['customer', 'order.cancelled'],
    ]);
    expect(d.messages[2]?.body).toMatchObject({ whole: true, reason: 'changed my mind' });
    expect(d).toMatchObject({
      stock: [],
      reconcile: 'always',
      resourcing: false,
      count: 'cancelled',
    });
    // Without a customer webhook the customer is not told.
    const silent = applies(
      decideCancel(order, { orderId: 'o-1', request: {}, channel: null }, SILENT),
    );
    expect(silent.messages.map((m) => m.stream)).toEqual(['location:paris', 'location:lyon']);
  });

  it('takes part of a line off the least advanced, newest fulfilment first', () => {
    const order = sourced('o-1', [
      ['paris', [['A', 2]]],
      ['lyon', [['A', 1]]],
    ]);
    update(order, 'o-1-F1', 'accepted');
    const d = applies(cancel(order, { lines: [{ lineId: 'L1', qty: 2 }] }));
    expect(d.event).toMatchObject({
      lines: [['L1', 2]],
      reduce: [
        ['o-1-F2', 'A', 1],
        ['o-1-F1', 'A', 1],
      ],
      reason: 'cancelled by the customer',
    });
  });

  it('refuses bad lines and quantities, showing the order', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]]);
    const unknown = refused(cancel(order, { lines: [{ lineId: 'L9' }] }));
    expect(unknown.error).toMatchObject({ code: 'NOT_FOUND', message: 'order o-1 has no line L9' });
    expect(unknown.withOrder).toBe(true);
    expect(refused(cancel(order, { lines: [{ lineId: 'L1', qty: 0 }] })).error).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'INVALID_QUANTITY',
    });
    expect(refused(cancel(order, { lines: [{ lineId: 'L1', qty: 4 }] })).error).toMatchObject({
      code: 'CONFLICT',
      reason: 'ORDER_STATE',
    });
  });

  it('cannot cancel shipped units; with nothing left it is CONFLICT, or a duplicate when all is cancelled', () => {
    const order = sourced('o-1', [
      [
        'paris',
        [
          ['A', 3],
          ['B', 1],
        ],
      ],
    ]);
    update(order, 'o-1-F1', 'shipped');
    const r = refused(cancel(order));
    expect(r.error).toMatchObject({ code: 'CONFLICT', reason: 'ORDER_STATE' });
    expect(r.error.message).toBe('order o-1 has nothing left to cancel before shipment');
    const gone = receivedOrder('o-2');
    gone.apply({
      kind: 'cancelled',
      orderId: 'o-2',
      version: 2,
      at: 2_000,
      messages: [],
      lines: [
        ['L1', 3],
        ['L2', 1],
      ],
      reduce: [],
      reason: 'x',
    });
    expect(cancel(gone)).toMatchObject({ ok: true, duplicate: true, event: null });
  });
});

describe('decideAnswer', () => {
  const answer = (
    order: Order | null,
    fulfilmentId: string,
    a: FulfilmentAnswer,
    location: string | null = null,
    context = NOTIFY,
  ) => decideAnswer(order, { fulfilmentId, answer: a, location }, context);

  it('refuses an unknown fulfilment and another location’s', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]]);
    expect(refused(answer(order, 'o-1-F9', { type: 'accepted' })).error).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_FULFILMENT',
    });
    expect(refused(answer(null, 'o-1-F1', { type: 'accepted' })).error.code).toBe('NOT_FOUND');
    const r = refused(answer(order, 'o-1-F1', { type: 'accepted' }, 'lyon'));
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', reason: 'OTHER_LOCATION' });
    expect(r.withOrder).toBe(false);
  });

  it('applies an acceptance once; the same answer again is a duplicate', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]]);
    const d = applies(answer(order, 'o-1-F1', { type: 'accepted' }, 'paris'));
    expect(d.event).toEqual({
      kind: 'fulfilment',
      fulfilmentId: 'o-1-F1',
      update: 'accepted',
      picked: null,
      carrier: null,
      tracking: null,
      reason: null,
    });
    expect(d).toMatchObject({
      stock: [],
      messages: [],
      reconcile: 'ifPending',
      resourcing: true,
      count: 'fulfilmentAnswers',
    });
    update(order, 'o-1-F1', 'accepted');
    expect(answer(order, 'o-1-F1', { type: 'accepted' })).toMatchObject({
      ok: true,
      duplicate: true,
    });
  });

  it('ships every line with ids derived from the fulfilment, and tells the customer', () => {
    const order = sourced('o-1', [
      [
        'paris',
        [
          ['A', 3],
          ['B', 1],
        ],
      ],
    ]);
    const d = applies(answer(order, 'o-1-F1', { type: 'shipped', carrier: 'DHL', tracking: 'T1' }));
    expect(d.stock).toEqual([
      {
        op: 'ship',
        shipmentId: 'o-1-F1:ship:A',
        orderId: 'o-1',
        sku: 'A',
        location: 'paris',
        qty: 3,
      },
      {
        op: 'ship',
        shipmentId: 'o-1-F1:ship:B',
        orderId: 'o-1',
        sku: 'B',
        location: 'paris',
        qty: 1,
      },
    ]);
    expect(d.messages).toEqual([
      {
        stream: 'customer',
        type: 'order.shipped',
        body: {
          orderId: 'o-1',
          customer: { id: 'c-1', name: 'Ada' },
          channel: 'web',
          fulfilmentId: 'o-1-F1',
          carrier: 'DHL',
          tracking: 'T1',
          lines: [
            { sku: 'A', qty: 3 },
            { sku: 'B', qty: 1 },
          ],
        },
      },
    ]);
    // Another fulfilment still open: partially shipped.
    const split = sourced('o-2', [
      ['paris', [['A', 3]]],
      ['lyon', [['B', 1]]],
    ]);
    const first = applies(answer(split, 'o-2-F1', { type: 'shipped', tracking: 'T2' }));
    expect(first.messages.map((m) => m.type)).toEqual(['order.partially_shipped']);
    // A repeat with the same tracking number is a duplicate, with another one CONFLICT.
    update(order, 'o-1-F1', 'shipped');
    order.apply({
      kind: 'fulfilment',
      orderId: 'o-1',
      version: order.version + 1,
      at: 4_000,
      messages: [],
      fulfilmentId: 'o-1-F1',
      update: 'delivered',
      picked: null,
      carrier: null,
      tracking: null,
      reason: null,
    });
    expect(answer(order, 'o-1-F1', { type: 'shipped' })).toMatchObject({ duplicate: true });
    expect(
      refused(answer(order, 'o-1-F1', { type: 'shipped', tracking: 'T9' })).error,
    ).toMatchObject({
      code: 'CONFLICT',
      reason: 'ORDER_STATE',
    });
  });

  it('gives back and writes off what a short pick did not find', () => {
    const order = sourced('o-1', [
      [
        'paris',
        [
          ['A', 3],
          ['B', 1],
        ],
      ],
    ]);
    const d = applies(
      answer(order, 'o-1-F1', { type: 'short_picked', picked: [{ sku: 'A', qty: 1 }] }),
    );
    expect(d.stock).toEqual([
      {
        op: 'deallocate',
        requestId: 'o-1-F1:short:A:free',
        orderId: 'o-1',
        sku: 'A',
        location: 'paris',
        qty: 2,
      },
      {
        op: 'adjust',
        adjustmentId: 'o-1-F1:short:A:count',
        sku: 'A',
        location: 'paris',
        delta: -2,
      },
      {
        op: 'deallocate',
        requestId: 'o-1-F1:short:B:free',
        orderId: 'o-1',
        sku: 'B',
        location: 'paris',
        qty: 1,
      },
      {
        op: 'adjust',
        adjustmentId: 'o-1-F1:short:B:count',
        sku: 'B',
        location: 'paris',
        delta: -1,
      },
    ]);
    expect(d.event).toMatchObject({ update: 'short_picked', picked: [['A', 1]] });
    for (const picked of [
      [{ sku: 'A', qty: 4 }],
      [{ sku: 'C', qty: 1 }],
      [{ sku: 'A', qty: -1 }],
      [{ sku: 'A', qty: 1.5 }],
    ]) {
      const r = refused(answer(order, 'o-1-F1', { type: 'short_picked', picked }));
      expect(r.error).toMatchObject({ code: 'BAD_REQUEST', reason: 'INVALID_QUANTITY' });
      expect(r.withOrder).toBe(true);
    }
  });

  it('refuses what no longer fits, and timed_out from outside', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]]);
    const early = refused(answer(order, 'o-1-F1', { type: 'delivered' }));
    expect(early.error).toMatchObject({
      code: 'CONFLICT',
      reason: 'ORDER_STATE',
      message: 'fulfilment o-1-F1 is requested',
    });
    expect(early.withOrder).toBe(true);
    expect(refused(answer(order, 'o-1-F1', { type: 'timed_out' })).error.message).toBe(
      'timed_out is decided by the order service, not sent',
    );
    update(order, 'o-1-F1', 'rejected');
    expect(refused(answer(order, 'o-1-F1', { type: 'accepted' })).error.message).toBe(
      'fulfilment o-1-F1 is rejected',
    );
  });

  it('tells a pickup customer the order is ready when it is picked', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]], {
      delivery: { type: 'pickup', location: 'paris' },
    });
    const d = applies(answer(order, 'o-1-F1', { type: 'picked' }));
    expect(d.messages.map((m) => m.type)).toEqual(['order.ready_for_pickup']);
    expect(applies(answer(order, 'o-1-F1', { type: 'picked' }, null, SILENT)).messages).toEqual([]);
  });
});

describe('decideTimeout', () => {
  it('escalates a fulfilment still requested: the location is told, the order re-sourced', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]]);
    const d = applies(decideTimeout(order, { fulfilmentId: 'o-1-F1' }));
    expect(d.event).toMatchObject({
      kind: 'fulfilment',
      fulfilmentId: 'o-1-F1',
      update: 'timed_out',
      reason: `no answer by ${new Date(61_000).toISOString()}`,
    });
    expect(d.messages).toEqual([
      {
        stream: 'location:paris',
        type: 'fulfilment.cancelled',
        body: {
          fulfilmentId: 'o-1-F1',
          orderId: 'o-1',
          location: 'paris',
          lines: [{ sku: 'A', qty: 3 }],
          reason: 'not answered in time',
        },
      },
    ]);
    expect(d).toMatchObject({
      stock: [],
      reconcile: 'always',
      resourcing: true,
      count: 'timeouts',
    });
  });

  it('does nothing for an answered fulfilment, an unknown one, or an order gone', () => {
    const order = sourced('o-1', [['paris', [['A', 3]]]]);
    expect(decideTimeout(order, { fulfilmentId: 'o-1-F9' })).toBeNull();
    expect(decideTimeout(null, { fulfilmentId: 'o-1-F1' })).toBeNull();
    update(order, 'o-1-F1', 'accepted');
    expect(decideTimeout(order, { fulfilmentId: 'o-1-F1' })).toBeNull();
  });
});
