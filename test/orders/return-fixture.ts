import { expect } from 'vitest';
import type { OrderOk, OrderResult, ReturnView } from '../../orders/index.ts';
import { order, type OrderHarness } from './order-fixture.ts';

/** Places an order of `lines` and ships every fulfilment; answers its id and fulfilments. */
export async function shipped(
  h: OrderHarness,
  lines: readonly (readonly [string, number])[],
  extra: Record<string, unknown> = {},
): Promise<{ orderId: string; locations: string[] }> {
  const body = order(lines, extra);
  const placed = await h.placed(body);
  for (const f of placed.order.fulfilments) {
    const r = await h.orders.fulfilmentAnswer(
      f.fulfilmentId,
      { type: 'shipped', carrier: 'UPS', tracking: `1Z-${f.fulfilmentId}` },
      null,
    );
    expect(r.ok).toBe(true);
  }
  return {
    orderId: placed.order.orderId,
    locations: placed.order.fulfilments.map((f) => f.location),
  };
}

export function ok(result: OrderResult): OrderOk {
  if (!result.ok) throw new Error(`expected ok: ${result.code} ${result.message}`);
  return result;
}

/** The return of a result's order. */
export function returnOf(result: OrderResult, returnId: string): ReturnView {
  const r = result.order?.returns.find((x) => x.returnId === returnId);
  if (r === undefined) throw new Error(`no return ${returnId}`);
  return r;
}

/**
 * The whole return of one unit of line 1: requested (r-1), received back into stock at Paris
 * (rc-1) and refunded (cn-1); each step must succeed.
 */
export async function returnedAndRefunded(h: OrderHarness, orderId: string): Promise<void> {
  ok(
    await h.orders.requestReturn(
      orderId,
      { returnId: 'r-1', lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
      null,
    ),
  );
  ok(
    await h.orders.receiveReturn(
      'r-1',
      { receiptId: 'rc-1', lines: [{ lineId: '1', disposition: 'restock', qty: 1 }] },
      'paris',
    ),
  );
  ok(await h.orders.refundReturn('r-1', { creditNoteId: 'cn-1' }, null));
}
