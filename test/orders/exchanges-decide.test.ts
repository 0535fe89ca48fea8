import { describe, expect, it } from 'vitest';
import { decideRefund } from '../../orders/decide-refund.ts';
import { decideReturnReceipt } from '../../orders/decide-return-receipt.ts';
import { decideReturnRequest } from '../../orders/decide-return-request.ts';
import type { Decided, Decision, NewEvent, Refusal } from '../../orders/decision.ts';
import type { Order } from '../../orders/order-state.ts';
import type { ReturnContext } from '../../orders/return-context.ts';
import { exchangeInput, exchangeOrderId } from '../../orders/return-exchange.ts';
import { isError, parseReturnRequest, type ReturnRequest } from '../../orders/return-input.ts';
import { DEFAULT_RETURN_POLICY, type ReturnPolicy } from '../../orders/return-policy.ts';
import { receivedOrder } from './order-fixture.ts';

// Exchanges decided by the pure return decisions: an order built from plain events, a plain
// context, decisions applied as the runner would apply their events. No engine anywhere.

const SHIPPED_AT = 3_000;

/** An order of 3 x A at 1000 and 1 x B at 500, all shipped from paris. */
function shippedOrder(orderId = 'o-1'): Order {
  const order = receivedOrder(orderId);
  const rest = { orderId, messages: [] };
  order.apply({
    ...rest,
    kind: 'sourced',
    version: 2,
    at: 2_000,
    attempt: 1,
    fulfilments: [
      {
        fulfilmentId: `${orderId}-F1`,
        location: 'paris',
        lines: [
          ['A', 3],
          ['B', 1],
        ],
        dueBy: 61_000,
      },
    ],
    backordered: [],
    explanation: null,
  });
  order.apply({
    ...rest,
    kind: 'fulfilment',
    version: 3,
    at: SHIPPED_AT,
    fulfilmentId: `${orderId}-F1`,
    update: 'shipped',
    picked: null,
    carrier: 'UPS',
    tracking: '1Z',
    reason: null,
  });
  return order;
}

function context(
  policy: Partial<ReturnPolicy> = {},
  values: Record<string, number> = {},
): ReturnContext {
  return {
    notifyCustomers: true,
    returnPolicy: { ...DEFAULT_RETURN_POLICY, ...policy },
    hasLocation: (l) => l === 'paris' || l === 'lyon',
    hasProduct: (sku) => ['A', 'B', 'C'].includes(sku),
    returnOwner: () => null,
    orderValue: (orderId) => values[orderId] ?? null,
    settlementStreams: [],
  };
}

function request(body: unknown): ReturnRequest {
  const parsed = parseReturnRequest(body);
  if (isError(parsed)) throw new Error(parsed.message);
  return parsed;
}

function decision(d: Decided): Decision {
  if (!d.ok) throw new Error(`expected a decision: ${d.error.code} ${d.error.message}`);
  expect(d.duplicate).toBe(false);
  return d;
}

function refusal(d: Decided): Refusal {
  if (d.ok) throw new Error('expected a refusal');
  return d;
}

/** Applies a decision's event to the order, as the runner records it. */
function apply(order: Order, d: Decision): void {
  order.apply({
    ...(d.event as NewEvent),
    orderId: order.orderId,
    version: order.version + 1,
    at: SHIPPED_AT + 1_000,
    messages: [],
  });
}

const now = SHIPPED_AT + 1_000;

function requestExchange(order: Order, ctx: ReturnContext, body: Record<string, unknown>): Decided {
  return decideReturnRequest(
    order,
    { orderId: order.orderId, request: request(body), channel: null, now },
    ctx,
  );
}

/** 2 x A back (size), 1 x C at 1500 instead. */
const SWAP = {
  returnId: 'r-1',
  lines: [{ lineId: 'L1', qty: 2, reason: 'size' }],
  exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: 1500 }] },
};

function receive(order: Order, ctx: ReturnContext, receiptId: string, lines: unknown[]): Decided {
  const receipt = { receiptId, location: 'paris', lines } as never;
  return decideReturnReceipt(order, { returnId: 'r-1', receipt, callerLocation: null }, ctx);
}

function refund(order: Order, ctx: ReturnContext, creditNoteId: string): Decided {
  return decideRefund(
    order,
    { returnId: 'r-1', request: { creditNoteId }, channel: null, now },
    ctx,
  );
}

describe('an exchange requested with a return', () => {
  it('waits for the receipt by default, delivered where the order went, under a derived id', () => {
    const order = shippedOrder();
    const d = decision(requestExchange(order, context(), SWAP));
    expect(d.event).toMatchObject({
      kind: 'return_requested',
      exchange: {
        orderId: 'o-1~x~r-1',
        lines: [{ sku: 'C', qty: 1, unitPrice: 1500 }],
        delivery: order.input.delivery,
        value: 1500,
        status: 'awaiting_receipt',
      },
    });
    expect(d.messages.map((m) => m.type)).toEqual(['return.requested']);
    apply(order, d);
    const view = order.view().returns[0];
    expect(view).toMatchObject({
      exchangeOrderId: null,
      exchange: { status: 'awaiting_receipt', value: 1500, credited: 0, reason: null },
    });
    expect(exchangeInput(order, order.returns[0] as never)).toBeNull();
  });

  it('is placed at once as an advance exchange (exchangeOn: request), with its notification', () => {
    const order = shippedOrder();
    const pickup = { type: 'pickup', location: 'lyon' };
    const d = decision(
      requestExchange(order, context({ exchangeOn: 'request' }), {
        ...SWAP,
        exchange: { ...SWAP.exchange, delivery: pickup },
      }),
    );
    expect(d.event).toMatchObject({ exchange: { status: 'placed', delivery: pickup } });
    expect(d.messages.map((m) => m.type)).toEqual(['return.requested', 'return.exchange_placed']);
    expect(d.messages[1]?.body).toMatchObject({
      orderId: 'o-1',
      returnId: 'r-1',
      exchangeOrderId: 'o-1~x~r-1',
      value: 1500,
      currency: 'EUR',
    });
    apply(order, d);
    expect(order.view().returns[0]?.exchangeOrderId).toBe('o-1~x~r-1');
    // The order it becomes: the original's channel and customer, paid by the return.
    expect(exchangeInput(order, order.returns[0] as never)).toEqual({
      orderId: 'o-1~x~r-1',
      channel: 'web',
      customer: order.input.customer,
      lines: [{ lineId: '1', sku: 'C', qty: 1, unitPrice: 1500, reservationId: null }],
      delivery: pickup,
      payment: { amount: 1500, currency: 'EUR', reference: 'return:r-1', provider: 'exchange' },
      shippingAmount: 0,
      exchangeFor: { orderId: 'o-1', returnId: 'r-1' },
    });
  });

  it('refuses a replacement worth more than the returned units credit, fees counted', () => {
    const order = shippedOrder();
    const ctx = context({ restockingFeePercent: 10 });
    // 2 x 1000 returned for `size`: 2000 less a 10% fee credits 1800.
    const over = refusal(
      requestExchange(order, ctx, {
        ...SWAP,
        exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: 1801 }] },
      }),
    );
    expect(over.error).toMatchObject({ code: 'CONFLICT', reason: 'EXCHANGE_EXCEEDS_RETURN' });
    expect(over.error.message).toContain('1801');
    expect(over.error.message).toContain('1800');
    expect(over.withOrder).toBe(true);
    decision(
      requestExchange(order, ctx, {
        ...SWAP,
        exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: 1800 }] },
      }),
    );
  });

  it('refuses unknown SKUs and pickup locations, and malformed lines at the edge', () => {
    const order = shippedOrder();
    const sku = refusal(
      requestExchange(order, context(), {
        ...SWAP,
        exchange: { lines: [{ sku: 'Z', qty: 1, unitPrice: 100 }] },
      }),
    );
    expect(sku.error).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_SKU' });
    const pickup = refusal(
      requestExchange(order, context(), {
        ...SWAP,
        exchange: { ...SWAP.exchange, delivery: { type: 'pickup', location: 'mars' } },
      }),
    );
    expect(pickup.error).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_LOCATION' });
    for (const exchange of [
      { lines: [] },
      { lines: [{ sku: 'C', qty: 0, unitPrice: 100 }] },
      { lines: [{ sku: 'C', qty: 1, unitPrice: -1 }] },
      { lines: [{ sku: 'C', qty: 1, unitPrice: 100, reservationId: 'x' }] },
      { lines: [{ sku: 'C', qty: 1, unitPrice: 100 }], delivery: { type: 'drone' } },
    ]) {
      const parsed = parseReturnRequest({ ...SWAP, exchange });
      expect(isError(parsed) && parsed.code, JSON.stringify(exchange)).toBe('BAD_REQUEST');
    }
  });

  it('derives ids within the order id limit, the same every time', () => {
    const long = 'o'.repeat(128);
    const id = exchangeOrderId(long, 'r'.repeat(48));
    expect(id.length).toBeLessThanOrEqual(128);
    expect(id).toContain('~x~');
    expect(id).toBe(exchangeOrderId(long, 'r'.repeat(48)));
    expect(exchangeOrderId('o'.repeat(127), 'r'.repeat(48))).not.toBe(id);
    expect(exchangeOrderId('o-1', 'r-1')).toBe('o-1~x~r-1');
  });
});

describe('an exchange awaiting its receipt', () => {
  it('is placed by the receipt whose units cover its value, not before', () => {
    const order = shippedOrder();
    const ctx = context();
    apply(order, decision(requestExchange(order, ctx, SWAP)));
    // One unit (1000) does not cover 1500 and one is still awaited: nothing decided yet.
    const first = decision(
      receive(order, ctx, 'rc-1', [{ lineId: 'L1', disposition: 'restock', qty: 1 }]),
    );
    expect(first.event).not.toHaveProperty('exchange');
    expect(first.messages.map((m) => m.type)).toEqual(['return.received']);
    apply(order, first);
    // While it waits, a refund would spend the value that pays for it.
    expect(refusal(refund(order, ctx, 'cn-0')).error).toMatchObject({
      code: 'CONFLICT',
      reason: 'ORDER_STATE',
    });
    const second = decision(
      receive(order, ctx, 'rc-2', [{ lineId: 'L1', disposition: 'write_off', qty: 1 }]),
    );
    expect(second.event).toMatchObject({ exchange: { status: 'placed', reason: null } });
    expect(second.messages.map((m) => m.type)).toEqual([
      'return.received',
      'return.exchange_placed',
    ]);
    apply(order, second);
    expect(order.view().returns[0]).toMatchObject({
      exchangeOrderId: 'o-1~x~r-1',
      exchange: { status: 'placed' },
    });
    expect(order.view().history.at(-1)?.detail).toContain('exchange o-1~x~r-1 placed');
    expect(exchangeInput(order, order.returns[0] as never)?.orderId).toBe('o-1~x~r-1');
  });

  it('is declined once every unit is accounted for and what arrived does not cover it', () => {
    const order = shippedOrder();
    const ctx = context();
    apply(order, decision(requestExchange(order, ctx, SWAP)));
    const d = decision(
      receive(order, ctx, 'rc-1', [
        { lineId: 'L1', disposition: 'restock', qty: 1 },
        { lineId: 'L1', disposition: 'missing', qty: 1 },
      ]),
    );
    expect(d.event).toMatchObject({
      exchange: {
        status: 'declined',
        reason: 'the units received credit 1000, the replacement lines are worth 1500',
      },
    });
    expect(d.messages.map((m) => m.type)).toEqual(['return.received', 'return.exchange_declined']);
    apply(order, d);
    expect(order.view().returns[0]).toMatchObject({
      exchangeOrderId: null,
      exchange: { status: 'declined' },
    });
    expect(exchangeInput(order, order.returns[0] as never)).toBeNull();
    // Declined: the received unit is refunded in full.
    const paid = decision(refund(order, ctx, 'cn-1'));
    expect(paid.event).toMatchObject({
      creditNote: { merchandise: 1000, exchange: 0, total: 1000 },
    });
  });
});

describe('a refund of a return with an exchange', () => {
  function placed(value: number, ctx: ReturnContext): Order {
    const order = shippedOrder();
    apply(
      order,
      decision(
        requestExchange(order, ctx, {
          ...SWAP,
          exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: value }] },
        }),
      ),
    );
    apply(
      order,
      decision(receive(order, ctx, 'rc-1', [{ lineId: 'L1', disposition: 'restock', qty: 2 }])),
    );
    return order;
  }

  it('even: nothing paid back, the whole value settles the exchange order', () => {
    const ctx = context();
    const order = placed(2000, ctx);
    const d = decision(refund(order, ctx, 'cn-1'));
    expect(d.event).toMatchObject({
      creditNote: { merchandise: 2000, fees: 0, exchange: 2000, total: 0 },
    });
    expect(d.messages[0]?.body).toMatchObject({ total: 0, exchange: 2000 });
    apply(order, d);
    expect(order.view().returns[0]).toMatchObject({
      status: 'refunded',
      exchange: { credited: 2000 },
    });
  });

  it('uneven: the difference is paid back, after the restocking fee', () => {
    const ctx = context({ restockingFeePercent: 10 });
    const order = placed(1500, ctx);
    const d = decision(refund(order, ctx, 'cn-1'));
    expect(d.event).toMatchObject({
      creditNote: { merchandise: 2000, fees: 200, exchange: 1500, total: 300 },
    });
  });

  it('pays back what the exchange order no longer carries (cancelled or not sourceable)', () => {
    const cancelled = context({}, { 'o-1~x~r-1': 0 });
    const order = placed(1500, cancelled);
    expect(decision(refund(order, cancelled, 'cn-1')).event).toMatchObject({
      creditNote: { exchange: 0, total: 2000 },
    });
    const partly = context({}, { 'o-1~x~r-1': 500 });
    expect(decision(refund(placed(1500, partly), partly, 'cn-1')).event).toMatchObject({
      creditNote: { exchange: 500, total: 1500 },
    });
  });

  it('settles the exchange once across credit notes, and counts it against the payment', () => {
    const ctx = context();
    const order = shippedOrder();
    apply(
      order,
      decision(
        requestExchange(order, ctx, {
          returnId: 'r-1',
          lines: [
            { lineId: 'L1', qty: 3, reason: 'size' },
            { lineId: 'L2', qty: 1, reason: 'size' },
          ],
          exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: 1200 }] },
        }),
      ),
    );
    apply(
      order,
      decision(receive(order, ctx, 'rc-1', [{ lineId: 'L1', disposition: 'restock', qty: 2 }])),
    );
    const one = decision(refund(order, ctx, 'cn-1'));
    expect(one.event).toMatchObject({ creditNote: { exchange: 1200, total: 800 } });
    apply(order, one);
    apply(
      order,
      decision(
        receive(order, ctx, 'rc-2', [
          { lineId: 'L1', disposition: 'restock', qty: 1 },
          { lineId: 'L2', disposition: 'restock', qty: 1 },
        ]),
      ),
    );
    const two = decision(refund(order, ctx, 'cn-2'));
    expect(two.event).toMatchObject({
      creditNote: { merchandise: 1500, exchange: 0, total: 1500 },
    });
    apply(order, two);
    let given = 0;
    for (const c of order.view().returns[0]?.creditNotes ?? []) given += c.total + c.exchange;
    expect(given).toBe(order.input.payment.amount);
  });
});
