/** The body formats every line reader takes (snapshots, stock feeds, master data). */
export type LineFormat = 'ndjson' | 'csv';

/** A row that was not applied, by line number, with why. */
export class RowProblem {
  constructor(
    readonly line: number,
    readonly reason: string,
    /** The row's key (SKU or location id) when it could be read. */
    readonly sku: string | null = null,
  ) {}
}

/** The longest line read as a row; a longer one is reported and skipped to its newline. */
export const MAX_FEED_LINE_CHARS = 4_096;

/**
 * Hands `line` each whole line of `data` (a `\r` before the newline kept) until it answers
 * false; when `last`, the tail without a newline is a line too. Returns the tail that waits for
 * the next text: '' when `last` or stopped. One place for the split, so a snapshot and a feed
 * number their lines the same way.
 */
export function splitLines(data: string, last: boolean, line: (raw: string) => boolean): string {
  let start = 0;
  for (;;) {
    const nl = data.indexOf('\n', start);
    if (nl === -1) break;
    if (!line(data.slice(start, nl))) return '';
    start = nl + 1;
  }
  const tail = data.slice(start);
  if (!last) return tail;
  if (tail.length > 0) line(tail);
  return '';
}

/**
 * The line layer every feed shares (stock feeds, master data): an incremental reader of NDJSON
 * or CSV that never holds the body. Bytes go in as they arrive (split anywhere, even inside a
 * UTF-8 sequence), complete lines come out, and the subclass turns each into a row or a problem
 * with its line number; the caller takes them (`take`) in batches.
 *
 * The body as a whole is refused (`fatal`) only when it is not a feed of its format at all: a
 * CSV header the subclass does not accept, or a first line that is not a JSON object, before
 * any row was taken. A bad row later is a problem, and the rows around it still count.
 */
export abstract class LineFeed<Row> {
  /** Set when the body is not a feed of this format: nothing of it may be applied. */
  fatal: string | null = null;
  /** Lines read, blank ones included. */
  lineCount = 0;
  private rows: Row[] = [];
  private problems: RowProblem[] = [];
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private carry = '';
  /** Skipping the rest of an over-long line. */
  private skipping = false;
  private headerRead = false;
  private sawRow = false;

  constructor(readonly format: LineFormat) {}

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
    if (!this.refused && this.format === 'csv' && !this.headerRead) {
      this.fatal = this.headerExpected();
    }
  }

  /** Hands over (at most `max` of) the rows and the problems parsed since the last call. */
  take(max = Infinity): { rows: Row[]; problems: RowProblem[] } {
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

  /** The fatal message for a CSV body without a header line. */
  protected abstract headerExpected(): string;
  /** Reads a CSV header's column names: a fatal message when they are not this feed's. */
  protected abstract header(names: readonly string[]): string | null;
  /** One CSV row's fields (as many as the header named is not checked here). */
  protected abstract csvRow(fields: readonly string[]): void;
  /** One NDJSON row. */
  protected abstract objectRow(value: Readonly<Record<string, unknown>>): void;

  /** A good row. */
  protected accept(row: Row): void {
    this.sawRow = true;
    this.rows.push(row);
  }

  /** A bad row; the first line of a body that is not a feed at all refuses the whole feed. */
  protected rowProblem(reason: string, key: string | null, notAFeed = false): void {
    if (notAFeed && !this.sawRow) {
      this.fatal = `line ${this.lineCount}: ${reason}: not a ${this.format === 'csv' ? 'CSV' : 'NDJSON'} feed`;
      return;
    }
    this.sawRow = true;
    this.problems.push(new RowProblem(this.lineCount, reason, key));
  }

  private consume(text: string, last: boolean): void {
    let data = splitLines(this.carry + text, last, (raw) => {
      this.line(raw);
      return this.fatal === null;
    });
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
    this.objectRow(value as Record<string, unknown>);
  }

  private csvLine(line: string): void {
    const fields = splitCsv(line);
    if (!this.headerRead) {
      const fatal = this.header((fields ?? []).map((f) => f.trim()));
      if (fatal !== null) this.fatal = `line ${this.lineCount}: ${fatal}`;
      else this.headerRead = true;
      return;
    }
    if (fields === null) {
      this.rowProblem('unbalanced quotes', null);
      return;
    }
    this.csvRow(fields);
  }
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
