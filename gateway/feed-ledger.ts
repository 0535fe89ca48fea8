import type { FeedKind } from './feed-parser.ts';

/** The first rejected rows a feed result lists (the count covers all of them). */
export const REJECTED_ROWS_LISTED = 100;

/** A row that was not applied: its line, SKU when known, and why. */
export interface RejectedRow {
  readonly line: number;
  readonly sku: string | null;
  readonly code: string;
  readonly reason: string;
}

/** What a feed did, row by row, counted; kept by feed id and answered again for a repeat. */
export interface FeedResult extends LedgerEntry {
  readonly kind: FeedKind;
  /** The feed's default location (a full snapshot's location), or null. */
  readonly location: string | null;
  /** A full snapshot of `location`: positions it does not list go to zero. */
  readonly full: boolean;
  /** The name of the key that sent it. */
  readonly submittedBy: string;
  /** Lines in the body, blank ones and the CSV header included. */
  lines: number;
  /** Rows that were well formed (applied, unchanged, stale or refused by the engine). */
  rows: number;
  applied: number;
  /** Rows whose value the position already had (snapshot) or zero deltas: nothing written. */
  unchanged: number;
  /** Rows older than what the position already has (their as-of), skipped. */
  stale: number;
  /** Delta rows whose id was already applied (sent before, in this feed or another). */
  repeated: number;
  /** Positions a full snapshot did not list, set to zero. */
  zeroed: number;
  /** Why a full snapshot zeroed nothing, or null. */
  zeroSkipped: string | null;
}

/** Why a feed id cannot start now. */
export type FeedRefusal = 'in_progress' | 'other_feed';

/** What every ledger keeps of a feed: its id, where it is, when, and the rows it rejected. */
export interface LedgerEntry {
  readonly feedId: string;
  status: 'applying' | 'completed';
  rejected: number;
  readonly rejectedRows: RejectedRow[];
  readonly receivedAt: string;
  finishedAt: string | null;
  durationMs: number;
}

/** A change to one feed's result, as the other workers keep it (with worker threads). */
export type LedgerChange<R> = readonly ['set', R] | readonly ['forget', string];

/**
 * Feed results by feed id, in memory, for every kind of feed (stock feeds, master data): the
 * completed ones (the newest `keep`) and those being applied. A feed refused as a whole, or cut
 * off before its end, is forgotten, so it can be sent again under the same id. What makes a
 * repeat "the same feed" is the caller's to say; the bookkeeping lives here once. After a
 * restart the ledger is empty: a feed sent again applies again (each kind says why that changes
 * nothing already in).
 */
export class FeedLedger<R extends LedgerEntry> {
  private readonly results = new Map<string, R>();
  private shared: ((change: LedgerChange<R>) => Promise<void> | undefined) | null = null;

  constructor(private readonly keep: number) {}

  /**
   * With worker threads (gateway/shards/feed-share.ts): every feed begun, completed or forgotten
   * here is told to the other workers, which `apply` it, so a feed's result answers on every
   * worker and a repeat of its id is recognised whichever worker takes it. A completed result's
   * change answers once every worker holds it (`complete` waits for it).
   */
  share(tell: (change: LedgerChange<R>) => Promise<void> | undefined): void {
    this.shared = tell;
  }

  /** A change another worker made: its result kept as it sent it, or a feed forgotten. */
  apply(change: LedgerChange<R>): void {
    if (change[0] === 'forget') {
      if (this.results.get(change[1])?.status === 'applying') this.results.delete(change[1]);
      return;
    }
    const result = change[1];
    this.results.delete(result.feedId);
    this.results.set(result.feedId, result);
    this.trim();
  }

  get(feedId: string): R | null {
    return this.results.get(feedId) ?? null;
  }

  /**
   * Starts a feed with the result `create` makes; or answers the result of the same feed done
   * before (`sameFeed` of the known one), or why not.
   */
  begin(
    feedId: string,
    sameFeed: (known: R) => boolean,
    create: () => R,
  ): { started: R } | { done: R } | { refused: FeedRefusal } {
    const known = this.results.get(feedId);
    if (known !== undefined) {
      if (!sameFeed(known)) return { refused: 'other_feed' };
      return known.status === 'applying' ? { refused: 'in_progress' } : { done: known };
    }
    const result = create();
    this.results.set(feedId, result);
    void this.shared?.(['set', result]);
    return { started: result };
  }

  /**
   * Records a feed's end. Resolves when the result may be answered: at once, or with worker
   * threads once every worker holds it, so a read right after the answer finds it on any worker.
   */
  complete(result: R, now: Date): Promise<void> {
    result.status = 'completed';
    result.finishedAt = now.toISOString();
    result.durationMs = now.getTime() - Date.parse(result.receivedAt);
    const told = this.shared?.(['set', result]);
    this.trim();
    return told ?? Promise.resolve();
  }

  /** A feed refused as a whole or cut off: forgotten, so it may be sent again. */
  forget(result: R): void {
    if (this.results.get(result.feedId) !== result) return;
    this.results.delete(result.feedId);
    void this.shared?.(['forget', result.feedId]);
  }

  private trim(): void {
    // Maps keep insertion order: the oldest results go first.
    while (this.results.size > this.keep) {
      const oldest = this.results.keys().next().value;
      if (oldest === undefined) break;
      this.results.delete(oldest);
    }
  }

  /** Completed feeds, newest first (at most `limit`). */
  recent(limit: number): R[] {
    const out: R[] = [];
    for (const result of [...this.results.values()].reverse()) {
      if (result.status !== 'completed') continue;
      out.push(result);
      if (out.length >= limit) break;
    }
    return out;
  }
}

/** Adds a rejected row to a result: counted always, listed up to REJECTED_ROWS_LISTED. */
export function reject(result: LedgerEntry, row: RejectedRow): void {
  result.rejected++;
  if (result.rejectedRows.length < REJECTED_ROWS_LISTED) result.rejectedRows.push(row);
}

/** A feed's result before its first row: nothing counted yet, status `applying`. */
export function newFeedResult(
  feedId: string,
  kind: FeedKind,
  location: string | null,
  full: boolean,
  submittedBy: string,
  now: Date,
): FeedResult {
  return {
    feedId,
    kind,
    location,
    full,
    submittedBy,
    status: 'applying',
    lines: 0,
    rows: 0,
    applied: 0,
    unchanged: 0,
    stale: 0,
    repeated: 0,
    rejected: 0,
    zeroed: 0,
    zeroSkipped: null,
    rejectedRows: [],
    receivedAt: now.toISOString(),
    finishedAt: null,
    durationMs: 0,
  };
}
