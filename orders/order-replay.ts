import type { OrderAck, OrderEvent, OrderRecord } from './order-events.ts';
import type { OrderIndex } from './order-index.ts';
import { Order } from './order-state.ts';
import type { OutboxDispatcher } from './outbox-dispatcher.ts';

/**
 * Recovery: one journal record of the order service applied to the orders in memory. An event
 * applies once, in version order (a snapshot may already hold it); `dispatcher`, once the service
 * has started, gets the event's messages. Answers whether the record changed anything.
 */
export function replayRecord(
  index: OrderIndex,
  record: OrderRecord,
  seq: number,
  dispatcher: OutboxDispatcher | null,
): boolean {
  return 'event' in record
    ? replayEvent(index, record.event, seq, dispatcher)
    : replayAcks(index, record.acks, seq);
}

function replayEvent(
  index: OrderIndex,
  event: OrderEvent,
  seq: number,
  dispatcher: OutboxDispatcher | null,
): boolean {
  let order = index.get(event.orderId);
  if (order === undefined) {
    if (event.kind !== 'received') return false;
    order = Order.received(event);
    order.lsn = seq;
    index.add(order, []);
  } else {
    if (seq <= order.lsn || event.version !== order.version + 1) return false;
    const before = order.fulfilments;
    order.apply(event);
    order.lsn = seq;
    if (event.kind === 'purged') index.remove(order);
    else index.add(order, before);
  }
  if (dispatcher !== null) for (const m of event.messages) dispatcher.enqueue(m);
  return true;
}

function replayAcks(index: OrderIndex, acks: readonly OrderAck[], seq: number): boolean {
  let applied = false;
  for (const a of acks) {
    const order = index.get(a.orderId);
    if (order === undefined || seq <= order.lsn) continue;
    order.acknowledge(a.delivered, a.deadLettered);
    order.lsn = seq;
    applied = true;
  }
  return applied;
}
