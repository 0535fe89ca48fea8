import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Clock, StockPort } from '../engine/index.ts';
import { OrderService, type OutboxTransport } from '../orders/index.ts';
import { LocationPush } from './location-push.ts';
import { orderSettings } from './order-settings.ts';
import { SettlementSinks } from './settlement-sinks.ts';
import { WebhookTransport } from './webhook-transport.ts';

/** The order service with what carries its messages, as the process that runs it starts it. */
export interface OrderParts {
  readonly orders: OrderService;
  /** Location sockets of this gateway: the transport of their `location:<id>` streams. */
  readonly push: LocationPush;
  readonly settlement: SettlementSinks;
}

/**
 * Builds the order service over `stock` (create it before recovery: it joins the engine's
 * journal). How its messages travel: a location with a webhook gets signed HTTP POSTs, any other
 * gets them over its WebSocket (`push`, or with worker threads a socket on another worker:
 * `sharded`); customer notifications go to the customer webhook, and are not produced when
 * there is none; the ERP's settlement events go to its sinks, and are not produced when there is
 * none. The caller starts the service and the sinks after recovery and stops them.
 */
export function createOrders(
  config: Config,
  stock: StockPort,
  clock: Clock,
  log: Logger,
  sharded: {
    /** A `location:<id>` stream's transport: its newest socket, on whichever worker. */
    readonly locations: (stream: string) => OutboxTransport | null;
    /** Fulfilments open at a location in the other workers' order services. */
    readonly openElsewhere: (location: string) => number;
  } | null = null,
): OrderParts {
  const o = config.orders;
  const push = new LocationPush({ ackTimeoutMs: o.outbox.pushAckTimeoutMs });
  const settlement = new SettlementSinks(config.erp.settlement, o.outbox.timeoutMs, clock, log);
  const http = (target: { url: string; secret: string }): OutboxTransport =>
    new WebhookTransport(target, { timeoutMs: o.outbox.timeoutMs, clock });
  const hooks = new Map<string, OutboxTransport>();
  for (const l of o.locations)
    if (l.webhook !== null) hooks.set(`location:${l.id}`, http(l.webhook));
  const customer = o.notifications.webhook === null ? null : http(o.notifications.webhook);
  const orders = new OrderService({
    stock,
    clock,
    logger: log.child({ component: 'orders' }),
    ...orderSettings(config),
    notifyCustomers: customer !== null,
    settlementStreams: settlement.streams,
    transportFor: (stream) =>
      stream === 'customer'
        ? customer
        : (hooks.get(stream) ??
          settlement.transportFor(stream) ??
          (sharded === null ? push.transportFor(stream) : sharded.locations(stream))),
    openElsewhere: sharded?.openElsewhere,
  });
  return { orders, push, settlement };
}
