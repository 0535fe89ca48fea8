import type { ChangeLedger } from './changes-since-feed.ts';
import type { PositionView } from './commands.ts';
import type { Location } from './master-data.ts';

/**
 * One SKU at one location: the unit the stock invariant is about.
 * Invariant after every grant: reserved + allocated <= onHand. A feed may push onHand below
 * that (stock was lost); the position is then short, sees 0 availability and grants nothing.
 *
 * All fields are set in the constructor so every position has one hidden class.
 */
export class Position {
  readonly sku: string;
  readonly location: Location;
  /** Index inside its SKU book (its slot in the book's availability arrays). */
  readonly index: number;
  onHand = 0;
  reserved = 0;
  allocated = 0;
  /** The `asOf` of the newest absolute feed applied; -Infinity before the first. */
  feedAsOf = -Infinity;
  /** Relative onHand changes since the newest absolute feed, with their times (see
   * changes-since-feed.ts); null when there are none, as for most positions. */
  sinceFeed: ChangeLedger | null = null;
  /** Quantity allocated per order id; null until the first allocation. */
  orders: Map<string, number> | null = null;
  /** Rules resolved for this position (see ChannelRules.resolve) and their version. */
  rules: Float64Array | null = null;
  rulesVersion = -1;
  /** Set when a number a channel could see may have changed and views are not yet refreshed. */
  dirty = false;

  constructor(sku: string, location: Location, index: number) {
    this.sku = sku;
    this.location = location;
    this.index = index;
  }

  /** onHand - reserved - allocated; negative when the position is short. */
  get free(): number {
    return this.onHand - this.reserved - this.allocated;
  }

  orderQty(orderId: string): number {
    return this.orders?.get(orderId) ?? 0;
  }

  addOrderQty(orderId: string, delta: number): void {
    const orders = (this.orders ??= new Map<string, number>());
    const next = (orders.get(orderId) ?? 0) + delta;
    if (next === 0) orders.delete(orderId);
    else orders.set(orderId, next);
    this.allocated += delta;
  }

  view(): PositionView {
    return {
      sku: this.sku,
      location: this.location.id,
      onHand: this.onHand,
      reserved: this.reserved,
      allocated: this.allocated,
    };
  }
}
