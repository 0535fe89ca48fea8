import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, loadStock, orderService, promtool, start, type Running } from './harness.ts';

let r: Running;
beforeAll(async () => {
  r = await start({ gateway: { metricsPort: 0 }, orders: orderService });
  await loadStock(r, 'dc1', { 'sku-1': 3 }, 1);
});
afterAll(async () => {
  await r.stop();
});

describe('/metrics', () => {
  it('is served on its own port, passes promtool check metrics, and counts traffic', async () => {
    expect(r.metricsPort).not.toBeNull();
    expect(r.metricsPort).not.toBe(r.port);
    // Not on the main port when a metrics port is set.
    expect((await r.http('/metrics', { key: null })).status).toBe(404);

    const c = await Client.connect(r.port, { key: KEYS.web, binary: true });
    await c.request({ op: 'subscribe', topics: ['availability:web:sku-1'] });
    await c.request({ op: 'reserve', reservationId: 'm-1', channel: 'web', sku: 'sku-1', qty: 1 });
    await c.request({ op: 'reserve', reservationId: 'm-2', channel: 'web', sku: 'sku-1', qty: 9 });
    await c.delta('availability:web:sku-1', (a) => a === 2);
    c.ws.send(Buffer.from([0xc1]));
    await c.next((m) => m.op === 'error' && m.id === null);
    const placed = await r.http('/v1/orders', {
      method: 'POST',
      key: KEYS.web,
      body: JSON.stringify({
        orderId: 'met-1',
        channel: 'web',
        customer: { id: 'c-1' },
        lines: [{ sku: 'sku-1', qty: 1, unitPrice: 500 }],
        delivery: { type: 'pickup', location: 'dc1' },
        payment: { amount: 500, currency: 'EUR' },
      }),
    });
    expect(placed.status).toBe(201);

    const res = await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const body = await res.text();
    const check = await promtool(body);
    expect(check.out).toBe('');
    expect(check.code).toBe(0);

    expect(body).toMatch(
      /stockflow_gateway_ops_total\{transport="ws",op="reserve",result="ok"\} 1/,
    );
    expect(body).toMatch(
      /stockflow_gateway_ops_total\{transport="ws",op="reserve",result="INSUFFICIENT_STOCK"\} 1/,
    );
    expect(body).toMatch(/stockflow_gateway_op_duration_seconds_count\{op="reserve"\} 2/);
    expect(body).toMatch(
      /stockflow_gateway_op_duration_seconds_bucket\{op="reserve",le="\+Inf"\} 2/,
    );
    expect(body).toMatch(/stockflow_gateway_ws_connections 1/);
    expect(body).toMatch(/stockflow_gateway_subscriptions 1/);
    expect(body).toMatch(/stockflow_gateway_frames_rejected_total\{reason="invalid_byte"\} 1/);
    expect(body).toMatch(/stockflow_engine_deltas_published_total [1-9]/);
    expect(body).toMatch(/stockflow_engine_mailbox_depth 0/);
    expect(body).toMatch(
      /stockflow_gateway_ops_total\{transport="http",op="placeOrder",result="ok"\} 1/,
    );
    expect(body).toMatch(/stockflow_orders_placed_total 1/);
    expect(body).toMatch(/stockflow_order_placements_failed_total 0/);
    expect(body).toMatch(/stockflow_orders 1/);
    expect(body).toMatch(/stockflow_orders_by_status\{status="fulfilment_requested"\} 1/);
    expect(body).toMatch(/stockflow_orders_by_status\{status="cancelled"\} 0/);
    expect(body).toMatch(/stockflow_fulfilments_open 1/);
    // No dc1 socket is open: its fulfilment request waits in the outbox.
    expect(body).toMatch(/stockflow_outbox_queued 1/);
    expect(body).toMatch(/stockflow_outbox_in_flight 0/);
    expect(body).toMatch(/stockflow_outbox_delivered_total 0/);
    expect(body).toMatch(/stockflow_outbox_oldest_age_seconds \d/);
    expect(body).toMatch(/nodejs_eventloop_lag_seconds/);
    expect(body).toMatch(/process_cpu_user_seconds_total/);
    // Bounded labels only: no SKU, channel, key or reservation ever appears as a label value.
    expect(body).not.toMatch(/sku-1|web-shop|m-1|met-1/);
    await c.close();
  });
});
