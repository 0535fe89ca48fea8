import { isValidId, MAX_QTY } from '../engine/index.ts';
import { LineFeed } from './feed-lines.ts';
import type { SnapshotFormat } from './snapshot-ingest.ts';

/** What a feed's rows carry: absolute stock (`onHand`) or changes (`delta`). */
export type FeedKind = 'snapshot' | 'delta';

/** One good row, with its line number in the body (1-based, counting the CSV header). */
export class FeedRow {
  constructor(
    readonly line: number,
    readonly sku: string,
    readonly location: string,
    /** onHand for a snapshot row, delta for a delta row. */
    readonly qty: number,
    /** The source's as-of time or sequence for this row (optional for a delta row). */
    readonly asOf: number | null,
    /** A delta row's own id (its idempotency key), or null to take one from the feed. */
    readonly id: string | null,
  ) {}
}

/** Defaults a row may leave out: the feed's location and as-of (query parameters). */
export interface FeedDefaults {
  readonly location: string | null;
  readonly asOf: number | null;
}

const CSV_COLUMNS = ['sku', 'location', 'onHand', 'delta', 'asOf', 'id'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

/**
 * The stock rows of a feed (NDJSON or CSV) over the shared line layer (feed-lines.ts): bytes go in
 * as they arrive (split anywhere, even inside a UTF-8 sequence), complete lines come out as rows
 * or problems, and the caller takes them (`take`) in batches.
 *
 * - NDJSON: one object per line: `sku`, `onHand` (snapshot) or `delta` (delta), and optionally
 *   `location`, `asOf` and (deltas) `id`; a field the row leaves out comes from the defaults.
 * - CSV: a header naming the columns (`sku` and `onHand` or `delta` required; `location`, `asOf`,
 *   `id` optional, in any order), then rows; fields may be quoted with `""` for a quote.
 *
 * A bad row is a problem with its line number; the rows around it still count. The feed as a
 * whole is refused (`fatal`) only when it is not a feed of this format at all: a CSV header
 * without the columns, or a first line that is not a JSON object, before any row was taken.
 */
export class FeedParser extends LineFeed<FeedRow> {
  private columns: Map<CsvColumn, number> | null = null;

  constructor(
    format: SnapshotFormat,
    readonly kind: FeedKind,
    private readonly defaults: FeedDefaults,
  ) {
    super(format);
  }

  private qtyField(): 'onHand' | 'delta' {
    return this.kind === 'snapshot' ? 'onHand' : 'delta';
  }

  protected headerExpected(): string {
    return `a CSV feed starts with a header: sku,${this.qtyField()} (location, asOf, id optional)`;
  }

  protected objectRow(v: Readonly<Record<string, unknown>>): void {
    this.row(v.sku, v.location, v[this.qtyField()], v.asOf, v.id);
  }

  protected csvRow(fields: readonly string[]): void {
    const columns = this.columns;
    if (columns === null) return;
    const at = (c: CsvColumn): string | undefined => {
      const i = columns.get(c);
      return i === undefined ? undefined : fields[i];
    };
    if (fields.length !== columns.size) {
      this.rowProblem(`expected ${columns.size} fields, got ${fields.length}`, at('sku') ?? null);
      return;
    }
    this.textRow(at);
  }

  /**
   * One row given as named text fields (a Redis Stream entry: docs/api.md, "From a Redis
   * Stream"), counted as the next line and checked as a CSV row's fields are.
   */
  pushFields(fields: ReadonlyMap<string, string>): void {
    this.lineCount++;
    this.textRow((c) => fields.get(c));
  }

  /** A row whose fields are text (CSV, stream entries): numbers are read from digits. */
  private textRow(at: (c: CsvColumn) => string | undefined): void {
    const number = (text: string | undefined): unknown =>
      text === undefined || text.trim() === '' ? undefined : numeric(text.trim());
    this.row(
      at('sku'),
      emptyToUndefined(at('location')),
      number(at(this.qtyField())),
      number(at('asOf')),
      emptyToUndefined(at('id')),
    );
  }

  protected header(names: readonly string[]): string | null {
    const columns = new Map<CsvColumn, number>();
    for (const [i, name] of names.entries()) {
      const column = CSV_COLUMNS.find((c) => c.toLowerCase() === name.toLowerCase());
      if (column === undefined || columns.has(column)) {
        return `header column ${name.slice(0, 40) || '(empty)'} is unknown or repeated: not a CSV feed (columns: sku, ${this.qtyField()}, location, asOf, id)`;
      }
      columns.set(column, i);
    }
    const other = this.kind === 'snapshot' ? 'delta' : 'onHand';
    if (!columns.has('sku') || !columns.has(this.qtyField()) || columns.has(other)) {
      return `a CSV ${this.kind} feed's header has sku and ${this.qtyField()} (not ${other}): not a CSV feed`;
    }
    this.columns = columns;
    return null;
  }

  private row(sku: unknown, location: unknown, qty: unknown, asOf: unknown, id: unknown): void {
    const skuText = typeof sku === 'string' ? sku : null;
    if (!isValidId(sku)) {
      this.rowProblem('sku must be 1-128 printable characters other than : and @', null);
      return;
    }
    const where = location ?? this.defaults.location;
    if (where === null) {
      this.rowProblem('location is missing (in the row or the feed)', skuText);
      return;
    }
    if (!isValidId(where)) {
      this.rowProblem('location must be 1-128 printable characters other than : and @', skuText);
      return;
    }
    const field = this.qtyField();
    if (typeof qty !== 'number' || !Number.isSafeInteger(qty)) {
      this.rowProblem(`${field} must be a whole number`, skuText);
      return;
    }
    if (this.kind === 'snapshot' ? qty < 0 || qty > MAX_QTY : Math.abs(qty) > MAX_QTY) {
      this.rowProblem(
        this.kind === 'snapshot'
          ? `onHand must be within 0..${MAX_QTY}`
          : `delta must be within -${MAX_QTY}..${MAX_QTY}`,
        skuText,
      );
      return;
    }
    const when = asOf ?? this.defaults.asOf;
    if (when === null && this.kind === 'snapshot') {
      this.rowProblem('asOf is missing (in the row or the feed)', skuText);
      return;
    }
    if (when !== null && (typeof when !== 'number' || !Number.isFinite(when))) {
      this.rowProblem('asOf must be a number', skuText);
      return;
    }
    if (id !== undefined && id !== null && !isValidId(id)) {
      this.rowProblem('id must be 1-128 printable characters other than : and @', skuText);
      return;
    }
    this.accept(
      new FeedRow(this.lineCount, sku, where, qty, when, typeof id === 'string' ? id : null),
    );
  }
}

function emptyToUndefined(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return t.length === 0 ? undefined : t;
}

/** A CSV number: digits with an optional sign (and, for asOf, a fraction); else the text. */
function numeric(text: string): unknown {
  return /^[+-]?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}
