import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { StockflowClient } from '../client/index.ts';
import { LiveValues, topicOf, type LiveValue } from './live-values.ts';
import { matching, rowWindow } from './virtual-window.ts';

/** Fixed row height (px): the window arithmetic and the stylesheet agree on it. */
const ROW_HEIGHT = 30;
const VIEWPORT_HEIGHT = 420;
const OVERSCAN = 6;

/** One cell: its value, re-made on each change so the change mark plays again. */
function Cell({ topic, value }: { topic: string; value: LiveValue | undefined }) {
  if (value === undefined) {
    return (
      <td class="num pending" data-topic={topic}>
        …
      </td>
    );
  }
  return (
    <td
      data-topic={topic}
      class={value.changes > 0 ? 'num changed' : 'num'}
      data-changes={value.changes}
    >
      {value.available}
    </td>
  );
}

/** Re-renders the caller whenever the live values change. */
function useLive(live: LiveValues): void {
  const [, setTick] = useState(0);
  useEffect(
    () =>
      live.onChange(() => {
        setTick((t) => t + 1);
      }),
    [live],
  );
}

export function AvailabilityGrid(props: {
  client: StockflowClient;
  skus: readonly string[];
  channels: readonly string[];
  selected: string | null;
  onSelect: (sku: string) => void;
}) {
  const { client, skus, channels, selected, onSelect } = props;
  const live = useMemo(() => new LiveValues(client), [client]);
  useEffect(
    () => () => {
      live.close();
    },
    [live],
  );
  useLive(live);
  const [search, setSearch] = useState('');
  const [scrollTop, setScrollTop] = useState(0);
  const viewport = useRef<HTMLDivElement>(null);
  const rows = useMemo(() => matching(skus, search), [skus, search]);
  const { first, end } = rowWindow(scrollTop, VIEWPORT_HEIGHT, ROW_HEIGHT, rows.length, OVERSCAN);
  const shown = rows.slice(first, end);
  const topics = useMemo(
    () => shown.flatMap((sku) => channels.map((c) => topicOf(c, sku))),
    // The window's bounds name the rows shown.
    [rows, first, end, channels],
  );
  useEffect(() => {
    live.watch(topics);
  }, [live, topics]);

  return (
    <section class="panel grid-panel" aria-labelledby="grid-title">
      <header class="panel-head">
        <h2 id="grid-title">Availability</h2>
        <label class="search">
          <span class="visually-hidden">Search SKUs</span>
          <input
            type="search"
            placeholder="Search SKUs"
            value={search}
            onInput={(e) => {
              setSearch(e.currentTarget.value);
              setScrollTop(0);
              if (viewport.current !== null) viewport.current.scrollTop = 0;
            }}
          />
        </label>
        <span class="count" aria-live="polite">
          {rows.length.toLocaleString()} of {skus.length.toLocaleString()} SKUs
        </span>
      </header>
      {live.error !== null && <p class="error">{live.error}</p>}
      <div class="grid-head" role="presentation">
        <table>
          <colgroup>
            <col class="sku-col" />
            {channels.map((c) => (
              <col key={c} />
            ))}
          </colgroup>
          <thead>
            <ChannelHeads first="SKU" channels={channels} />
          </thead>
        </table>
      </div>
      <div
        class="grid-viewport"
        ref={viewport}
        tabIndex={0}
        aria-label="Availability by SKU and channel (scroll for more)"
        onScroll={(e) => {
          setScrollTop(e.currentTarget.scrollTop);
        }}
      >
        <div class="grid-spacer" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          <table class="grid" style={{ transform: `translateY(${first * ROW_HEIGHT}px)` }}>
            <colgroup>
              <col class="sku-col" />
              {channels.map((c) => (
                <col key={c} />
              ))}
            </colgroup>
            <tbody>
              {shown.map((sku) => (
                <tr key={sku} class={sku === selected ? 'selected' : undefined} data-sku={sku}>
                  <th scope="row">
                    <button
                      type="button"
                      class="link"
                      aria-pressed={sku === selected}
                      onClick={() => {
                        onSelect(sku);
                      }}
                    >
                      {sku}
                    </button>
                  </th>
                  {channels.map((c) => {
                    const topic = topicOf(c, sku);
                    const v = live.get(topic);
                    return <Cell key={`${c}:${v?.changes ?? -1}`} topic={topic} value={v} />;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {rows.length === 0 && <p class="empty">No SKU matches.</p>}
      </div>
    </section>
  );
}

/** The chosen SKU's availability per location, for each channel. */
export function LocationAvailability(props: {
  client: StockflowClient;
  sku: string | null;
  channels: readonly string[];
  locations: readonly { readonly id: string; readonly type: string }[];
}) {
  const { client, sku, channels, locations } = props;
  const live = useMemo(() => new LiveValues(client), [client]);
  useEffect(
    () => () => {
      live.close();
    },
    [live],
  );
  useLive(live);
  const topics = useMemo(
    () =>
      sku === null ? [] : locations.flatMap((l) => channels.map((c) => topicOf(c, sku, l.id))),
    [sku, channels, locations],
  );
  useEffect(() => {
    live.watch(topics);
  }, [live, topics]);
  return (
    <section class="panel" aria-labelledby="per-location-title">
      <header class="panel-head">
        <h2 id="per-location-title">Per location{sku === null ? '' : `: ${sku}`}</h2>
      </header>
      {sku === null ? (
        <p class="empty">Choose a SKU in the grid to see it per location.</p>
      ) : (
        <div class="scroll-box">
          {live.error !== null && <p class="error">{live.error}</p>}
          <table class="grid">
            <thead>
              <ChannelHeads first="Location" channels={channels} />
            </thead>
            <tbody>
              {locations.map((l) => (
                <tr key={l.id}>
                  <th scope="row">
                    {l.id} <span class="muted">{l.type}</span>
                  </th>
                  {channels.map((c) => {
                    const topic = topicOf(c, sku, l.id);
                    const v = live.get(topic);
                    return <Cell key={`${c}:${v?.changes ?? -1}`} topic={topic} value={v} />;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** A header row: the row label's column, then one numeric column per channel. */
function ChannelHeads({ first, channels }: { first: string; channels: readonly string[] }) {
  return (
    <tr>
      <th scope="col">{first}</th>
      {channels.map((c) => (
        <th key={c} scope="col" class="num">
          {c}
        </th>
      ))}
    </tr>
  );
}
