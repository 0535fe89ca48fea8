import { isActive, type Fulfilment } from './fulfilment-machine.ts';
import type { Order, OrderStatus } from './order-state.ts';

/** The one place a channel-scoped key is built: an Idempotency-Key, or a SKU's ranking. */
export function channelKey(channel: string, key: string): string {
  return `${channel}\u0000${key}`;
}

/** How many of the newest orders the index remembers in order (the console's list). */
export const RECENT_ORDERS = 200;

/** What follows an order in and out of the index (its deadlines, its outbox). */
export interface IndexListener {
  /** An order was indexed, new or changed. */
  indexed(order: Order): void;
  /** An order left memory: purged, or its creation was taken back. */
  removed(order: Order): void;
}

/**
 * The orders in memory and how they are found: by id, by fulfilment, by (channel,
 * Idempotency-Key). Also what is kept per location and for the sweeps: open fulfilments per
 * location (sourcing's capacity criterion), the backlog (backordered or interrupted orders) and
 * completed orders in the order they completed (retention).
 */
export class OrderIndex {
  private readonly orders = new Map<string, Order>();
  private readonly byFulfilment = new Map<string, string>();
  private readonly byKey = new Map<string, string>();
  private readonly byReturn = new Map<string, string>();
  private readonly open = new Map<string, number>();
  /** Orders with units still to source, or whose sourcing was interrupted. */
  readonly backlog = new Set<string>();
  private readonly completed: string[] = [];
  private completedHead = 0;
  private readonly purgeQueued = new Set<string>();
  /** Each order's status as last indexed, and how many orders are in each. */
  private readonly statusOf = new Map<string, OrderStatus>();
  private readonly byStatus = new Map<OrderStatus, number>();
  /** The ids of the last RECENT_ORDERS orders indexed for the first time, as a ring. */
  private readonly recentIds: string[] = [];
  private recentNext = 0;

  constructor(private readonly listener: IndexListener) {}

  get size(): number {
    return this.orders.size;
  }

  get(orderId: string): Order | undefined {
    return this.orders.get(orderId);
  }

  values(): IterableIterator<Order> {
    return this.orders.values();
  }

  orderOfFulfilment(fulfilmentId: string): string | undefined {
    return this.byFulfilment.get(fulfilmentId);
  }

  orderOfReturn(returnId: string): string | undefined {
    return this.byReturn.get(returnId);
  }

  /** The order an Idempotency-Key was used for in a channel, or null. */
  keyOwner(channel: string, key: string): string | null {
    return this.byKey.get(channelKey(channel, key)) ?? null;
  }

  /** Fulfilments open (holding stock) at a location. */
  openAt(location: string): number {
    return this.open.get(location) ?? 0;
  }

  /** Fulfilments open per location (read only; the index keeps it). */
  openByLocation(): ReadonlyMap<string, number> {
    return this.open;
  }

  openFulfilments(): number {
    let n = 0;
    for (const count of this.open.values()) n += count;
    return n;
  }

  /** Orders in memory by status. */
  countsByStatus(): ReadonlyMap<OrderStatus, number> {
    return this.byStatus;
  }

  /** Indexes an order as it is now; `before`: its fulfilments as last indexed. */
  add(order: Order, before: readonly Fulfilment[]): void {
    if (!this.orders.has(order.orderId)) this.remember(order.orderId);
    this.orders.set(order.orderId, order);
    this.countStatus(order.orderId, order.status);
    const key = order.idempotencyKey;
    if (key !== null) this.byKey.set(channelKey(order.input.channel, key), order.orderId);
    for (const x of before) if (isActive(x.status)) this.bump(x.location, -1);
    for (const x of order.fulfilments) {
      this.byFulfilment.set(x.fulfilmentId, order.orderId);
      if (isActive(x.status)) this.bump(x.location, 1);
    }
    for (const r of order.returns) this.byReturn.set(r.returnId, order.orderId);
    if (order.backorderedUnits() > 0 || order.pending) this.backlog.add(order.orderId);
    else this.backlog.delete(order.orderId);
    if (order.terminal && order.completedAt !== null && !this.purgeQueued.has(order.orderId)) {
      this.purgeQueued.add(order.orderId);
      this.completed.push(order.orderId);
    }
    this.listener.indexed(order);
  }

  remove(order: Order): void {
    this.orders.delete(order.orderId);
    this.countStatus(order.orderId, null);
    const key = order.idempotencyKey;
    if (key !== null) this.byKey.delete(channelKey(order.input.channel, key));
    for (const x of order.fulfilments) {
      this.byFulfilment.delete(x.fulfilmentId);
      if (isActive(x.status)) this.bump(x.location, -1);
    }
    for (const r of order.returns) this.byReturn.delete(r.returnId);
    this.backlog.delete(order.orderId);
    this.purgeQueued.delete(order.orderId);
    this.listener.removed(order);
  }

  private countStatus(orderId: string, status: OrderStatus | null): void {
    const was = this.statusOf.get(orderId);
    if (was === status) return;
    if (was !== undefined) {
      const left = (this.byStatus.get(was) ?? 1) - 1;
      if (left > 0) this.byStatus.set(was, left);
      else this.byStatus.delete(was);
    }
    if (status === null) {
      this.statusOf.delete(orderId);
      return;
    }
    this.statusOf.set(orderId, status);
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  clear(): void {
    for (const order of [...this.orders.values()]) this.remove(order);
  }

  /**
   * Completed orders that finished at or before `cutoff`, oldest first, go to `purge`; one still
   * sending its last messages, or that `keep` keeps (its returns), is looked at again at the next
   * sweep.
   */
  expired(
    cutoff: number,
    purge: (orderId: string) => void,
    keep: (order: Order) => boolean = () => false,
  ): void {
    const later: string[] = [];
    while (this.completedHead < this.completed.length) {
      const orderId = this.completed[this.completedHead] as string;
      const order = this.orders.get(orderId);
      if (order?.completedAt != null && order.completedAt > cutoff) break;
      this.completedHead++;
      this.purgeQueued.delete(orderId);
      if (order === undefined || !order.terminal) continue;
      if (order.outbox.length > 0 || keep(order)) {
        later.push(orderId);
        continue;
      }
      purge(orderId);
    }
    for (const orderId of later) {
      this.purgeQueued.add(orderId);
      this.completed.push(orderId);
    }
    if (this.completedHead > 1024 && this.completedHead * 2 > this.completed.length) {
      this.completed.splice(0, this.completedHead);
      this.completedHead = 0;
    }
  }

  /**
   * The newest orders still in memory, newest first, at most `limit` (and RECENT_ORDERS): the
   * operators' console lists them without walking every order.
   */
  recent(limit: number): Order[] {
    const out: Order[] = [];
    const seen = new Set<string>();
    const n = this.recentIds.length;
    for (let k = 1; k <= n && out.length < limit; k++) {
      const orderId = this.recentIds[(this.recentNext - k + n) % n] as string;
      const order = this.orders.get(orderId);
      if (order === undefined || seen.has(orderId)) continue;
      seen.add(orderId);
      out.push(order);
    }
    return out;
  }

  private remember(orderId: string): void {
    if (this.recentIds.length < RECENT_ORDERS) this.recentIds.push(orderId);
    else this.recentIds[this.recentNext] = orderId;
    this.recentNext = (this.recentNext + 1) % RECENT_ORDERS;
  }

  private bump(location: string, by: number): void {
    const n = (this.open.get(location) ?? 0) + by;
    if (n <= 0) this.open.delete(location);
    else this.open.set(location, n);
  }
}
