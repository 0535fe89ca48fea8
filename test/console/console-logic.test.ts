import { describe, expect, it } from 'vitest';
import type { StatsSample } from '../../console/console-api.ts';
import { appendPoint, MAX_POINTS, polyline, rateBetween } from '../../console/rate-series.ts';
import { matching, rowWindow } from '../../console/virtual-window.ts';

describe('the grid window', () => {
  it('renders the rows in view and a few beyond, whatever the length of the list', () => {
    expect(rowWindow(0, 420, 30, 10_000, 6)).toEqual({ first: 0, end: 27 });
    expect(rowWindow(3_000, 420, 30, 10_000, 6)).toEqual({ first: 94, end: 121 });
    expect(rowWindow(299_580, 420, 30, 10_000, 6)).toEqual({ first: 9_980, end: 10_000 });
    expect(rowWindow(0, 420, 30, 0, 6)).toEqual({ first: 0, end: 0 });
    expect(rowWindow(900, 420, 30, 5, 6)).toEqual({ first: 4, end: 5 });
  });

  it('searches case-insensitively, keeping the order', () => {
    expect(matching(['SKU-1', 'sku-12', 'X'], ' Sku-1')).toEqual(['SKU-1', 'sku-12']);
    const all = ['a', 'b'];
    expect(matching(all, '')).toBe(all);
  });
});

function sample(
  at: number,
  ok: number,
  refused: number,
  placed: number,
  commits: number,
  records: number,
): StatsSample {
  return {
    at,
    reserves: { ok, INSUFFICIENT_STOCK: refused },
    orders: { placed, failed: 0 },
    journal: { commits, records },
  };
}

describe('the rate charts', () => {
  it('turn running totals into rates per second and group-commit sizes', () => {
    const p = rateBetween(sample(1_000, 10, 2, 1, 5, 20), sample(3_000, 30, 6, 5, 9, 60));
    expect(p).toEqual({ at: 3_000, reservesOk: 10, reservesRefused: 2, orders: 2, commitSize: 10 });
    expect(
      rateBetween(sample(1_000, 0, 0, 0, 0, 0), sample(2_000, 0, 0, 0, 0, 0))?.commitSize,
    ).toBe(0);
  });

  it('skip a restart (totals going back) and a repeated instant', () => {
    expect(rateBetween(sample(1_000, 10, 0, 0, 0, 0), sample(2_000, 3, 0, 0, 0, 0))).toBeNull();
    expect(rateBetween(sample(1_000, 1, 0, 0, 0, 0), sample(1_000, 2, 0, 0, 0, 0))).toBeNull();
  });

  it('keep the last five minutes and draw them right-aligned', () => {
    let points = appendPoint([], {
      at: 0,
      reservesOk: 1,
      reservesRefused: 0,
      orders: 0,
      commitSize: 0,
    });
    for (let i = 1; i < MAX_POINTS + 10; i++) {
      points = appendPoint(points, {
        at: i,
        reservesOk: i,
        reservesRefused: 0,
        orders: 0,
        commitSize: 0,
      });
    }
    expect(points).toHaveLength(MAX_POINTS);
    expect(points[0]?.at).toBe(10);
    expect(polyline([0, 10], 299, 50, 10)).toBe('298.0,50.0 299.0,0.0');
    expect(polyline([], 299, 50, 10)).toBe('');
  });
});
