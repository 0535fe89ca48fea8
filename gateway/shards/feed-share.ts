import type { FeedLedger, LedgerChange, LedgerEntry } from '../feed-ledger.ts';
import type { FeedLedgers } from '../feed-ledgers.ts';
import type { FeedLog, FeedRecord } from '../feed-log.ts';
import type { ShardRouter } from './shard-router.ts';

/**
 * One view of the feeds for the process, whichever worker took them: the console's last stock
 * feeds, and every feed's result by id (GET /v1/inventory/feeds/:id, /v1/master/feeds/:id, and
 * a repeat of a feed id answered as a repeat). The worker that runs a feed tells every other
 * worker what it records; each keeps it, and a feed is answered only once every worker holds its
 * result, so a read right after the answer finds it anywhere. Two workers taking the same new
 * feed id in the same instant may both apply it, which the feeds make harmless (stale rows,
 * repeated delta ids, unchanged upserts).
 */
export function shareFeeds(router: ShardRouter, feeds: FeedLog, ledgers: FeedLedgers): void {
  feeds.share((record) => {
    router.tellPeers('feeds.record', record);
  });
  router.handle('feeds.record', (_peer, payload) => {
    feeds.keep(payload as FeedRecord);
  });
  shareLedger(router, 'feeds.ledger.stock', ledgers.stock);
  shareLedger(router, 'feeds.ledger.master', ledgers.master);
}

function shareLedger<R extends LedgerEntry>(
  router: ShardRouter,
  kind: string,
  ledger: FeedLedger<R>,
): void {
  ledger.share((change) => {
    // A completed result is answered once every worker holds it (a read may follow at once).
    if (change[0] === 'set' && change[1].status === 'completed') {
      return router.askPeers(kind, change).then(() => undefined);
    }
    router.tellPeers(kind, change);
    return undefined;
  });
  router.handle(kind, (_peer, payload, reply) => {
    ledger.apply(payload as LedgerChange<R>);
    reply?.(null);
  });
}
