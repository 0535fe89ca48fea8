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
});
afterAll(async () => {
  await r.stop();
});

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
