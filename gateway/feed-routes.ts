import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, isValidId, Reason } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { FeedParser, type FeedKind } from './feed-parser.ts';
import { FeedLedger, newFeedResult, type FeedResult } from './feed-ledger.ts';
import { answerRefusal, checkFeedId, streamFeedBody } from './feed-intake.ts';
import { FeedRun } from './feed-run.ts';
import type { HttpExchange } from './http-exchange.ts';
import type { RouteKit } from './route-kit.ts';
import { FORMAT_REQUIRED, snapshotFormat } from './snapshot-ingest.ts';

/** A feed id leaves room for `#<line>` in the ids of its delta rows (128 characters in all). */
const MAX_FEED_ID = 100;

/**
 * Stock feeds at volume (docs/api.md, "Stock feeds"): NDJSON or CSV streamed in, applied a
 * batch at a time with the body paused in between, every row counted (applied, unchanged,
 * stale, duplicate, rejected by line number), the result kept by feed id.
 */
export class FeedRoutes {
  private readonly ledger: FeedLedger<FeedResult>;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly kit: RouteKit,
  ) {
    this.ledger = ctx.ledgers.stock;
  }

  register(app: TemplatedApp): void {
    app.post('/v1/feeds', (res, req) => {
      this.kit.route(res, req, 'feed', this.feed);
    });
    app.get('/v1/feeds', (res, req) => {
      this.kit.route(res, req, 'listFeeds', this.list);
    });
    app.get('/v1/feeds/:feedId', (res, req) => {
      this.kit.route(res, req, 'getFeed', this.read);
    });
  }

  private readonly feed = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const feedId = req.getQuery('feedId') ?? '';
    const kindText = req.getQuery('kind') ?? '';
    const location = req.getQuery('location') ?? '';
    const asOfText = req.getQuery('asOf') ?? '';
    const full = (req.getQuery('full') ?? '') === 'true';
    const format = snapshotFormat(req.getHeader('content-type'));
    if (p.role !== 'admin' && p.role !== 'location') {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not send stock feeds`);
      return;
    }
    if (!checkFeedId(ex, feedId, MAX_FEED_ID)) return;
    if (kindText !== 'snapshot' && kindText !== 'delta') {
      ex.error(ErrorCode.BAD_REQUEST, 'kind must be snapshot or delta');
      return;
    }
    const kind: FeedKind = kindText;
    if (location.length > 0 && !isValidId(location)) {
      ex.error(
        ErrorCode.BAD_REQUEST,
        'location must be 1-128 printable characters other than : and @',
        {
          reason: Reason.INVALID_ID,
        },
      );
      return;
    }
    let asOf: number | null = null;
    if (asOfText.length > 0) {
      asOf = Number(asOfText);
      if (!Number.isFinite(asOf)) {
        ex.error(ErrorCode.BAD_REQUEST, `asOf must be a number, got ${asOfText.slice(0, 40)}`);
        return;
      }
    }
    if (full && (kind !== 'snapshot' || location.length === 0 || asOf === null)) {
      ex.error(
        ErrorCode.BAD_REQUEST,
        'full=true is for a snapshot feed with a location and an asOf',
      );
      return;
    }
    if (location.length > 0 && !p.mayFeedLocation(location)) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not feed location ${location}`);
      return;
    }
    if (full && this.ctx.engine.location(location) === null) {
      ex.error(ErrorCode.NOT_FOUND, `unknown location ${location}`, {
        reason: Reason.UNKNOWN_LOCATION,
      });
      return;
    }
    if (format === null) {
      ex.error(ErrorCode.BAD_REQUEST, FORMAT_REQUIRED, {}, { status: 415 });
      return;
    }
    const at = location.length > 0 ? location : null;
    const now = new Date(this.ctx.engine.clock.now());
    // The same feed again when kind, location and `full` match; under other ones, ID_REUSED.
    const begun = this.ledger.begin(
      feedId,
      (known) => known.kind === kind && known.location === at && known.full === full,
      () => newFeedResult(feedId, kind, at, full, p.name, now),
    );
    if ('refused' in begun) {
      answerRefusal(ex, feedId, begun.refused, 'another feed (kind, location or full differ)');
      return;
    }
    if ('done' in begun) {
      // The same feed again: its result, and nothing applied twice. The body is not read.
      ex.json(200, { ...view(begun.done), duplicate: true });
      return;
    }
    this.run(ex, p, begun.started, format, asOf);
  };

  private run(
    ex: HttpExchange,
    p: Principal,
    result: FeedResult,
    format: 'ndjson' | 'csv',
    asOf: number | null,
  ): void {
    const parser = new FeedParser(format, result.kind, { location: result.location, asOf });
    const feedRun = new FeedRun(
      this.ctx.engine,
      p,
      parser,
      result,
      this.ctx.metrics.feedRows,
      result.full ? asOf : null,
    );
    ex.onAbort(() => {
      // Cut off: what was applied stays applied (rows are as-of ordered and delta ids repeat
      // nothing), the result is forgotten, and the same feed may be sent again.
      this.ledger.forget(result);
    });
    streamFeedBody(ex, this.kit, this.ctx.server.feedBodyLimitBytes, parser, feedRun, {
      refuse: (fatal) => {
        this.ledger.forget(result);
        this.ctx.metrics.feedOutcome('refused');
        ex.error(ErrorCode.BAD_REQUEST, `feed not applied: ${fatal}`);
      },
      finish: async () => {
        await feedRun.finish();
        if (ex.aborted) return;
        const recorded = this.ledger.complete(result, new Date(this.ctx.engine.clock.now()));
        this.ctx.metrics.feedOutcome('completed');
        // Once every worker holds the result (an exchange aborted meanwhile writes nothing).
        await recorded;
        ex.json(200, { ...view(result), duplicate: false });
      },
    });
  }

  private readonly read = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const feedId = ex.pathParam(req, 'feedId');
    if (feedId === null) return;
    const result = this.ledger.get(feedId);
    if (result === null || !mayRead(p, result)) {
      ex.error(ErrorCode.NOT_FOUND, `no feed ${feedId}`, { reason: Reason.UNKNOWN_FEED });
      return;
    }
    ex.json(200, view(result));
  };

  private readonly list = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not list feeds (admin only)`);
      return;
    }
    const limitText = req.getQuery('limit') ?? '';
    const limit = limitText.length === 0 ? 20 : Number(limitText);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1_000) {
      ex.error(ErrorCode.BAD_REQUEST, 'limit must be a whole number within 1..1000');
      return;
    }
    ex.json(200, { feeds: this.ledger.recent(limit).map(view) });
  };
}

/** Admin keys read every feed; other keys the feeds they sent or of their own location. */
function mayRead(p: Principal, result: FeedResult): boolean {
  return (
    p.isAdmin ||
    result.submittedBy === p.name ||
    (result.location !== null && p.mayFeedLocation(result.location))
  );
}

/** The result as answered: a copy, so later changes (there are none once done) cannot leak. */
function view(result: FeedResult): FeedResult {
  return { ...result, rejectedRows: [...result.rejectedRows] };
}
