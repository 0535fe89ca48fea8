import { useState } from 'preact/hooks';
import type { ConsoleApi, FeedRecord } from './console-api.ts';
import { usePolling } from './polling.ts';

function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

function outcome(f: FeedRecord): string {
  return f.summary !== null
    ? `applied ${f.summary.applied}, zeroed ${f.summary.zeroed}, stale ${f.summary.stale}, rejected ${f.summary.rejected}`
    : `${f.result}: ${f.error ?? ''}`;
}

/** What a location has to do and what it last sent: pending fulfilments and stock feeds. */
export function LocationPanel(props: {
  api: ConsoleApi;
  locations: readonly { readonly id: string; readonly type: string }[];
}) {
  const { api, locations } = props;
  const [location, setLocation] = useState(locations[0]?.id ?? '');
  const pending = usePolling(() => api.pending(location), 2_000, [api, location]);
  const feeds = usePolling(() => api.feeds(location), 2_000, [api, location]);
  if (locations.length === 0) return null;
  return (
    <section class="panel" aria-labelledby="location-title">
      <header class="panel-head">
        <h2 id="location-title">Location</h2>
        <label>
          <span class="visually-hidden">Location</span>
          <select
            value={location}
            onChange={(e) => {
              setLocation(e.currentTarget.value);
            }}
          >
            {locations.map((l) => (
              <option key={l.id} value={l.id}>
                {l.id} ({l.type})
              </option>
            ))}
          </select>
        </label>
      </header>
      <h3>Pending fulfilments</h3>
      {pending.error !== null && <p class="error">{pending.error}</p>}
      <div class="scroll-box small-box">
        {pending.value !== null && pending.value.length === 0 ? (
          <p class="empty">Nothing waits for {location}.</p>
        ) : (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Message</th>
                <th scope="col">Order</th>
                <th scope="col">Since</th>
              </tr>
            </thead>
            <tbody>
              {(pending.value ?? []).map((m) => (
                <tr key={m.messageId}>
                  <td>{m.type}</td>
                  <td>{m.orderId}</td>
                  <td>{time(m.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <h3>Last stock feeds</h3>
      {feeds.error !== null && <p class="error">{feeds.error}</p>}
      <div class="scroll-box small-box">
        {feeds.value !== null && feeds.value.length === 0 ? (
          <p class="empty">No snapshot from {location} since the server started.</p>
        ) : (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">asOf</th>
                <th scope="col">Lines</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {(feeds.value ?? []).map((f, i) => (
                <tr key={`${f.at}:${i}`}>
                  <td>{time(f.at)}</td>
                  <td>{f.asOf}</td>
                  <td class="num">{f.lines}</td>
                  <td class={f.result === 'ok' ? 'ok ellipsis' : 'bad ellipsis'} title={outcome(f)}>
                    {outcome(f)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
