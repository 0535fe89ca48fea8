import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, Reason, StockflowError } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import type { HttpExchange } from './http-exchange.ts';
import { adjustmentsBody, describeIssue } from './message-schemas.ts';
import { checkIdFields } from './op-table.ts';
import type { RouteKit } from './route-kit.ts';
import { FORMAT_REQUIRED, SnapshotParser, snapshotFormat } from './snapshot-ingest.ts';

/**
 * Stock feeds from the locations' systems: a location's full snapshot (NDJSON or CSV, streamed)
 * and adjustments, and the last snapshots each location sent with their results. A location key
 * feeds (and reads the feeds of) only its own location; admin keys any.
 */
export class InventoryRoutes {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    app.post('/v1/inventory/snapshots', (res, req) => {
      this.kit.route(res, req, 'snapshot', this.snapshot);
    });
    app.get('/v1/inventory/snapshots', (res, req) => {
      this.kit.route(res, req, 'snapshotFeeds', this.feeds);
    });
    app.post('/v1/inventory/adjustments', (res, req) => {
      this.kit.route(res, req, 'adjustments', this.adjustments);
    });
  }

  private readonly snapshot = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const location = req.getQuery('location') ?? '';
    const asOfText = req.getQuery('asOf') ?? '';
    const format = snapshotFormat(req.getHeader('content-type'));
    if (location.length === 0 || asOfText.length === 0) {
      ex.error(ErrorCode.BAD_REQUEST, 'location and asOf are required query parameters');
      return;
    }
    const tooLong = checkIdFields({ location }, ['location']);
    if (tooLong !== null) {
      ex.error(tooLong.code, tooLong.message, { reason: tooLong.reason });
      return;
    }
    const asOf = Number(asOfText);
    if (!Number.isFinite(asOf)) {
      ex.error(ErrorCode.BAD_REQUEST, `asOf must be a number, got ${asOfText.slice(0, 40)}`);
      return;
    }
    if (!p.mayFeedLocation(location)) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not feed location ${location}`);
      return;
    }
    if (format === null) {
      ex.error(ErrorCode.BAD_REQUEST, FORMAT_REQUIRED, {}, { status: 415 });
      return;
    }
    const parser = new SnapshotParser(format);
    const feeds = this.ctx.feeds;
    const feed = { location, asOf, format, lines: 0 };
    ex.readBody(this.ctx.server.httpBodyLimitBytes, (chunk, isLast) => {
      parser.push(chunk);
      if (!isLast) return true;
      parser.end();
      feed.lines = parser.lines.length;
      if (parser.error !== null) {
        const error = `snapshot not applied: ${parser.error}`;
        feeds.record({ ...feed, result: ErrorCode.BAD_REQUEST, summary: null, error });
        ex.error(ErrorCode.BAD_REQUEST, error);
        return false;
      }
      const pending = this.ctx.engine.replaceLocationStock(location, asOf, parser.lines);
      pending.then(
        (summary) => {
          feeds.record({ ...feed, result: 'ok', summary, error: null });
        },
        (error: unknown) => {
          const code = error instanceof StockflowError ? error.code : ErrorCode.INTERNAL;
          feeds.record({ ...feed, result: code, summary: null, error: String(error) });
        },
      );
      this.kit.after(ex, pending, (summary) => {
        ex.json(200, summary);
      });
      return true;
    });
  };

  /** The last feeds of a location with their results (the console's "last stock feeds"). */
  private readonly feeds = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const asked = req.getQuery('location') ?? '';
    const location = asked.length > 0 ? asked : (p.location ?? '');
    if (location.length === 0) {
      ex.error(ErrorCode.BAD_REQUEST, 'location is a required query parameter');
      return;
    }
    if (!p.mayFeedLocation(location)) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read location ${location}'s feeds`);
      return;
    }
    if (this.ctx.engine.location(location) === null) {
      ex.error(ErrorCode.NOT_FOUND, `unknown location ${location}`, {
        reason: Reason.UNKNOWN_LOCATION,
      });
      return;
    }
    ex.json(200, { location, feeds: this.ctx.feeds.of(location) });
  };

  private readonly adjustments = (ex: HttpExchange, _req: HttpRequest, p: Principal): void => {
    this.kit.readJson(ex, (value) => {
      const parsed = adjustmentsBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      for (const [index, a] of parsed.data.entries()) {
        const tooLong = checkIdFields(a, ['adjustmentId', 'sku', 'location']);
        if (tooLong !== null) {
          ex.error(tooLong.code, `${index}.${tooLong.message}`, { reason: tooLong.reason });
          return;
        }
      }
      const foreign = parsed.data.find((a) => !p.mayFeedLocation(a.location));
      if (foreign !== undefined) {
        ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not feed location ${foreign.location}`);
        return;
      }
      const engine = this.ctx.engine;
      const pending = Promise.all(
        parsed.data.map((a) =>
          engine.execute({
            op: 'adjust',
            adjustmentId: a.adjustmentId,
            sku: a.sku,
            location: a.location,
            delta: a.delta,
            asOf: a.asOf,
          }),
        ),
      );
      this.kit.after(ex, pending, (results) => {
        ex.json(
          200,
          results.map((r, i) => {
            const adjustmentId = parsed.data[i]?.adjustmentId ?? '';
            return r.ok
              ? {
                  adjustmentId,
                  ok: true,
                  applied: r.applied,
                  duplicate: r.duplicate,
                  position: r.position,
                }
              : { adjustmentId, ok: false, code: r.code, message: r.message, reason: r.reason };
          }),
        );
      });
    });
  };
}
