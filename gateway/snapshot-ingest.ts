import { isValidId, MAX_QTY } from '../engine/index.ts';
import { MAX_FEED_LINE_CHARS, splitLines, type LineFormat } from './feed-lines.ts';

/** The body formats of a full location snapshot, chosen by Content-Type. */
export type SnapshotFormat = LineFormat;

/** The answer (415) to a snapshot or feed whose Content-Type is neither. */
export const FORMAT_REQUIRED =
  'Content-Type must be application/x-ndjson (or application/jsonl) or text/csv';

export function snapshotFormat(contentType: string): SnapshotFormat | null {
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  switch (type) {
    case 'application/x-ndjson':
    case 'application/ndjson':
    case 'application/jsonl':
    case 'application/jsonlines':
      return 'ndjson';
    case 'text/csv':
      return 'csv';
    default:
      return null;
  }
}

export class SnapshotLine {
  constructor(
    readonly sku: string,
    readonly onHand: number,
  ) {}
}

/** The longest line accepted (a line is one SKU and a number): the same as a feed's. */
const MAX_LINE_CHARS = MAX_FEED_LINE_CHARS;

/**
 * An incremental parser of a location's stock snapshot: bytes go in as they arrive (uWS onData
 * chunks, split anywhere, even inside a UTF-8 sequence), complete lines are parsed at once.
 *
 * - NDJSON: one `{"sku": "...", "onHand": n}` object per line.
 * - CSV: a `sku,onHand` header, then `sku,onHand` rows. The count is after the last comma, so a
 *   SKU may contain commas; a SKU in double quotes has `""` for a quote.
 *
 * Blank lines are skipped. The first bad line stops the parse with an error naming its line
 * number: a snapshot replaces the location's whole stock (what is missing goes to zero), so a
 * partly understood one must never be applied. A SKU listed twice is an error for the same reason.
 */
export class SnapshotParser {
  readonly lines: SnapshotLine[] = [];
  /** The first problem, or null. */
  error: string | null = null;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly seen = new Set<string>();
  private carry = '';
  private lineNo = 0;
  private headerSeen = false;

  constructor(readonly format: SnapshotFormat) {}

  get failed(): boolean {
    return this.error !== null;
  }

  push(bytes: Uint8Array): void {
    if (this.error !== null) return;
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      this.error = `line ${this.lineNo + 1}: not valid UTF-8`;
      return;
    }
    this.consume(text, false);
  }

  /** The body is complete. */
  end(): void {
    if (this.error !== null) return;
    let text: string;
    try {
      text = this.decoder.decode();
    } catch {
      this.error = `line ${this.lineNo + 1}: not valid UTF-8`;
      return;
    }
    this.consume(text, true);
    if (!this.failed && this.format === 'csv' && !this.headerSeen) {
      this.error = 'line 1: a CSV snapshot starts with the header sku,onHand';
    }
  }

  private consume(text: string, last: boolean): void {
    const data = splitLines(this.carry + text, last, (raw) => {
      this.line(raw);
      return this.error === null;
    });
    // Unlike a feed, a snapshot refuses an over-long line even before its newline arrives.
    if (data.length > MAX_LINE_CHARS) {
      this.error = `line ${this.lineNo + 1}: longer than ${MAX_LINE_CHARS} characters`;
      return;
    }
    this.carry = data;
  }

  private line(raw: string): void {
    this.lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > MAX_LINE_CHARS) {
      this.error = `line ${this.lineNo}: longer than ${MAX_LINE_CHARS} characters`;
      return;
    }
    if (line.trim().length === 0) return;
    const parsed = this.format === 'ndjson' ? this.ndjson(line) : this.csv(line);
    if (parsed === null) return;
    if (typeof parsed === 'string') {
      this.error = `line ${this.lineNo}: ${parsed}`;
      return;
    }
    if (this.seen.has(parsed.sku)) {
      this.error = `line ${this.lineNo}: sku ${parsed.sku} is listed twice`;
      return;
    }
    this.seen.add(parsed.sku);
    this.lines.push(parsed);
  }

  private ndjson(line: string): SnapshotLine | string {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return 'not a JSON object';
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return 'not a JSON object';
    }
    const { sku, onHand } = value as { sku?: unknown; onHand?: unknown };
    return checked(sku, onHand);
  }

  /** Returns null for the header line. */
  private csv(line: string): SnapshotLine | string | null {
    if (!this.headerSeen) {
      this.headerSeen = true;
      if (line.trim().replace(/\s*,\s*/, ',') !== 'sku,onHand') {
        return 'a CSV snapshot starts with the header sku,onHand';
      }
      return null;
    }
    const comma = line.lastIndexOf(',');
    if (comma === -1) return 'expected sku,onHand';
    let sku = line.slice(0, comma).trim();
    const count = line.slice(comma + 1).trim();
    if (sku.length >= 2 && sku.startsWith('"') && sku.endsWith('"')) {
      sku = sku.slice(1, -1).replace(/""/g, '"');
    }
    if (!/^\d+$/.test(count))
      return `onHand must be a whole number >= 0, got ${count.slice(0, 40)}`;
    return checked(sku, Number(count));
  }
}

function checked(sku: unknown, onHand: unknown): SnapshotLine | string {
  if (!isValidId(sku)) return 'sku must be 1-128 printable characters other than : and @';
  if (
    typeof onHand !== 'number' ||
    !Number.isSafeInteger(onHand) ||
    onHand < 0 ||
    onHand > MAX_QTY
  ) {
    return `onHand must be a whole number within 0..${MAX_QTY}`;
  }
  return new SnapshotLine(sku, onHand);
}
