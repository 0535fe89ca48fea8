import { useState } from 'preact/hooks';
import type { Order } from '../client/index.ts';
import type { ConsoleApi } from './console-api.ts';
import { usePolling } from './polling.ts';

interface Explanation {
  readonly profile?: string;
  readonly policy?: string;
  readonly summary?: string;
  readonly candidates?: readonly { readonly location: string; readonly reason: string }[];
}

function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

function fulfilmentsOf(order: Order): string {
  if (order.fulfilments.length === 0) return '—';
  return order.fulfilments.map((f) => `${f.location} ${f.status}`).join(', ');
}

function latestExplanation(order: Order): Explanation | null {
  const last = order.sourcing.at(-1);
  const e = last?.explanation;
  return typeof e === 'object' && e !== null ? e : null;
}

/** One order in full: lines, fulfilments, the sourcing explanation and the history. */
function OrderDetail(props: { api: ConsoleApi; orderId: string; onClose: () => void }) {
  const { value: order, error } = usePolling(() => props.api.order(props.orderId), 2_000, [
    props.api,
    props.orderId,
  ]);
  const explanation = order === null ? null : latestExplanation(order);
  return (
    <div class="detail" aria-labelledby="order-detail-title">
      <header class="panel-head">
        <h3 id="order-detail-title">Order {props.orderId}</h3>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </header>
      {error !== null && <p class="error">{error}</p>}
      {order !== null && (
        <div class="detail-body">
          <p>
            <span class={`status s-${order.status}`}>{order.status}</span> · {order.channel} ·
            customer {order.customer.id} · {order.payment.amount / 100} {order.payment.currency}
          </p>
          <h4>Lines</h4>
          <ul>
            {order.lines.map((l) => (
              <li key={l.lineId}>
                {l.sku} × {l.qty}
                {l.cancelled > 0 ? ` (${l.cancelled} cancelled)` : ''}
              </li>
            ))}
          </ul>
          <h4>Fulfilments</h4>
          <ul>
            {order.fulfilments.map((f) => (
              <li key={f.fulfilmentId}>
                {f.fulfilmentId}: {f.location} <span class="status">{f.status}</span>
                {f.reason !== null ? ` (${f.reason})` : ''}
              </li>
            ))}
          </ul>
          <h4>Sourcing</h4>
          {explanation === null ? (
            <p class="muted">No sourcing explanation.</p>
          ) : (
            <>
              <p>
                {explanation.summary}{' '}
                <span class="muted">
                  ({explanation.profile}, {explanation.policy})
                </span>
              </p>
              <ul>
                {(explanation.candidates ?? []).map((c) => (
                  <li key={c.location}>
                    {c.location}: {c.reason}
                  </li>
                ))}
              </ul>
            </>
          )}
          <h4>History</h4>
          <ol class="history">
            {order.history.map((h, i) => (
              <li key={i}>
                <time>{time(h.at)}</time> {h.event} → {h.status}
                {h.detail.length > 0 ? `: ${h.detail}` : ''}
              </li>
            ))}
          </ol>
        </div>
      )}
    </div>
  );
}

/** The latest orders (GET /v1/orders), polled every second; one chosen shows in full. */
export function OrdersPanel(props: { api: ConsoleApi }) {
  const { value: orders, error } = usePolling(() => props.api.orders(50), 1_000, [props.api]);
  const [chosen, setChosen] = useState<string | null>(null);
  return (
    <section class="panel orders-panel" aria-labelledby="orders-title">
      <header class="panel-head">
        <h2 id="orders-title">Orders</h2>
        <span class="muted">latest 50</span>
      </header>
      {error !== null && <p class="error">{error}</p>}
      <div class="scroll-box orders-box">
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Placed</th>
              <th scope="col">Channel</th>
              <th scope="col">Status</th>
              <th scope="col">Fulfilments</th>
              <th scope="col">Sourcing</th>
            </tr>
          </thead>
          <tbody>
            {(orders ?? []).map((o) => (
              <tr
                key={o.orderId}
                class={o.orderId === chosen ? 'selected' : undefined}
                data-order={o.orderId}
              >
                <th scope="row">
                  <button
                    type="button"
                    class="link"
                    aria-pressed={o.orderId === chosen}
                    onClick={() => {
                      setChosen(o.orderId);
                    }}
                  >
                    {o.orderId}
                  </button>
                </th>
                <td>{time(o.createdAt)}</td>
                <td>{o.channel}</td>
                <td>
                  <span class={`status s-${o.status}`}>{o.status}</span>
                </td>
                <td class="ellipsis">{fulfilmentsOf(o)}</td>
                <td class="ellipsis">{latestExplanation(o)?.summary ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {orders !== null && orders.length === 0 && <p class="empty">No orders yet.</p>}
      </div>
      {chosen !== null && (
        <OrderDetail
          api={props.api}
          orderId={chosen}
          onClose={() => {
            setChosen(null);
          }}
        />
      )}
    </section>
  );
}
