import { FeedLedger, type FeedResult } from './feed-ledger.ts';
import type { MasterFeedResult } from './master-ledger.ts';

/** Completed stock feed results kept for reading again and answering repeats. */
const FEED_RESULTS_KEPT = 10_000;
/** Completed master-data feed results kept for reading again and answering repeats. */
const MASTER_RESULTS_KEPT = 1_000;

/**
 * The gateway's feed ledgers: stock feeds and master-data feeds. After a restart a feed sent
 * again applies again, which changes nothing already in: stock rows older than the position's
 * as-of are stale, delta rows repeat their ids, master-data upserts of the same values are
 * dropped as unchanged.
 */
export interface FeedLedgers {
  readonly stock: FeedLedger<FeedResult>;
  readonly master: FeedLedger<MasterFeedResult>;
}

export function feedLedgers(): FeedLedgers {
  return {
    stock: new FeedLedger<FeedResult>(FEED_RESULTS_KEPT),
    master: new FeedLedger<MasterFeedResult>(MASTER_RESULTS_KEPT),
  };
}
