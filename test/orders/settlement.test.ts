import { describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../orders/index.ts';
import { order, orderHarness, type OrderHarness } from './order-fixture.ts';
import { ok, returnedAndRefunded } from './return-fixture.ts';

interface Body {
  eventId: string;
  type: string;
  orderId: string;
  seq: number;
  location: string | null;
  amount: number;
  shipping: number;
  lines: { lineId: string; sku: string; qty: number; amount: number }[];
  reference: Record<string, string | null>;
  totals: Record<string, number>;
}

function harness(streams: readonly string[] = ['erp:webhook']): OrderHarness {
  return orderHarness({ service: { settlementStreams: streams } });
}

function settlement(h: OrderHarness, stream = 'erp:webhook'): Body[] {
  return h.transport.sent.filter((m) => m.stream === stream).map((m) => m.body as Body);
}

function day(h: OrderHarness): string {
  return new Date(h.clock.now()).toISOString().slice(0, 10);
}

/** Two lines at two stores and 5.00 shipping: A x2 at Paris, B x1 at Lyon. */
async function twoStores(h: OrderHarness): Promise<{ orderId: string; f: Map<string, string> }> {
  await h.stock('A', { paris: 10 });
  await h.stock('B', { lyon: 10 });
  const body = order(
    [
      ['A', 2],
      ['B', 1],
    ],
    { shippingAmount: 500, payment: { amount: 3500, currency: 'EUR', reference: 'pi_1' } },
  );
  const placed = await h.placed(body);
  const f = new Map(placed.order.fulfilments.map((x) => [x.location, x.fulfilmentId]));
  expect([...f.keys()].sort()).toEqual(['lyon', 'paris']);
  return { orderId: placed.order.orderId, f };
}

describe('settlement events', () => {
  it('tells the ERP an order’s money in sequence: placed, shipped, cancelled, returned, credited', async () => {
    const h = harness();
    const { orderId, f } = await twoStores(h);
    ok(
      await h.orders.fulfilmentAnswer(
        f.get('paris') as string,
        { type: 'shipped', carrier: 'UPS', tracking: '1Z' },
        null,
      ),
    );
    // A repeated answer is a duplicate: no second event.
    const again = await h.orders.fulfilmentAnswer(
      f.get('paris') as string,
      { type: 'shipped', carrier: 'UPS', tracking: '1Z' },
      null,
    );
    expect(ok(again).duplicate).toBe(true);
    ok(await h.orders.cancel(orderId, { lines: [{ lineId: '2' }] }, null));
    await returnedAndRefunded(h, orderId);
    await h.idle();

    const events = settlement(h);
    expect(h.orders.stats().settlement).toEqual({ pending: 0, delivered: 5 });
    expect(events.map((e) => [e.type, e.seq, e.eventId])).toEqual([
      ['order.placed', 1, `${orderId}:erp:1`],
      ['fulfilment.shipped', 2, `${orderId}:erp:2`],
      ['order.cancelled', 3, `${orderId}:erp:3`],
      ['return.received', 4, `${orderId}:erp:4`],
      ['credit_note.issued', 5, `${orderId}:erp:5`],
    ]);
    const [placed, shipped, cancelled, received, credited] = events as [
      Body,
      Body,
      Body,
      Body,
      Body,
    ];
    expect(placed).toMatchObject({ amount: 3500, shipping: 500, reference: { payment: 'pi_1' } });
    expect(shipped).toMatchObject({
      location: 'paris',
      amount: 2500,
      shipping: 500,
      lines: [{ lineId: '1', sku: 'A', qty: 2, amount: 2000 }],
      reference: { fulfilmentId: f.get('paris'), carrier: 'UPS', tracking: '1Z' },
    });
    expect(cancelled).toMatchObject({
      amount: 1000,
      shipping: 0,
      lines: [{ lineId: '2', sku: 'B', qty: 1, amount: 1000 }],
    });
    expect(received).toMatchObject({ location: 'paris', reference: { returnId: 'r-1' } });
    expect(credited).toMatchObject({ amount: 1000, reference: { creditNoteId: 'cn-1' } });
    expect(credited.totals).toEqual({
      authorised: 3500,
      invoiced: 2500,
      released: 1000,
      credited: 1000,
      net: 1500,
      open: 0,
    });
    // Every event's totals are the previous ones plus its own amount.
    expect(events.map((e) => e.totals.invoiced)).toEqual([0, 2500, 2500, 2500, 2500]);
    expect(events.map((e) => e.totals.released)).toEqual([0, 0, 1000, 1000, 1000]);

    expect(h.orders.reconciliation(day(h), null)).toEqual({
      day: day(h),
      location: null,
      rows: [
        {
          location: 'paris',
          currency: 'EUR',
          unitsShipped: 2,
          unitsReturned: 1,
          unitsRestocked: 1,
          amountInvoiced: 2500,
          amountCredited: 1000,
        },
      ],
    });
    expect(h.orders.reconciliation(day(h), 'lyon').rows).toEqual([]);
    expect(h.orders.reconciliation('2001-01-01', null).rows).toEqual([]);
  });

  it('releases the whole authorisation, shipping included, when placement fails', async () => {
    const h = harness();
    const body = order([['C', 3]], {
      shippingAmount: 250,
      payment: { amount: 3250, currency: 'EUR' },
    });
    await h.place(body);
    expect(h.orders.get(body.orderId as string)?.status).toBe('cancelled');
    await h.idle();
    expect(settlement(h).map((e) => [e.type, e.seq, e.amount, e.totals.open])).toEqual([
      ['order.placed', 1, 3250, 3250],
      ['order.cancelled', 2, 3250, 0],
    ]);
  });

  it('sends each event once per sink with the same id and number, and none without a sink', async () => {
    const both = harness(['erp:webhook', 'erp:redis']);
    const a = await twoStores(both);
    await both.idle();
    const hook = settlement(both, 'erp:webhook');
    expect(settlement(both, 'erp:redis')).toEqual(hook);
    expect(hook.map((e) => e.eventId)).toEqual([`${a.orderId}:erp:1`]);

    const none = harness([]);
    await twoStores(none);
    await none.idle();
    expect(none.transport.sent.filter((m: OutboxMessage) => m.stream.startsWith('erp:'))).toEqual(
      [],
    );
  });
});
