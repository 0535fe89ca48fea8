import type {
  CancelRequest,
  FulfilmentAnswer,
  HeldUnits,
  OrderResult,
  OrderStats,
  OrderView,
  OutboxMessage,
  Reconciliation,
  ReturnOfOrder,
} from '../orders/index.ts';

/** A value now, or later: a read served in this thread, or asked of the worker that owns it. */
export type Answer<T> = T | Promise<T>;

/**
 * The order service as the gateway's routes and WebSocket ops use it. With `server.workers: 1`
 * it is the OrderService itself (every read answers at once); with more workers, on every
 * worker but the orders' home, it is a RemoteOrders (gateway/shards/sharded-orders.ts) that asks
 * the home worker, so every read may answer a promise (docs/scaling.md, "Orders on workers").
 * Every value crossing it is plain data (msgpack between threads).
 */
export interface OrderApi {
  place(body: unknown, idempotencyKey: string | null, channel: string | null): Promise<OrderResult>;
  cancel(orderId: string, request: CancelRequest, channel: string | null): Promise<OrderResult>;
  fulfilmentAnswer(
    fulfilmentId: string,
    answer: FulfilmentAnswer,
    location: string | null,
  ): Promise<OrderResult>;
  requestReturn(orderId: string, body: unknown, channel: string | null): Promise<OrderResult>;
  receiveReturn(returnId: string, body: unknown, location: string | null): Promise<OrderResult>;
  resolveReturnHold(returnId: string, body: unknown, location: string | null): Promise<OrderResult>;
  refundReturn(returnId: string, body: unknown, channel: string | null): Promise<OrderResult>;

  get(orderId: string): Answer<OrderView | null>;
  recent(limit: number): Answer<OrderView[]>;
  orderOfFulfilment(fulfilmentId: string): Answer<string | null>;
  pendingFor(stream: string): Answer<OutboxMessage[]>;
  getReturn(returnId: string): Answer<ReturnOfOrder | null>;
  heldAt(location: string): Answer<HeldUnits>;
  reconciliation(day: string, location: string | null): Answer<Reconciliation>;
  /** The service's running totals and counts now. */
  stats(): Answer<OrderStats>;

  /** Resolves when no order step is running (the gateway waits for it when closing). */
  settled(): Promise<void>;
  /** A stream's receiver connected (a location's WebSocket): send what waits for it now. */
  wake(stream: string): void;
}
