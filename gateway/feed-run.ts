import type { Command, CommandResult, Engine, ResultSink } from '../engine/index.ts';
import type { RowProblem } from './feed-lines.ts';
import type { FeedParser, FeedRow } from './feed-parser.ts';
import { reject, type FeedResult, type RejectedRow } from './feed-ledger.ts';

/**
 * Rows applied per batch: the body is paused while a batch is in the engine, and the event loop
 * serves everyone else between batches (a batch is a few milliseconds of work).
 */
export const FEED_BATCH_ROWS = 1_000;

/** Counts a feed adds to the metrics, by row outcome. */
export interface FeedRowCounts {
  applied: number;
  unchanged: number;
  stale: number;
  repeated: number;
  rejected: number;
}

/** Who sends a feed: an API key (Principal) over HTTP, or the Redis Stream consumer. */
export interface FeedSender {
  readonly name: string;
  mayFeedLocation(location: string): boolean;
}

/**
 * Applies one feed's rows as they are parsed, a batch at a time, while the engine keeps serving
 * everyone else: the caller pauses the body while `busy`, so a feed of a million rows holds one
 * batch in memory, never the feed.
 *
 * - A snapshot row whose value the position already has, with no shipment or delta recorded since
 *   its last feed, is dropped before the engine (and so before the journal) and counted
 *   `unchanged`; the others go in as `setOnHand` with the row's as-of, which the engine skips as
 *   stale when the position has a newer one, and corrects for changes recorded after it.
 * - A delta row goes in as `adjust` under its own id, or `<feedId>#<line>`, so a feed sent again
 *   repeats nothing (`repeated`); a zero delta is `unchanged`.
 * - A full snapshot zeroes, at its end, every position of its location it did not list, unless
 *   some of its rows were rejected (a SKU on a bad row would be zeroed by mistake).
 */
export class FeedRun implements ResultSink<FeedRow> {
  busy = false;
  /** Rows of the batch in the engine, plus one while the batch is being submitted. */
  private outstanding = 0;
  private batchDone: () => void = () => undefined;
  private readonly seen: Set<string> | null;

  constructor(
    private readonly engine: Engine,
    private readonly principal: FeedSender,
    readonly parser: FeedParser,
    readonly result: FeedResult,
    private readonly counts: FeedRowCounts,
    private readonly fullAsOf: number | null,
    /** Told every rejected row, also past the ones a result lists (the stream acks by row). */
    private readonly onReject: ((row: RejectedRow) => void) | null = null,
  ) {
    this.seen = result.full ? new Set<string>() : null;
  }

  /** Whether enough rows are waiting for a batch (or the body ended and some are left). */
  ready(ended: boolean): boolean {
    return this.parser.pendingRows >= FEED_BATCH_ROWS || (ended && this.parser.pendingRows > 0);
  }

  /** Applies the rows parsed so far; problems found by the parser are recorded first. */
  async applyBatch(): Promise<void> {
    this.busy = true;
    try {
      const { rows, problems } = this.parser.take(FEED_BATCH_ROWS);
      for (const problem of problems) this.rejectProblem(problem);
      const done = new Promise<void>((resolve) => {
        this.batchDone = resolve;
      });
      this.outstanding = 1;
      for (const row of rows) {
        this.result.rows++;
        if (!this.principal.mayFeedLocation(row.location)) {
          this.rejectRow(
            row,
            'FORBIDDEN',
            `key ${this.principal.name} may not feed location ${row.location}`,
          );
          continue;
        }
        if (this.seen !== null) {
          if (row.location !== this.result.location) {
            this.rejectRow(
              row,
              'BAD_REQUEST',
              `a full snapshot of ${String(this.result.location)} lists only its own stock`,
            );
            continue;
          }
          this.seen.add(row.sku);
        }
        const command = this.command(row);
        if (command === null) {
          this.result.unchanged++;
          this.counts.unchanged++;
          continue;
        }
        this.outstanding++;
        this.engine.submit(command, this, row);
      }
      this.settleOne();
      await done;
    } finally {
      this.busy = false;
    }
  }

  /** After the last batch: records late problems, then zeroes what a full snapshot left out. */
  async finish(): Promise<void> {
    const { rows, problems } = this.parser.take();
    if (rows.length > 0) throw new Error('finish() with rows not applied');
    for (const problem of problems) this.rejectProblem(problem);
    this.result.lines = this.parser.lineCount;
    this.result.rejectedRows.sort((a, b) => a.line - b.line);
    if (this.seen === null || this.result.location === null || this.fullAsOf === null) return;
    if (this.result.rejected > 0) {
      this.result.zeroSkipped = `${this.result.rejected} row(s) rejected: positions not listed were left as they are`;
      return;
    }
    const location = this.result.location;
    const asOf = this.fullAsOf;
    const missing = (await this.engine.skusAt(location)).filter((sku) => !this.seen?.has(sku));
    for (let i = 0; i < missing.length; i += FEED_BATCH_ROWS) {
      const results = await Promise.all(
        missing
          .slice(i, i + FEED_BATCH_ROWS)
          .map((sku) => this.engine.execute({ op: 'setOnHand', sku, location, onHand: 0, asOf })),
      );
      for (const r of results) if (r.ok && r.applied) this.result.zeroed++;
    }
  }

  /** The engine's answer to one row (ResultSink: no promise or closure per row). */
  deliver(r: CommandResult, row: FeedRow): void {
    this.count(row, r);
    this.settleOne();
  }

  private settleOne(): void {
    if (--this.outstanding === 0) this.batchDone();
  }

  private command(row: FeedRow): Command | null {
    if (this.result.kind === 'snapshot') {
      if (this.engine.feedRowUnchanged(row.sku, row.location, row.qty)) return null;
      return {
        op: 'setOnHand',
        sku: row.sku,
        location: row.location,
        onHand: row.qty,
        asOf: row.asOf ?? 0,
      };
    }
    if (row.qty === 0) return null;
    return {
      op: 'adjust',
      adjustmentId: row.id ?? `${this.result.feedId}#${row.line}`,
      sku: row.sku,
      location: row.location,
      delta: row.qty,
      asOf: row.asOf ?? undefined,
    };
  }

  private count(row: FeedRow, r: CommandResult): void {
    if (!r.ok) {
      this.rejectRow(row, r.code, r.message);
    } else if (r.applied) {
      this.result.applied++;
      this.counts.applied++;
    } else if (r.duplicate) {
      this.result.repeated++;
      this.counts.repeated++;
    } else {
      this.result.stale++;
      this.counts.stale++;
    }
  }

  private rejectRow(row: FeedRow, code: string, reason: string): void {
    this.rejected({ line: row.line, sku: row.sku, code, reason });
  }

  private rejectProblem(problem: RowProblem): void {
    this.rejected({
      line: problem.line,
      sku: problem.sku,
      code: 'BAD_REQUEST',
      reason: problem.reason,
    });
  }

  private rejected(row: RejectedRow): void {
    this.counts.rejected++;
    reject(this.result, row);
    this.onReject?.(row);
  }
}
