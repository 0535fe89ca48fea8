import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleApi, StatsSample } from './console-api.ts';
import { appendPoint, MAX_POINTS, polyline, rateBetween, type RatePoint } from './rate-series.ts';

const WIDTH = 300;
const HEIGHT = 56;

interface Series {
  readonly label: string;
  readonly cls: string;
  readonly values: readonly number[];
}

function format(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString() : n.toFixed(1);
}

/** A small live chart: one or two lines over the last five minutes, the latest values beside. */
function Chart(props: { title: string; series: readonly Series[] }) {
  const max = Math.max(1, ...props.series.flatMap((s) => s.values));
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{props.title}</span>
        {props.series.map((s) => (
          <span key={s.label} class={`legend ${s.cls}`}>
            {s.label} <strong>{format(s.values.at(-1) ?? 0)}</strong>
          </span>
        ))}
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${props.title}, last ${MAX_POINTS / 60} minutes, peak ${format(max)}`}
      >
        {props.series.map((s) => (
          <polyline key={s.label} class={s.cls} points={polyline(s.values, WIDTH, HEIGHT, max)} />
        ))}
      </svg>
    </figure>
  );
}

/**
 * Rates from the admin stats feed (GET /v1/console/stats, running totals) polled once a second:
 * reserves per second by result, orders per second and the journal's group-commit size.
 */
export function RateCharts(props: { api: ConsoleApi }) {
  const [points, setPoints] = useState<readonly RatePoint[]>([]);
  const [error, setError] = useState<string | null>(null);
  const last = useRef<StatsSample | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = (): void => {
      props.api
        .stats()
        .then((sample) => {
          if (stopped) return;
          setError(null);
          const before = last.current;
          last.current = sample;
          const p = before === null ? null : rateBetween(before, sample);
          if (p !== null) setPoints((ps) => appendPoint(ps, p));
        })
        .catch((e: unknown) => {
          if (!stopped) setError(String(e));
        })
        .finally(() => {
          if (!stopped) timer = setTimeout(tick, 1_000);
        });
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [props.api]);
  return (
    <section class="panel" aria-labelledby="rates-title">
      <header class="panel-head">
        <h2 id="rates-title">Rates</h2>
        <span class="muted">per second, last 5 minutes</span>
      </header>
      {error !== null && <p class="error">{error}</p>}
      <div class="charts">
        <Chart
          title="Reserves/s"
          series={[
            { label: 'granted', cls: 'ok', values: points.map((p) => p.reservesOk) },
            { label: 'refused', cls: 'bad', values: points.map((p) => p.reservesRefused) },
          ]}
        />
        <Chart
          title="Orders/s"
          series={[{ label: 'placed', cls: 'ok', values: points.map((p) => p.orders) }]}
        />
        <Chart
          title="Group commit"
          series={[{ label: 'records', cls: 'info', values: points.map((p) => p.commitSize) }]}
        />
      </div>
    </section>
  );
}
