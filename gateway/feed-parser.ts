import { isValidId, MAX_QTY } from '../engine/index.ts';
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

/** A row that was not applied, by line number, with why. */
export class RowProblem {
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly sku: string | null = null,
  ) {}
}

/** The longest line read as a row; a longer one is reported and skipped to its newline. */
export const MAX_FEED_LINE_CHARS = 4_096;

/** Defaults a row may leave out: the feed's location and as-of (query parameters). */
export interface FeedDefaults {
  readonly location: string | null;
  readonly asOf: number | null;
}

const CSV_COLUMNS = ['sku', 'location', 'onHand', 'delta', 'asOf', 'id'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

/**
 * An incremental parser of a stock feed (NDJSON or CSV) that never holds the feed: bytes go in
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
export class FeedParser {
  /** Set when the body is not a feed of this format: nothing of it may be applied. */
  fatal: string | null = null;
  /** Lines read, blank ones included. */
  lineCount = 0;
  private rows: FeedRow[] = [];
  private problems: RowProblem[] = [];
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private carry = '';
  /** Skipping the rest of an over-long line. */
  private skipping = false;
  private columns: Map<CsvColumn, number> | null = null;
  private sawRow = false;

  constructor(
    readonly format: SnapshotFormat,
    readonly kind: FeedKind,
    private readonly defaults: FeedDefaults,
  ) {}

  /** The body is not a feed of this format (see `fatal`). */
  get refused(): boolean {
    return this.fatal !== null;
  }

  /** Rows parsed so far and not yet taken. */
  get pendingRows(): number {
    return this.rows.length;
  }

  push(bytes: Uint8Array): void {
    if (this.fatal !== null) return;
    this.consume(this.decoder.decode(bytes, { stream: true }), false);
  }

  /** The body is complete. */
  end(): void {
    if (this.fatal !== null) return;
    this.consume(this.decoder.decode(), true);
    if (!this.refused && this.format === 'csv' && this.columns === null) {
      this.fatal = `a CSV feed starts with a header: sku,${this.qtyField()} (location, asOf, id optional)`;
    }
  }

  /** Hands over (at most `max` of) the rows and the problems parsed since the last call. */
  take(max = Infinity): { rows: FeedRow[]; problems: RowProblem[] } {
    let rows = this.rows;
    if (rows.length > max) {
      this.rows = rows.slice(max);
      rows = rows.slice(0, max);
    } else {
      this.rows = [];
    }
    const out = { rows, problems: this.problems };
    this.problems = [];
    return out;
  }

  private qtyField(): 'onHand' | 'delta' {
    return this.kind === 'snapshot' ? 'onHand' : 'delta';
  }

  private consume(text: string, last: boolean): void {
    let data = this.carry + text;
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl === -1) break;
      this.line(data.slice(start, nl));
      if (this.fatal !== null) return;
      start = nl + 1;
    }
    data = data.slice(start);
    if (last) {
      this.carry = '';
      if (data.length > 0) this.line(data);
      return;
    }
    if (data.length > MAX_FEED_LINE_CHARS) {
      // Report it once, with the line it is on, and drop what arrives until its newline.
      if (!this.skipping) {
        this.problems.push(
          new RowProblem(this.lineCount + 1, `longer than ${MAX_FEED_LINE_CHARS} characters`),
        );
        this.skipping = true;
      }
      data = '';
    }
    this.carry = data;
  }

  private line(raw: string): void {
    this.lineCount++;
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > MAX_FEED_LINE_CHARS) {
      this.problems.push(
        new RowProblem(this.lineCount, `longer than ${MAX_FEED_LINE_CHARS} characters`),
      );
      return;
    }
    if (line.trim().length === 0) return;
    if (line.includes('\uFFFD')) {
      this.rowProblem('not valid UTF-8', null);
      return;
    }
    if (this.format === 'csv') this.csvLine(line);
    else this.ndjsonLine(line);
  }

  /** A bad row; the first line of a body that is not a feed at all refuses the whole feed. */
  private rowProblem(reason: string, sku: string | null, notAFeed = false): void {
    if (notAFeed && !this.sawRow) {
      this.fatal = `line ${this.lineCount}: ${reason}: not a ${this.format === 'csv' ? 'CSV' : 'NDJSON'} feed`;
      return;
    }
    this.sawRow = true;
    this.problems.push(new RowProblem(this.lineCount, reason, sku));
  }

  private ndjsonLine(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.rowProblem('not a JSON object', null, true);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.rowProblem('not a JSON object', null, true);
      return;
    }
    const v = value as Record<string, unknown>;
    this.row(v.sku, v.location, v[this.qtyField()], v.asOf, v.id);
  }

  private csvLine(line: string): void {
    const fields = splitCsv(line);
    if (this.columns === null) {
      this.header(fields);
      return;
    }
    if (fields === null) {
      this.rowProblem('unbalanced quotes', null);
      return;
    }
    const at = (c: CsvColumn): string | undefined => {
      const i = this.columns?.get(c);
      return i === undefined ? undefined : fields[i];
    };
    if (fields.length !== this.columns.size) {
      this.rowProblem(
        `expected ${this.columns.size} fields, got ${fields.length}`,
        at('sku') ?? null,
      );
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

  private header(fields: string[] | null): void {
    const names = (fields ?? []).map((f) => f.trim());
    const columns = new Map<CsvColumn, number>();
    for (const [i, name] of names.entries()) {
      const column = CSV_COLUMNS.find((c) => c.toLowerCase() === name.toLowerCase());
      if (column === undefined || columns.has(column)) {
        this.fatal = `line ${this.lineCount}: header column ${name.slice(0, 40) || '(empty)'} is unknown or repeated: not a CSV feed (columns: sku, ${this.qtyField()}, location, asOf, id)`;
        return;
      }
      columns.set(column, i);
    }
    const other = this.kind === 'snapshot' ? 'delta' : 'onHand';
    if (!columns.has('sku') || !columns.has(this.qtyField()) || columns.has(other)) {
      this.fatal = `line ${this.lineCount}: a CSV ${this.kind} feed's header has sku and ${this.qtyField()} (not ${other}): not a CSV feed`;
      return;
    }
    this.columns = columns;
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
    this.sawRow = true;
    this.rows.push(
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

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside fields); null if unbalanced. */
export function splitCsv(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      const rest = line.indexOf(',', i);
      if (rest === -1) {
        if (line.slice(i).trim() !== '') return null;
        fields.push(value);
        return fields;
      }
      if (line.slice(i, rest).trim() !== '') return null;
      fields.push(value);
      i = rest + 1;
    } else {
      const comma = line.indexOf(',', i);
      if (comma === -1) {
        fields.push(line.slice(i).trim());
        return fields;
      }
      fields.push(line.slice(i, comma).trim());
      i = comma + 1;
    }
  }
}
