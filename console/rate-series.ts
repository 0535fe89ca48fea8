import type { StatsSample } from './console-api.ts';

/** One point of the rate charts: per second between two samples of the stats feed. */
export interface RatePoint {
  readonly at: number;
  readonly reservesOk: number;
  readonly reservesRefused: number;
  readonly orders: number;
  /** Journal records per group commit over the interval (0 when nothing was committed). */
  readonly commitSize: number;
}

/** How many points the charts keep: one a second, five minutes. */
export const MAX_POINTS = 300;

function sum(values: Readonly<Record<string, number>>, skip: string | null): number {
  let n = 0;
  for (const [k, v] of Object.entries(values)) if (k !== skip) n += v;
  return n;
}

/**
 * The rate between two samples of running totals, or null when they cannot be compared (the
 * same instant, or the server restarted and its totals went back).
 */
export function rateBetween(before: StatsSample, after: StatsSample): RatePoint | null {
  const seconds = (after.at - before.at) / 1_000;
  if (seconds <= 0) return null;
  const ok = (after.reserves.ok ?? 0) - (before.reserves.ok ?? 0);
  const refused = sum(after.reserves, 'ok') - sum(before.reserves, 'ok');
  const placed = after.orders.placed - before.orders.placed;
  const commits = after.journal.commits - before.journal.commits;
  const records = after.journal.records - before.journal.records;
  if (ok < 0 || refused < 0 || placed < 0 || commits < 0 || records < 0) return null;
  return {
    at: after.at,
    reservesOk: ok / seconds,
    reservesRefused: refused / seconds,
    orders: placed / seconds,
    commitSize: commits === 0 ? 0 : records / commits,
  };
}

/** Appends a point, keeping the last MAX_POINTS. */
export function appendPoint(points: readonly RatePoint[], p: RatePoint): readonly RatePoint[] {
  const next =
    points.length >= MAX_POINTS ? points.slice(points.length - MAX_POINTS + 1) : [...points];
  next.push(p);
  return next;
}

/** An SVG polyline's points for `values` in a `width` x `height` box, scaled to `max`. */
export function polyline(
  values: readonly number[],
  width: number,
  height: number,
  max: number,
): string {
  if (values.length === 0 || max <= 0) return '';
  const step = width / Math.max(1, MAX_POINTS - 1);
  const x0 = width - step * (values.length - 1);
  return values
    .map((v, i) => `${(x0 + i * step).toFixed(1)},${(height - (v / max) * height).toFixed(1)}`)
    .join(' ');
}
