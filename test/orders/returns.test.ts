import { describe, expect, it } from 'vitest';
import type { AvailabilityDelta } from '../../engine/index.ts';
import { DEFAULT_RETURN_POLICY } from '../../orders/index.ts';
import { MemoryJournal } from '../engine/memory-journal.ts';
import { order, orderHarness, type OrderHarness } from './order-fixture.ts';
import { ok, returnedAndRefunded, returnOf, shipped } from './return-fixture.ts';

const DAY = 86_400_000;

function harness(journal?: MemoryJournal): OrderHarness {
  return orderHarness({
    ...(journal === undefined ? {} : { journal }),
    service: {
      returns: { ...DEFAULT_RETURN_POLICY, windowMs: 30 * DAY, restockingFeePercent: 10 },
    },
  });
}

function onHand(h: OrderHarness, sku: string, location: string): number {
  return h.engine.position(sku, location)?.onHand ?? 0;
}

describe('returns: requesting', () => {
  it('takes several partial returns of shipped units and refuses more than is left', async () => {
    const h = harness();
    await h.stock('A', { paris: 10 });
    const { orderId } = await shipped(h, [['A', 4]]);
    const first = ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-1', lines: [{ lineId: '1', qty: 1, reason: 'size', comment: 'too small' }] },
        null,
      ),
    );
    expect(first.duplicate).toBe(false);
    expect(returnOf(first, 'r-1')).toMatchObject({ status: 'requested', location: null });
    ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-2', lines: [{ lineId: '1', qty: 2, reason: 'damaged' }] },
        null,
      ),
    );
    // 4 shipped, 3 already requested: one left.
    const over = await h.orders.requestReturn(
      orderId,
      { returnId: 'r-3', lines: [{ lineId: '1', qty: 2, reason: 'size' }] },
      null,
    );
    expect(over).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'NOT_RETURNABLE' });
    const rest = ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-3', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
        null,
      ),
    );
    expect(rest.order.returns.map((r) => r.returnId)).toEqual(['r-1', 'r-2', 'r-3']);
    expect(rest.order.history.filter((e) => e.event === 'return.requested')).toHaveLength(3);
  });

  it('refuses units not shipped, unknown reasons, another channel and a closed window', async () => {
    const h = harness();
    await h.stock('A', { paris: 10 });
    const placed = await h.placed(order([['A', 2]]));
    const orderId = placed.order.orderId;
    const early = await h.orders.requestReturn(
      orderId,
      { returnId: 'r-early', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
      null,
    );
    expect(early).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'NOT_RETURNABLE' });
    const f = placed.order.fulfilments[0]?.fulfilmentId ?? '';
    ok(await h.orders.fulfilmentAnswer(f, { type: 'shipped', tracking: 'T1' }, null));
    const bad = await h.orders.requestReturn(
      orderId,
      { returnId: 'r-x', lines: [{ lineId: '1', qty: 1, reason: 'bored' }] },
      null,
    );
    expect(bad).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    const other = await h.orders.requestReturn(
      orderId,
      { returnId: 'r-x', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
      'app',
    );
    expect(other).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: 'OTHER_CHANNEL' });
    const unknown = await h.orders.requestReturn(
      'o-nope',
      { returnId: 'r-x', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
      null,
    );
    expect(unknown).toMatchObject({ ok: false, code: 'NOT_FOUND', reason: 'UNKNOWN_ORDER' });
    h.clock.advance(30 * DAY + 1);
    const late = await h.orders.requestReturn(
      orderId,
      { returnId: 'r-late', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
      null,
    );
    expect(late).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'RETURN_WINDOW_CLOSED' });
  });

  it('is idempotent under the return id; another body under it is ID_REUSED', async () => {
    const h = harness();
    await h.stock('A', { paris: 10 });
    const a = await shipped(h, [['A', 2]]);
    const b = await shipped(h, [['A', 2]]);
    const body = { returnId: 'r-1', lines: [{ lineId: '1', qty: 1, reason: 'size' }] };
    const [one, two] = await Promise.all([
      h.orders.requestReturn(a.orderId, body, null),
      h.orders.requestReturn(a.orderId, body, null),
    ]);
    expect([ok(one as never).duplicate, ok(two as never).duplicate].sort()).toEqual([false, true]);
    expect(ok(await h.orders.requestReturn(a.orderId, body, null)).order.returns).toHaveLength(1);
    const changed = await h.orders.requestReturn(
      a.orderId,
      { ...body, lines: [{ lineId: '1', qty: 2, reason: 'size' }] },
      null,
    );
    expect(changed).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ID_REUSED' });
    const elsewhere = await h.orders.requestReturn(b.orderId, body, null);
    expect(elsewhere).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ID_REUSED' });
  });
});

describe('returns: receiving and dispositions', () => {
  it('receives at another location than the shipping one, each disposition apart', async () => {
    const h = harness();
    await h.stock('A', { paris: 10, lyon: 1 });
    const { orderId, locations } = await shipped(h, [['A', 5]]);
    expect(locations).toEqual(['paris']);
    ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-1', lines: [{ lineId: '1', qty: 5, reason: 'damaged' }] },
        null,
      ),
    );
    const receipt = {
      receiptId: 'rc-1',
      location: 'lyon',
      lines: ['restock', 'write_off', 'return_to_vendor', 'refurbish', 'missing'].map(
        (disposition) => ({ lineId: '1', disposition, qty: 1 }),
      ),
    };
    const r = ok(await h.orders.receiveReturn('r-1', receipt, null));
    expect(returnOf(r, 'r-1')).toMatchObject({
      status: 'received',
      location: 'lyon',
      lines: [
        {
          lineId: '1',
          qty: 5,
          received: 4,
          missing: 1,
          dispositioned: 5,
          restock: 1,
          writeOff: 1,
          returnToVendor: 1,
          refurbish: 1,
          held: { returnToVendor: 1, refurbish: 1 },
        },
      ],
    });
    // Only the restocked unit is back in onHand, at the receiving location, not the shipping one.
    expect(onHand(h, 'A', 'lyon')).toBe(2);
    expect(onHand(h, 'A', 'paris')).toBe(5);
    expect(h.engine.availability('web', 'A', 'lyon')).toMatchObject({ available: 2 });
    expect(h.orders.heldAt('lyon')).toEqual({
      location: 'lyon',
      skus: [{ sku: 'A', returnToVendor: 1, refurbish: 1 }],
      returns: [{ orderId, returnId: 'r-1' }],
    });
    expect(h.orders.heldAt('paris').skus).toEqual([]);

    // Held units: refurbished and restocked, shipped to the supplier.
    const fixed = ok(
      await h.orders.resolveReturnHold(
        'r-1',
        { resolutionId: 'h-1', lineId: '1', from: 'refurbish', to: 'restock', qty: 1 },
        'lyon',
      ),
    );
    expect(returnOf(fixed, 'r-1').lines[0]?.refurbishedRestocked).toBe(1);
    expect(onHand(h, 'A', 'lyon')).toBe(3);
    const again = ok(
      await h.orders.resolveReturnHold(
        'r-1',
        { resolutionId: 'h-1', lineId: '1', from: 'refurbish', to: 'restock', qty: 1 },
        'lyon',
      ),
    );
    expect(again.duplicate).toBe(true);
    expect(onHand(h, 'A', 'lyon')).toBe(3);
    ok(
      await h.orders.resolveReturnHold(
        'r-1',
        {
          resolutionId: 'h-2',
          lineId: '1',
          from: 'return_to_vendor',
          to: 'shipped_to_vendor',
          qty: 1,
        },
        null,
      ),
    );
    expect(h.orders.heldAt('lyon')).toEqual({ location: 'lyon', skus: [], returns: [] });
    const none = await h.orders.resolveReturnHold(
      'r-1',
      { resolutionId: 'h-3', lineId: '1', from: 'refurbish', to: 'write_off', qty: 1 },
      null,
    );
    expect(none).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ORDER_STATE' });
    const foreign = await h.orders.resolveReturnHold(
      'r-1',
      { resolutionId: 'h-4', lineId: '1', from: 'refurbish', to: 'write_off', qty: 1 },
      'paris',
    );
    expect(foreign).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: 'OTHER_LOCATION' });
  });

  it('restocks into the live availability feed at once', async () => {
    const h = harness();
    await h.stock('A', { paris: 3 });
    const { orderId } = await shipped(h, [['A', 3]]);
    const deltas: AvailabilityDelta[] = [];
    h.engine.onDeltas((d) => deltas.push(...d));
    expect(h.engine.watch('web', 'A')).toMatchObject({ available: 0 });
    ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-1', lines: [{ lineId: '1', qty: 2, reason: 'size' }] },
        null,
      ),
    );
    ok(
      await h.orders.receiveReturn(
        'r-1',
        { receiptId: 'rc-1', lines: [{ lineId: '1', disposition: 'restock', qty: 2 }] },
        'lyon',
      ),
    );
    h.engine.flushDeltas();
    expect(deltas.filter((d) => d.topic === 'availability:web:A').at(-1)).toMatchObject({
      available: 2,
    });
  });

  it('a retried receipt changes nothing; other content under its id is ID_REUSED', async () => {
    const h = harness();
    await h.stock('A', { paris: 4 });
    const { orderId } = await shipped(h, [['A', 4]]);
    ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-1', lines: [{ lineId: '1', qty: 4, reason: 'size' }] },
        null,
      ),
    );
    const receipt = {
      receiptId: 'rc-1',
      location: 'paris',
      lines: [{ lineId: '1', disposition: 'restock', qty: 2 }],
    };
    const results = await Promise.all([
      h.orders.receiveReturn('r-1', receipt, null),
      h.orders.receiveReturn('r-1', receipt, null),
      h.orders.receiveReturn('r-1', receipt, 'paris'),
    ]);
    expect(results.map((r) => ok(r).duplicate)).toEqual([false, true, true]);
    expect(onHand(h, 'A', 'paris')).toBe(2);
    expect(returnOf(results[2] as never, 'r-1')).toMatchObject({ status: 'partially_received' });
    const changed = await h.orders.receiveReturn(
      'r-1',
      { ...receipt, lines: [{ lineId: '1', disposition: 'restock', qty: 1 }] },
      null,
    );
    expect(changed).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ID_REUSED' });
    const elsewhere = await h.orders.receiveReturn(
      'r-1',
      { receiptId: 'rc-2', lines: [{ lineId: '1', disposition: 'restock', qty: 1 }] },
      'lyon',
    );
    expect(elsewhere).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ORDER_STATE' });
    const tooMany = await h.orders.receiveReturn(
      'r-1',
      { receiptId: 'rc-3', lines: [{ lineId: '1', disposition: 'write_off', qty: 3 }] },
      'paris',
    );
    expect(tooMany).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'NOT_RETURNABLE' });
    const foreign = await h.orders.receiveReturn(
      'r-1',
      {
        receiptId: 'rc-4',
        location: 'paris',
        lines: [{ lineId: '1', disposition: 'missing', qty: 1 }],
      },
      'lyon',
    );
    expect(foreign).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: 'OTHER_LOCATION' });
    const unknown = await h.orders.receiveReturn('r-404', receipt, null);
    expect(unknown).toMatchObject({ ok: false, code: 'NOT_FOUND', reason: 'UNKNOWN_RETURN' });
  });
});

describe('returns: refunds', () => {
  it('refunds received units only, minus the fee, shipping with the last unit; retries are duplicates', async () => {
    const h = harness();
    await h.stock('A', { paris: 10 });
    await h.stock('B', { paris: 10 });
    const { orderId } = await shipped(
      h,
      [
        ['A', 3],
        ['B', 1],
      ],
      { shippingAmount: 500, payment: { amount: 4_500, currency: 'EUR' } },
    );
    ok(
      await h.orders.requestReturn(
        orderId,
        {
          returnId: 'r-1',
          lines: [
            { lineId: '1', qty: 3, reason: 'size' },
            { lineId: '2', qty: 1, reason: 'damaged' },
          ],
        },
        null,
      ),
    );
    const nothing = await h.orders.refundReturn('r-1', { creditNoteId: 'cn-0' }, null);
    expect(nothing).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'NOT_RETURNABLE' });
    ok(
      await h.orders.receiveReturn(
        'r-1',
        {
          receiptId: 'rc-1',
          lines: [
            { lineId: '1', disposition: 'restock', qty: 2 },
            { lineId: '1', disposition: 'missing', qty: 1 },
            { lineId: '2', disposition: 'write_off', qty: 1 },
          ],
        },
        'lyon',
      ),
    );
    const refund = ok(await h.orders.refundReturn('r-1', { creditNoteId: 'cn-1' }, null));
    // Two of the three announced A units arrived: 2000, minus 10% (size); B damaged: no fee.
    expect(returnOf(refund, 'r-1')).toMatchObject({
      status: 'refunded',
      creditNotes: [
        {
          creditNoteId: 'cn-1',
          returnId: 'r-1',
          currency: 'EUR',
          lines: [
            { lineId: '1', qty: 2, amount: 2_000, fee: 200 },
            { lineId: '2', qty: 1, amount: 1_000, fee: 0 },
          ],
          merchandise: 3_000,
          fees: 200,
          shipping: 0,
          total: 2_800,
        },
      ],
    });
    const retry = ok(await h.orders.refundReturn('r-1', { creditNoteId: 'cn-1' }, 'web'));
    expect(retry.duplicate).toBe(true);
    expect(returnOf(retry, 'r-1').creditNotes).toHaveLength(1);
    const again = await h.orders.refundReturn('r-1', { creditNoteId: 'cn-2' }, null);
    expect(again).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'NOT_RETURNABLE' });
    const foreign = await h.orders.refundReturn('r-1', { creditNoteId: 'cn-3' }, 'app');
    expect(foreign).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: 'OTHER_CHANNEL' });
  });

  it('refunds shipping with the credit note that brings the last unit back, once', async () => {
    const h = harness();
    await h.stock('A', { paris: 10 });
    const { orderId } = await shipped(h, [['A', 2]], {
      shippingAmount: 500,
      payment: { amount: 2_500, currency: 'EUR' },
    });
    for (const id of ['r-1', 'r-2']) {
      ok(
        await h.orders.requestReturn(
          orderId,
          { returnId: id, lines: [{ lineId: '1', qty: 1, reason: 'damaged' }] },
          null,
        ),
      );
      ok(
        await h.orders.receiveReturn(
          id,
          { receiptId: 'rc', lines: [{ lineId: '1', disposition: 'restock', qty: 1 }] },
          'paris',
        ),
      );
    }
    const one = ok(await h.orders.refundReturn('r-1', { creditNoteId: 'cn-1' }, null));
    expect(returnOf(one, 'r-1').creditNotes[0]).toMatchObject({ shipping: 0, total: 1_000 });
    const two = ok(await h.orders.refundReturn('r-2', { creditNoteId: 'cn-2' }, null));
    expect(returnOf(two, 'r-2').creditNotes[0]).toMatchObject({ shipping: 500, total: 1_500 });
    const reused = await h.orders.refundReturn('r-2', { creditNoteId: 'cn-1' }, null);
    expect(reused).toMatchObject({ ok: false, code: 'CONFLICT', reason: 'ID_REUSED' });
  });

  it('tells the customer: return requested, received, refunded', async () => {
    const h = harness();
    await h.stock('A', { paris: 2 });
    const { orderId } = await shipped(h, [['A', 1]]);
    await returnedAndRefunded(h, orderId);
    await h.idle();
    expect(h.transport.types('customer').filter((t) => t.startsWith('return.'))).toEqual([
      'return.requested',
      'return.received',
      'return.refunded',
    ]);
    expect(h.orders.get(orderId)?.pendingMessages).toBe(0);
  });
});

describe('returns: durability', () => {
  async function history(h: OrderHarness): Promise<string> {
    await h.stock('A', { paris: 6, lyon: 2 });
    const { orderId } = await shipped(h, [['A', 5]]);
    ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-1', lines: [{ lineId: '1', qty: 4, reason: 'size' }] },
        null,
      ),
    );
    ok(
      await h.orders.receiveReturn(
        'r-1',
        {
          receiptId: 'rc-1',
          lines: [
            { lineId: '1', disposition: 'restock', qty: 1 },
            { lineId: '1', disposition: 'refurbish', qty: 2 },
            { lineId: '1', disposition: 'missing', qty: 1 },
          ],
        },
        'lyon',
      ),
    );
    ok(
      await h.orders.resolveReturnHold(
        'r-1',
        { resolutionId: 'h-1', lineId: '1', from: 'refurbish', to: 'restock', qty: 1 },
        'lyon',
      ),
    );
    ok(await h.orders.refundReturn('r-1', { creditNoteId: 'cn-1' }, null));
    await h.idle();
    return orderId;
  }

  it('replaying the journal gives the same returns, holds and stock', async () => {
    const journal = new MemoryJournal();
    const live = harness(journal);
    const orderId = await history(live);
    const again = orderHarness({ start: false });
    again.engine.storage.replay(journal.records);
    expect(again.orders.get(orderId)).toEqual(live.orders.get(orderId));
    expect(again.orders.getReturn('r-1')).toEqual(live.orders.getReturn('r-1'));
    expect(again.orders.heldAt('lyon')).toEqual(live.orders.heldAt('lyon'));
    expect(again.orders.heldAt('lyon').skus).toEqual([
      { sku: 'A', returnToVendor: 0, refurbish: 1 },
    ]);
    for (const loc of ['paris', 'lyon']) {
      expect(again.engine.position('A', loc)).toEqual(live.engine.position('A', loc));
    }
    expect(onHand(again, 'A', 'lyon')).toBe(4);
    // Replayed retries are still duplicates: nothing restocks twice.
    const retry = await again.orders.receiveReturn(
      'r-1',
      {
        receiptId: 'rc-1',
        lines: [
          { lineId: '1', disposition: 'restock', qty: 1 },
          { lineId: '1', disposition: 'refurbish', qty: 2 },
          { lineId: '1', disposition: 'missing', qty: 1 },
        ],
      },
      'lyon',
    );
    expect(ok(retry).duplicate).toBe(true);
    expect(onHand(again, 'A', 'lyon')).toBe(4);
  });

  it('a snapshot of the orders carries their returns', async () => {
    const journal = new MemoryJournal();
    const live = harness(journal);
    const orderId = await history(live);
    const cursor = live.engine.storage.beginSnapshot();
    const items = [];
    for (let chunk = cursor.next(2); chunk !== null; chunk = cursor.next(2)) items.push(...chunk);
    const fresh = orderHarness({ start: false });
    fresh.engine.storage.beginImport(cursor.header);
    fresh.engine.storage.importChunk(items);
    fresh.engine.storage.replay(journal.records.filter((r) => r.seq >= cursor.header.startSeq));
    expect(fresh.orders.get(orderId)).toEqual(live.orders.get(orderId));
    expect(fresh.orders.getReturn('r-1')).toEqual(live.orders.getReturn('r-1'));
    expect(fresh.engine.position('A', 'lyon')).toEqual(live.engine.position('A', 'lyon'));
  });

  it('keeps a delivered order past its retention while its return window runs', async () => {
    const h = harness();
    await h.stock('A', { paris: 2 });
    const placed = await h.placed(order([['A', 1]]));
    const f = placed.order.fulfilments[0]?.fulfilmentId ?? '';
    ok(await h.orders.fulfilmentAnswer(f, { type: 'shipped', tracking: 'T' }, null));
    ok(await h.orders.fulfilmentAnswer(f, { type: 'delivered' }, null));
    const orderId = placed.order.orderId;
    h.clock.advance(2 * DAY);
    await h.idle();
    expect(h.orders.get(orderId)?.status).toBe('delivered');
    ok(
      await h.orders.requestReturn(
        orderId,
        { returnId: 'r-1', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
        null,
      ),
    );
    h.clock.advance(40 * DAY);
    await h.idle();
    // The window closed, but the return is still open: kept.
    expect(h.orders.getReturn('r-1')?.return.status).toBe('requested');
    ok(
      await h.orders.receiveReturn(
        'r-1',
        { receiptId: 'rc', lines: [{ lineId: '1', disposition: 'missing', qty: 1 }] },
        'paris',
      ),
    );
    // Every unit accounted for (none arrived: nothing to refund), its messages delivered.
    await h.idle();
    h.clock.advance(2 * DAY);
    await h.idle();
    expect(h.orders.get(orderId)).toBeNull();
  });
});
