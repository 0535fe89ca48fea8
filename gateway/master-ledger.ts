import type { LedgerEntry } from './feed-ledger.ts';
import type { MasterKind } from './master-parser.ts';

/** What a master-data feed did, row by row, counted; kept by feed id in a FeedLedger. */
export interface MasterFeedResult extends LedgerEntry {
  readonly kind: MasterKind;
  /** The name of the key that sent it. */
  readonly submittedBy: string;
  /** SHA-256 of the body (hex), known once it was read whole: a repeat must match it. */
  digest: string;
  /** Lines in the body, blank ones and the CSV header included. */
  lines: number;
  /** Rows that were well formed (applied, unchanged or refused when applied). */
  rows: number;
  applied: number;
  /** Rows that would change nothing: dropped before the journal. */
  unchanged: number;
}

/** A master-data feed's result before its first row: nothing counted yet, status `applying`. */
export function newMasterResult(
  feedId: string,
  kind: MasterKind,
  submittedBy: string,
  now: Date,
): MasterFeedResult {
  return {
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
}
