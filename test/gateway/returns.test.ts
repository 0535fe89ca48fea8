import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, loadStock, orderService, start, type Running } from './harness.ts';

// Returns through the real gateway: the storefront requests and refunds over the WebSocket, a
// store that did not ship the order receives the parcel, and a live subscriber to that store's
// availability sees the restocked units at once.

let r: Running;
beforeAll(async () => {
  r = await start({ orders: orderService });
  await loadStock(r, 'dc1', { 'sku-1': 10 }, 1);
  await loadStock(r, 'store1', { 'sku-4': 5 }, 1);
  await loadStock(r, 'store2', { 'sku-2': 4 }, 1);
});
afterAll(async () => {
  await r.stop();
});

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function shippedOrder(orderId: string): Promise<void> {
  const placed = await r.http('/v1/orders', {
    method: 'POST',
    key: KEYS.web,
    body: JSON.stringify({
      orderId,
      channel: 'web',
      customer: { id: 'c-1', name: 'Ada' },
      lines: [{ sku: 'sku-1', qty: 3, unitPrice: 1000 }],
      delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
      payment: { amount: 3000, currency: 'EUR' },
    }),
  });
  expect(placed.status).toBe(201);
  const order = (await placed.json()) as { fulfilments: { fulfilmentId: string }[] };
  const f = order.fulfilments[0]?.fulfilmentId ?? '';
  const shipped = await r.http(`/v1/fulfilments/${encodeURIComponent(f)}/answers`, {
    method: 'POST',
    key: KEYS.dc1,
    body: JSON.stringify({ type: 'shipped', carrier: 'UPS', tracking: '1Z' }),
  });
  expect(shipped.status).toBe(200);
}

describe('returns over the WebSocket', () => {
  it('requests, receives at another store (seen live), refunds; retries are duplicates', async () => {
    await shippedOrder('ret-1');
    const web = await Client.connect(r.port, { key: KEYS.web });
    const store1 = await Client.connect(r.port, { key: KEYS.store1 });
    try {
      const body = { returnId: 'rma-1', lines: [{ lineId: '1', qty: 3, reason: 'size' }] };
      const requested = await web.request({ op: 'requestReturn', orderId: 'ret-1', return: body });
      expect(requested).toMatchObject({
        op: 'requestReturn',
        ok: true,
        orderId: 'ret-1',
        return: { returnId: 'rma-1', status: 'requested' },
        creditNote: null,
        duplicate: false,
      });
      expect(
        await web.request({ op: 'requestReturn', orderId: 'ret-1', return: body }),
      ).toMatchObject({ duplicate: true });
      const over = await web.request({
        op: 'requestReturn',
        orderId: 'ret-1',
        return: { ...body, returnId: 'rma-2' },
      });
      expect(over).toMatchObject({ op: 'error', code: 'CONFLICT', reason: 'NOT_RETURNABLE' });

      // A live subscriber to the receiving store's availability.
      const topic = 'availability:web:sku-1@store1';
      expect(await web.request({ op: 'subscribe', topics: [topic] })).toMatchObject({
        snapshots: [{ topic, available: 0 }],
      });
      const receipt = {
        receiptId: 'parcel-1',
        lines: [
          { lineId: '1', disposition: 'restock', qty: 2 },
          { lineId: '1', disposition: 'missing', qty: 1 },
        ],
      };
      const refused = await web.request({ op: 'receiveReturn', returnId: 'rma-1', receipt });
      expect(refused).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
      const received = await store1.request({ op: 'receiveReturn', returnId: 'rma-1', receipt });
      expect(received).toMatchObject({
        op: 'receiveReturn',
        return: {
          status: 'received',
          location: 'store1',
          lines: [{ qty: 3, received: 2, missing: 1, restock: 2, dispositioned: 3 }],
        },
        duplicate: false,
      });
      expect(
        await web.next(
          (m) => m.op === 'availability' && m.topic === topic && m.available === 2,
          5_000,
          'the restock, live',
        ),
      ).toMatchObject({ available: 2 });
      expect(
        await store1.request({ op: 'receiveReturn', returnId: 'rma-1', receipt }),
      ).toMatchObject({ duplicate: true });
      expect(r.engine.position('sku-1', 'store1')?.onHand).toBe(2);

      const cannot = await store1.request({
        op: 'refundReturn',
        returnId: 'rma-1',
        creditNoteId: 'cn-1',
      });
      expect(cannot).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
      const refund = await web.request({
        op: 'refundReturn',
        returnId: 'rma-1',
        creditNoteId: 'cn-1',
      });
      expect(refund).toMatchObject({
        op: 'refundReturn',
        return: { status: 'refunded' },
        creditNote: { creditNoteId: 'cn-1', merchandise: 2000, total: 2000 },
        duplicate: false,
      });
      expect(
        await web.request({ op: 'refundReturn', returnId: 'rma-1', creditNoteId: 'cn-1' }),
      ).toMatchObject({ duplicate: true, creditNote: { total: 2000 } });
      const malformed = await web.request({ op: 'refundReturn', returnId: 'rma-1' });
      expect(malformed).toMatchObject({ op: 'error', code: 'BAD_REQUEST' });
    } finally {
      await Promise.all([web.close(), store1.close()]);
    }
  });
});

describe('exchanges over HTTP', () => {
  it('a return with replacement lines becomes an order of its own when the parcel arrives', async () => {
    await shippedOrder('ret-x');
    const post = (path: string, key: string, body: unknown) =>
      r.http(path, { method: 'POST', key, body: JSON.stringify(body) });
    const rma = {
      returnId: 'rma-x',
      lines: [{ lineId: '1', qty: 2, reason: 'size' }],
      exchange: { lines: [{ sku: 'sku-2', qty: 1, unitPrice: 1500 }] },
    };
    const over = await post('/v1/orders/ret-x/returns', KEYS.web, {
      ...rma,
      returnId: 'rma-over',
      exchange: { lines: [{ sku: 'sku-2', qty: 3, unitPrice: 1500 }] },
    });
    expect(over.status).toBe(409);
    expect(await json(over)).toMatchObject({ reason: 'EXCHANGE_EXCEEDS_RETURN', orderId: 'ret-x' });
    const malformed = await post('/v1/orders/ret-x/returns', KEYS.web, {
      ...rma,
      exchange: { lines: [{ sku: 'sku-2', qty: 0, unitPrice: 1500 }] },
    });
    expect(malformed.status).toBe(400);

    const requested = await post('/v1/orders/ret-x/returns', KEYS.web, rma);
    expect(requested.status).toBe(201);
    expect(await json(requested)).toMatchObject({
      return: {
        exchangeOrderId: null,
        exchange: { status: 'awaiting_receipt', value: 1500, lines: rma.exchange.lines },
      },
    });

    const exchangeId = 'ret-x~x~rma-x';
    const receipt = {
      receiptId: 'parcel-x',
      lines: [{ lineId: '1', disposition: 'restock', qty: 2 }],
    };
    const received = await post('/v1/returns/rma-x/receipts', KEYS.store1, receipt);
    expect(received.status).toBe(200);
    expect(await json(received)).toMatchObject({
      return: { exchangeOrderId: exchangeId, exchange: { status: 'placed' } },
    });
    const path = `/v1/orders/${encodeURIComponent(exchangeId)}`;
    const placed = await json(await r.http(path, { key: KEYS.web }));
    expect(placed).toMatchObject({
      orderId: exchangeId,
      status: 'fulfilment_requested',
      exchangeFor: { orderId: 'ret-x', returnId: 'rma-x' },
      payment: { amount: 1500, provider: 'exchange' },
      fulfilments: [{ location: 'store2', lines: [{ sku: 'sku-2', qty: 1 }] }],
    });
    const again = await post('/v1/returns/rma-x/receipts', KEYS.store1, receipt);
    expect(await json(again)).toMatchObject({ duplicate: true });
    expect(await json(await r.http(path, { key: KEYS.web }))).toMatchObject({
      version: placed.version,
    });
    expect(r.engine.position('sku-2', 'store2')).toMatchObject({ onHand: 4, allocated: 1 });
    expect(await json(await r.http('/v1/returns/rma-x', { key: KEYS.web }))).toMatchObject({
      orderId: 'ret-x',
      return: { exchangeOrderId: exchangeId },
    });

    // The refund over the WebSocket: the replacement took 1500 of the 2000 credited.
    const web = await Client.connect(r.port, { key: KEYS.web });
    try {
      expect(
        await web.request({ op: 'refundReturn', returnId: 'rma-x', creditNoteId: 'cn-x' }),
      ).toMatchObject({
        op: 'refundReturn',
        return: { exchangeOrderId: exchangeId, exchange: { credited: 1500 } },
        creditNote: { merchandise: 2000, exchange: 1500, total: 500 },
      });
    } finally {
      await web.close();
    }
  });
});
