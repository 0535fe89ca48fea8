import type { FeedLog, FeedRecord } from '../feed-log.ts';
import type { ShardRouter } from './shard-router.ts';

const FEED = 'feeds.record';

/**
 * One list of stock feeds for the process (the console's "Last stock feeds"): a feed is answered
 * by the worker that took its request, which tells every other worker, and each keeps it.
 */
export function shareFeedLog(router: ShardRouter, feeds: FeedLog): void {
  feeds.share((record) => {
    for (let k = 0; k < router.count; k++) if (k !== router.shard) router.tell(k, FEED, record);
  });
  router.handle(FEED, (_peer, payload) => {
    feeds.keep(payload as FeedRecord);
  });
}
