import type { Order } from './order-state.ts';

/** One location's units and money on one UTC day, in one currency. */
export interface ReconciliationRow {
  readonly location: string;
  readonly currency: string;
  readonly unitsShipped: number;
  readonly unitsReturned: number;
  readonly unitsRestocked: number;
  /** Minor units: shipped lines at the order's prices, plus shipping with an order's first shipment. */
  readonly amountInvoiced: number;
  /** Minor units: credit notes issued (refunds). */
  readonly amountCredited: number;
}

/** What GET /v1/erp/reconciliation returns. */
export interface Reconciliation {
  readonly day: string;
  /** The location asked for, or null: every location. */
  readonly location: string | null;
  /** By location, then currency; a location with nothing that day has no row. */
  readonly rows: readonly ReconciliationRow[];
}

/**
 * The reconciliation of one UTC day (and one location, or all): the sum of the ledgers the
 * orders keep (settlement.ts), so it is what the settlement events of that day said, and replay
 * reproduces it. It covers the orders in memory: an order is dropped only once it is complete,
 * its returns settled and its return window passed (docs/erp.md "Reconciliation").
 */
export function reconcileDay(
  orders: Iterable<Order>,
  day: string,
  location: string | null,
): Reconciliation {
  const rows = new Map<string, Mutable<ReconciliationRow>>();
  for (const order of orders) {
    const ledger = order.settlement.ledger;
    if (ledger.length === 0) continue;
    const currency = order.input.payment.currency;
    for (const [d, at, shipped, returned, restocked, invoiced, credited] of ledger) {
      if (d !== day || (location !== null && at !== location)) continue;
      const key = `${at}\u0000${currency}`;
      let row = rows.get(key);
      if (row === undefined) {
        row = {
          location: at,
          currency,
          unitsShipped: 0,
          unitsReturned: 0,
          unitsRestocked: 0,
          amountInvoiced: 0,
          amountCredited: 0,
        };
        rows.set(key, row);
      }
      row.unitsShipped += shipped;
      row.unitsReturned += returned;
      row.unitsRestocked += restocked;
      row.amountInvoiced += invoiced;
      row.amountCredited += credited;
    }
  }
  const sorted = [...rows.values()].sort((a, b) =>
    a.location === b.location ? compare(a.currency, b.currency) : compare(a.location, b.location),
  );
  return { day, location, rows: sorted };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
