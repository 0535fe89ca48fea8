import {
  ErrorCode,
  locationProblem,
  productProblem,
  StockflowError,
  type Engine,
  type LocationInput,
  type ProductInput,
} from '../engine/index.ts';
import type { RowProblem } from './feed-lines.ts';
import { reject } from './feed-ledger.ts';
import type { MasterFeedResult } from './master-ledger.ts';
import type {
  LocationFields,
  MapChange,
  MasterKind,
  MasterParser,
  MasterRow,
} from './master-parser.ts';

/** Rows applied per batch; the body is paused meanwhile (as FEED_BATCH_ROWS for stock feeds). */
export const MASTER_BATCH_ROWS = 1_000;

/** Master-data rows by kind and outcome, bumped per row, read at scrape time (metrics). */
export type MasterRowCounts = Record<MasterKind, Record<MasterOutcome, number>>;
export type MasterOutcome = 'applied' | 'unchanged' | 'rejected';

/**
 * Applies a master-data feed's rows as they are parsed, a batch at a time: each row is merged
 * with what the engine holds (a field the row leaves out keeps its value), checked as the engine
 * checks every upsert, and upserted; one that would change nothing is dropped before the journal
 * (`unchanged`). A batch is answered once the journal holds it.
 */
export class MasterRun {
  busy = false;

  constructor(
    private readonly engine: Engine,
    readonly parser: MasterParser,
    readonly result: MasterFeedResult,
    private readonly counts: MasterRowCounts,
  ) {}

  ready(ended: boolean): boolean {
    return this.parser.pendingRows >= MASTER_BATCH_ROWS || (ended && this.parser.pendingRows > 0);
  }

  async applyBatch(): Promise<void> {
    this.busy = true;
    try {
      const { rows, problems } = this.parser.take(MASTER_BATCH_ROWS);
      for (const problem of problems) this.rejectProblem(problem);
      const channels = new Set(this.engine.rules().rules.channels.map((c) => c.id));
      for (const row of rows) {
        this.result.rows++;
        this.apply(row, channels);
      }
      await this.engine.durable();
    } finally {
      this.busy = false;
    }
  }

  /** After the last batch: records late problems and the line count. */
  finish(): void {
    const { rows, problems } = this.parser.take();
    if (rows.length > 0) throw new Error('finish() with rows not applied');
    for (const problem of problems) this.rejectProblem(problem);
    this.result.lines = this.parser.lineCount;
    this.result.rejectedRows.sort((a, b) => a.line - b.line);
  }

  private apply(row: MasterRow, channels: ReadonlySet<string>): void {
    let changed: number | string;
    try {
      changed = this.upsert(row, channels);
    } catch (error) {
      // The journal is down or the engine stopped: this row is not in.
      if (!(error instanceof StockflowError)) throw error;
      this.rejectRow(row, error.code, error.message);
      return;
    }
    if (typeof changed === 'string') {
      this.rejectRow(row, ErrorCode.BAD_REQUEST, changed);
      return;
    }
    const kind = this.result.kind;
    if (changed > 0) {
      this.result.applied++;
      this.counts[kind].applied++;
    } else {
      this.result.unchanged++;
      this.counts[kind].unchanged++;
    }
  }

  /** Upserts one row: how many entries changed (0 or 1), or why the row is refused. */
  private upsert(row: MasterRow, channels: ReadonlySet<string>): number | string {
    if (row.product !== null) {
      const input = this.productInput(row.product);
      return productProblem(input) ?? this.engine.upsertProducts([input]);
    }
    if (row.location === null) return 0;
    const input = this.locationInput(row.location);
    if (typeof input === 'string') return input;
    return (
      locationProblem(input) ??
      unknownChannel(input, channels) ??
      this.engine.upsertLocations([input])
    );
  }

  private productInput(row: NonNullable<MasterRow['product']>): ProductInput {
    const current = this.engine.product(row.sku);
    const group = row.group === undefined ? current?.group : (row.group ?? undefined);
    const attributes = merged(row.attributes, current?.attributes);
    const prices = merged(row.prices, current?.prices);
    return {
      sku: row.sku,
      ...(group === undefined ? {} : { group }),
      ...(attributes === undefined ? {} : { attributes }),
      ...(prices === undefined ? {} : { prices }),
    };
  }

  /** The engine's input for a location row, or why there is none. */
  private locationInput(row: LocationFields): LocationInput | string {
    const current = this.engine.location(row.id);
    const type = row.type ?? current?.type;
    if (type === undefined) return 'type is required for a new location';
    const keep = <T>(given: T | null | undefined, now: T | undefined): T | undefined =>
      given === undefined ? now : (given ?? undefined);
    const name = keep(row.name, current?.name);
    const lat = keep(row.lat, current?.lat);
    const lon = keep(row.lon, current?.lon);
    return {
      id: row.id,
      type,
      ...(name === undefined ? {} : { name }),
      ...(lat === undefined ? {} : { lat }),
      ...(lon === undefined ? {} : { lon }),
      ...(row.capacity === undefined ? {} : { capacity: row.capacity }),
      ...(row.channels === undefined ? {} : { channels: row.channels }),
      ...(row.pickup === undefined ? {} : { pickup: row.pickup }),
    };
  }

  private rejectRow(row: MasterRow, code: string, reason: string): void {
    this.counts[this.result.kind].rejected++;
    reject(this.result, { line: row.line, sku: row.key, code, reason });
  }

  private rejectProblem(problem: RowProblem): void {
    this.counts[this.result.kind].rejected++;
    reject(this.result, {
      line: problem.line,
      sku: problem.sku,
      code: ErrorCode.BAD_REQUEST,
      reason: problem.reason,
    });
  }
}

/** A map after a row's change: the whole map given, or the current one with keys changed. */
function merged<T>(
  change: MapChange<T> | undefined,
  current: Readonly<Record<string, T>> | undefined,
): Readonly<Record<string, T>> | undefined {
  if (change === undefined) return undefined;
  if ('whole' in change) return change.whole;
  const out = new Map<string, T>(Object.entries(current ?? {}));
  for (const [key, value] of Object.entries(change.keys)) {
    if (value === null) out.delete(key);
    else out.set(key, value);
  }
  return Object.fromEntries(out);
}

function unknownChannel(input: LocationInput, channels: ReadonlySet<string>): string | null {
  for (const channel of input.channels ?? []) {
    if (!channels.has(channel)) {
      return `channel ${channel} is not in the rules (${[...channels].join(', ')})`;
    }
  }
  return null;
}
