import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics read from a component's stats at scrape time, so nothing is counted on its hot path:
 * a gauge shows a value now; a counter follows a running total (a scrape adds what grew since the
 * last one). The engine's and the order service's metrics are both made this way.
 */
export interface CollectedMetrics<S> {
  readonly gauge: (name: string, help: string, pick: (s: S) => number) => void;
  readonly counter: (name: string, help: string, pick: (s: S) => number) => void;
}

export function collectedMetrics<S>(registers: Registry[], stats: () => S): CollectedMetrics<S> {
  return {
    gauge: (name, help, pick) => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(stats()));
        },
      });
    },
    counter: (name, help, pick) => {
      let last = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const now = pick(stats());
          if (now > last) this.inc(now - last);
          last = now;
        },
      });
    },
  };
}
