import { Gauge, type Registry } from 'prom-client';
import { ORDER_STATUSES, type OrderService, type OrderStats } from '../orders/index.ts';
import { collectedMetrics } from './collected-metrics.ts';

/** How long a copy of orders.stats() serves a scrape's collect callbacks (one copy per scrape). */
const STATS_TTL_MS = 250;

/**
 * The order service's metrics (docs/api.md, "Metrics"), read from `OrderService.stats()` when
 * scraped: nothing is counted on the order path itself. Counters follow the service's running
 * totals (a scrape adds what grew since the last one); gauges show the value now.
 */
export function registerOrderMetrics(registry: Registry, orders: OrderService): void {
  const registers = [registry];
  let cached: OrderStats | null = null;
  let cachedAt = 0;
  const stats = (): OrderStats => {
    const now = Date.now();
    if (cached === null || now - cachedAt > STATS_TTL_MS) {
      cached = orders.stats();
      cachedAt = now;
    }
    return cached;
  };
  const { gauge, counter } = collectedMetrics(registers, stats);
  counter(
    'stockflow_orders_placed_total',
    'Orders received (new order ids), including those whose placement then failed.',
    (s) => s.placed,
  );
  counter(
    'stockflow_order_placements_failed_total',
    'Orders that could not be sourced under their split policy at placement (cancelled).',
    (s) => s.placementsFailed,
  );
  counter(
    'stockflow_orders_cancelled_total',
    'Cancellations applied (whole orders or lines).',
    (s) => s.cancelled,
  );
  counter(
    'stockflow_fulfilment_answers_total',
    'Location answers applied to fulfilments (duplicates not counted).',
    (s) => s.fulfilmentAnswers,
  );
  counter(
    'stockflow_fulfilment_timeouts_total',
    'Fulfilments not answered in time (escalated and re-sourced).',
    (s) => s.timeouts,
  );
  counter(
    'stockflow_order_resourcings_total',
    'Times an order was sourced again after a reject, short pick or timeout.',
    (s) => s.resourcings,
  );
  gauge('stockflow_orders', 'Orders held in memory (active and retained).', (s) => s.orders);
  new Gauge({
    name: 'stockflow_orders_by_status',
    help: 'Orders held in memory, by status (every status is reported, zero or not).',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = stats().byStatus;
      for (const status of ORDER_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  gauge(
    'stockflow_orders_backordered',
    'Orders with units waiting for stock (or a step to resume).',
    (s) => s.backordered,
  );
  gauge(
    'stockflow_fulfilments_open',
    'Fulfilments requested, accepted or picked and not yet shipped.',
    (s) => s.openFulfilments,
  );
  gauge(
    'stockflow_outbox_queued',
    'Outbound messages accepted and not yet sent (waiting, or backing off).',
    (s) => s.outbox.queued,
  );
  gauge(
    'stockflow_outbox_in_flight',
    'Outbound messages being sent now.',
    (s) => s.outbox.inFlight,
  );
  counter(
    'stockflow_outbox_delivered_total',
    'Outbound messages acknowledged by their receiver.',
    (s) => s.outbox.delivered,
  );
  counter(
    'stockflow_outbox_retries_total',
    'Failed send attempts rescheduled (no receiver connected counts too).',
    (s) => s.outbox.retries,
  );
  counter(
    'stockflow_outbox_dead_lettered_total',
    'Outbound messages given up after a failure that cannot be retried.',
    (s) => s.outbox.deadLettered,
  );
  gauge(
    'stockflow_settlement_events_pending',
    'ERP settlement events (all sinks) not yet acknowledged by their sink.',
    (s) => s.settlement.pending,
  );
  counter(
    'stockflow_settlement_events_delivered_total',
    'ERP settlement events acknowledged by their sink (webhook 2xx, Redis Stream append).',
    (s) => s.settlement.delivered,
  );
  gauge(
    'stockflow_outbox_oldest_age_seconds',
    'Age of the oldest outbound message not yet delivered (0 when none).',
    (s) => s.outbox.oldestQueuedAgeMs / 1_000,
  );
}
