import { ErrorCode, fail, Reason, type Command } from '../engine/index.ts';
import {
  notifyCustomer,
  recordStep,
  refuse,
  repeated,
  type Decided,
  type MessageDraft,
} from './decision.ts';
import type { Order } from './order-state.ts';
import type { ReturnContext } from './return-context.ts';
import type { ReceiptCounts } from './return-events.ts';
import { exchangeAtReceipt, exchangeDeclined, exchangePlaced } from './return-exchange.ts';
import { digest, type ReturnReceipt } from './return-input.ts';
import { dispositioned } from './return-state.ts';

export interface ReturnReceiptCommand {
  readonly returnId: string;
  /** `location` filled in: the caller's own, or the one an admin named. */
  readonly receipt: ReturnReceipt & { readonly location: string };
  /** The caller's location, when the caller is bound to one; null: any. */
  readonly callerLocation: string | null;
}

/**
 * A location receives (part of) a return: any location, not only the one that shipped it. Each
 * unit gets a disposition; `restock` units go back into that location's onHand at once (an
 * engine adjustment whose id derives from the receipt, so a retried receipt restocks nothing
 * twice), units held apart (`return_to_vendor`, `refurbish`) stay out of onHand, `write_off` and
 * `missing` are recorded only. Idempotent under the receipt id. A return is received at one
 * location: a later receipt elsewhere is CONFLICT. The receipt whose units cover the return's
 * exchange places it, or declines it when none are left to come (return-exchange.ts).
 */
export function decideReturnReceipt(
  order: Order | null,
  command: ReturnReceiptCommand,
  context: ReturnContext,
): Decided {
  const { returnId, receipt, callerLocation } = command;
  const r = order?.findReturn(returnId);
  if (order === null || r === undefined) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_RETURN, `unknown return ${returnId}`),
      false,
    );
  }
  const location = receipt.location;
  if (callerLocation !== null && callerLocation !== location) {
    return refuse(
      fail(
        ErrorCode.FORBIDDEN,
        Reason.OTHER_LOCATION,
        `a ${callerLocation} key cannot receive at ${location}`,
      ),
      false,
    );
  }
  const fingerprint = digest(receipt);
  const seen = r.receipts.find((x) => x.id === receipt.receiptId);
  if (seen !== undefined) {
    return repeated(seen.fingerprint, fingerprint, `receipt ${receipt.receiptId}`, true);
  }
  if (!context.hasLocation(location)) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_LOCATION, `unknown location ${location}`),
      true,
    );
  }
  if (r.location !== null && r.location !== location) {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.ORDER_STATE,
        `return ${returnId} is being received at ${r.location}`,
      ),
      true,
    );
  }
  const counts = new Map<string, Mutable<ReceiptCounts>>();
  for (const w of receipt.lines) {
    const line = r.lines.find((l) => l.lineId === w.lineId);
    if (line === undefined) {
      return refuse(
        fail(ErrorCode.NOT_FOUND, null, `return ${returnId} has no line ${w.lineId}`),
        true,
      );
    }
    let c = counts.get(w.lineId);
    if (c === undefined) {
      c = {
        lineId: w.lineId,
        restock: 0,
        writeOff: 0,
        returnToVendor: 0,
        refurbish: 0,
        missing: 0,
      };
      counts.set(w.lineId, c);
    }
    c[FIELD[w.disposition]] += w.qty;
    const total = c.restock + c.writeOff + c.returnToVendor + c.refurbish + c.missing;
    const open = line.qty - dispositioned(line);
    if (total > open) {
      return refuse(
        fail(
          ErrorCode.CONFLICT,
          Reason.NOT_RETURNABLE,
          `line ${w.lineId}: ${String(open)} units of return ${returnId} are still awaited`,
        ),
        true,
      );
    }
  }
  const lines = [...counts.values()];
  // One adjustment per SKU (adjustment ids are scoped per SKU).
  const restock = new Map<string, number>();
  for (const c of lines) {
    const sku = r.lines.find((l) => l.lineId === c.lineId)?.sku ?? '';
    if (c.restock > 0) restock.set(sku, (restock.get(sku) ?? 0) + c.restock);
  }
  const stock: Command[] = [...restock].map(([sku, qty]) => ({
    op: 'adjust',
    adjustmentId: `rma:${returnId}:r:${receipt.receiptId}`,
    sku,
    location,
    delta: qty,
  }));
  const messages: MessageDraft[] = [];
  notifyCustomer(context, messages, order, 'return.received', {
    returnId,
    location,
    lines: lines.map((c) => ({
      lineId: c.lineId,
      received: c.restock + c.writeOff + c.returnToVendor + c.refurbish,
      missing: c.missing,
    })),
  });
  const exchange = exchangeAtReceipt(r, lines, context.returnPolicy);
  if (exchange !== null && r.exchange !== undefined) {
    if (exchange.status === 'placed')
      exchangePlaced(context, messages, order, returnId, r.exchange);
    else exchangeDeclined(context, messages, order, returnId, exchange.reason ?? '');
  }
  return recordStep(
    {
      kind: 'return_received',
      returnId,
      receiptId: receipt.receiptId,
      fingerprint,
      location,
      lines,
      ...(exchange === null ? {} : { exchange }),
    },
    messages,
    stock,
  );
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const FIELD = {
  restock: 'restock',
  write_off: 'writeOff',
  return_to_vendor: 'returnToVendor',
  refurbish: 'refurbish',
  missing: 'missing',
} as const;
