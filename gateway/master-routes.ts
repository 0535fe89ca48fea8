import { createHash } from 'node:crypto';
import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, Reason } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import type { HttpExchange } from './http-exchange.ts';
import { answerRefusal, checkFeedId, streamFeedBody } from './feed-intake.ts';
import { FeedLedger } from './feed-ledger.ts';
import { newMasterResult, type MasterFeedResult } from './master-ledger.ts';
import { MasterParser, type MasterKind } from './master-parser.ts';
import { MasterRun } from './master-run.ts';
import type { RouteKit } from './route-kit.ts';
import { FORMAT_REQUIRED, snapshotFormat, type SnapshotFormat } from './snapshot-ingest.ts';

const MAX_FEED_ID = 128;

/**
 * Master data from the ERP (docs/erp.md, "Master data"): products and locations as NDJSON or
 * CSV, streamed and upserted a batch at a time like stock feeds (POST /v1/feeds), rows counted
 * (applied, unchanged, rejected by line number), the result kept by feed id. The same feed id
 * with the same body answers the stored result; with another body, CONFLICT.
 */
export class MasterRoutes {
  private readonly ledger: FeedLedger<MasterFeedResult>;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly kit: RouteKit,
  ) {
    this.ledger = ctx.ledgers.master;
  }

  register(app: TemplatedApp): void {
    for (const kind of ['products', 'locations'] as const) {
      app.post(`/v1/master/${kind}`, (res, req) => {
        this.kit.route(res, req, 'masterFeed', (ex, r, p) => {
          this.feed(ex, r, p, kind);
        });
      });
    }
    app.get('/v1/master/feeds/:feedId', (res, req) => {
      this.kit.route(res, req, 'getMasterFeed', this.read);
    });
  }

  private feed(ex: HttpExchange, req: HttpRequest, p: Principal, kind: MasterKind): void {
    const feedId = req.getQuery('feedId') ?? '';
    const formatText = req.getQuery('format') ?? '';
    const contentType = req.getHeader('content-type');
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not send master data (admin only)`);
      return;
    }
    if (!checkFeedId(ex, feedId, MAX_FEED_ID)) return;
    let format: SnapshotFormat | null;
    if (formatText.length > 0) {
      if (formatText !== 'ndjson' && formatText !== 'csv') {
        ex.error(ErrorCode.BAD_REQUEST, 'format must be ndjson or csv');
        return;
      }
      format = formatText;
    } else format = snapshotFormat(contentType);
    if (format === null) {
      ex.error(
        ErrorCode.BAD_REQUEST,
        `${FORMAT_REQUIRED}, or format=ndjson|csv`,
        {},
        { status: 415 },
      );
      return;
    }
    const now = new Date(this.ctx.engine.clock.now());
    // The same feed again when of the same kind (its body is compared once read, in repeat()).
    const begun = this.ledger.begin(
      feedId,
      (known) => known.kind === kind,
      () => newMasterResult(feedId, kind, p.name, now),
    );
    if ('refused' in begun) {
      answerRefusal(ex, feedId, begun.refused, 'a feed of other master data');
      return;
    }
    if ('done' in begun) {
      this.repeat(ex, begun.done);
      return;
    }
    this.run(ex, begun.started, format);
  }

  /** The same feed id again: its result when the body is the same, CONFLICT when not. */
  private repeat(ex: HttpExchange, done: MasterFeedResult): void {
    const hash = createHash('sha256');
    ex.readBody(this.ctx.server.feedBodyLimitBytes, (chunk, isLast) => {
      hash.update(chunk);
      if (!isLast) return true;
      if (hash.digest('hex') === done.digest) {
        ex.json(200, { ...view(done), duplicate: true });
      } else {
        ex.error(
          ErrorCode.CONFLICT,
          `feed ${done.feedId} was applied with another body; send new data under a new feedId`,
          { reason: Reason.ID_REUSED },
        );
      }
      return true;
    });
  }

  private run(ex: HttpExchange, result: MasterFeedResult, format: SnapshotFormat): void {
    const parser = new MasterParser(format, result.kind);
    const run = new MasterRun(this.ctx.engine, parser, result, this.ctx.metrics.masterRows);
    const hash = createHash('sha256');
    ex.onAbort(() => {
      // Cut off: what was applied stays (an upsert again changes nothing); sent again, it applies.
      this.ledger.forget(result);
    });
    streamFeedBody(ex, this.kit, this.ctx.server.feedBodyLimitBytes, parser, run, {
      onChunk: (chunk) => {
        hash.update(chunk);
      },
      refuse: (fatal) => {
        this.ledger.forget(result);
        this.ctx.metrics.masterFeedOutcome('refused');
        ex.error(ErrorCode.BAD_REQUEST, `feed not applied: ${fatal}`);
      },
      finish: () => {
        run.finish();
        result.digest = hash.digest('hex');
        const recorded = this.ledger.complete(result, new Date(this.ctx.engine.clock.now()));
        this.ctx.metrics.masterFeedOutcome('completed');
        this.ctx.log.info(
          {
            feedId: result.feedId,
            kind: result.kind,
            applied: result.applied,
            rejected: result.rejected,
          },
          'master data feed applied',
        );
        this.kit.after(ex, recorded, () => {
          ex.json(200, { ...view(result), duplicate: false });
        });
      },
    });
  }

  private readonly read = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const feedId = ex.pathParam(req, 'feedId');
    if (feedId === null) return;
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read master data feeds (admin only)`);
      return;
    }
    const result = this.ledger.get(feedId);
    if (result === null) {
      ex.error(ErrorCode.NOT_FOUND, `no master data feed ${feedId}`, {
        reason: Reason.UNKNOWN_FEED,
      });
      return;
    }
    ex.json(200, view(result));
  };
}

/** The result as answered: a copy without the body digest. */
function view(result: MasterFeedResult): Omit<MasterFeedResult, 'digest'> {
  return {
    feedId: result.feedId,
    kind: result.kind,
    submittedBy: result.submittedBy,
    status: result.status,
    lines: result.lines,
    rows: result.rows,
    applied: result.applied,
    unchanged: result.unchanged,
    rejected: result.rejected,
    rejectedRows: [...result.rejectedRows],
    receivedAt: result.receivedAt,
    finishedAt: result.finishedAt,
    durationMs: result.durationMs,
  };
}
