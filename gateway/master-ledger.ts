import { REJECTED_ROWS_LISTED, type RejectedRow } from './feed-ledger.ts';
import type { MasterKind } from './master-parser.ts';

/** What a master-data feed did, row by row, counted; kept by feed id. */
export interface MasterFeedResult {
  readonly feedId: string;
  readonly kind: MasterKind;
  /** The name of the key that sent it. */
  readonly submittedBy: string;
  status: 'applying' | 'completed';
  /** SHA-256 of the body (hex), known once it was read whole: a repeat must match it. */
  digest: string;
  /** Lines in the body, blank ones and the CSV header included. */
  lines: number;
  /** Rows that were well formed (applied, unchanged or refused when applied). */
  rows: number;
  applied: number;
  /** Rows that would change nothing: dropped before the journal. */
  unchanged: number;
  rejected: number;
  readonly rejectedRows: RejectedRow[];
  readonly receivedAt: string;
  finishedAt: string | null;
  durationMs: number;
}

/** Why a feed id cannot start now. */
type MasterRefusal = 'in_progress' | 'other_feed';

/**
 * Master-data feed results by feed id, in memory, as FeedLedger keeps stock feeds': the newest
 * `keep` completed ones and those being applied. A feed refused as a whole or cut off is
 * forgotten, so it may be sent again. After a restart a feed sent again applies again, which
 * changes nothing: upserts of the same values are dropped as unchanged.
 */
export class MasterLedger {
  private readonly results = new Map<string, MasterFeedResult>();

  constructor(private readonly keep: number) {}

  get(feedId: string): MasterFeedResult | null {
    return this.results.get(feedId) ?? null;
  }

  begin(
    feedId: string,
    kind: MasterKind,
    submittedBy: string,
    now: Date,
  ): { started: MasterFeedResult } | { done: MasterFeedResult } | { refused: MasterRefusal } {
    const known = this.results.get(feedId);
    if (known !== undefined) {
      if (known.kind !== kind) return { refused: 'other_feed' };
      return known.status === 'applying' ? { refused: 'in_progress' } : { done: known };
    }
    const result: MasterFeedResult = {
      feedId,
      kind,
      submittedBy,
      status: 'applying',
      digest: '',
      lines: 0,
      rows: 0,
      applied: 0,
      unchanged: 0,
      rejected: 0,
      rejectedRows: [],
      receivedAt: now.toISOString(),
      finishedAt: null,
      durationMs: 0,
    };
    this.results.set(feedId, result);
    return { started: result };
  }

  complete(result: MasterFeedResult, digest: string, now: Date): void {
    result.status = 'completed';
    result.digest = digest;
    result.finishedAt = now.toISOString();
    result.durationMs = now.getTime() - Date.parse(result.receivedAt);
    while (this.results.size > this.keep) {
      const oldest = this.results.keys().next().value;
      if (oldest === undefined) break;
      this.results.delete(oldest);
    }
  }

  forget(result: MasterFeedResult): void {
    if (this.results.get(result.feedId) === result) this.results.delete(result.feedId);
  }
}

/** Adds a rejected row: counted always, listed up to REJECTED_ROWS_LISTED. */
export function rejectMaster(result: MasterFeedResult, row: RejectedRow): void {
  result.rejected++;
  if (result.rejectedRows.length < REJECTED_ROWS_LISTED) result.rejectedRows.push(row);
}
