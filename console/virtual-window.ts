/** The rows a virtualised list renders: [first, end) of the whole list. */
export interface RowWindow {
  readonly first: number;
  readonly end: number;
}

/**
 * Which rows to render for a scroll position: those in view plus `overscan` on each side, so a
 * list of 10,000 rows keeps a few dozen elements in the page whatever its length.
 */
export function rowWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  total: number,
  overscan: number,
): RowWindow {
  if (total === 0 || rowHeight <= 0) return { first: 0, end: 0 };
  const top = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const first = Math.min(top, Math.max(0, total - 1));
  const visible = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const end = Math.min(total, first + visible + overscan * 2);
  return { first, end };
}

/** SKUs whose name contains the search text (case-insensitive), in their order. */
export function matching(skus: readonly string[], search: string): readonly string[] {
  const q = search.trim().toLowerCase();
  if (q.length === 0) return skus;
  return skus.filter((s) => s.toLowerCase().includes(q));
}
