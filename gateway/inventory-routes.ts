import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import type { HttpExchange } from './http-exchange.ts';
import { adjustmentsBody, describeIssue } from './message-schemas.ts';
import { checkIdFields } from './op-table.ts';
import type { RouteKit } from './route-kit.ts';
import { SnapshotParser, snapshotFormat } from './snapshot-ingest.ts';

/**
 * Stock feeds from the locations' systems: a location's full snapshot (NDJSON or CSV, streamed)
 * and adjustments. A location key feeds only its own location; admin keys any.
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
      ex.error(
        ErrorCode.BAD_REQUEST,
        'Content-Type must be application/x-ndjson (or application/jsonl) or text/csv',
        {},
        { status: 415 },
      );
      return;
    }
    const parser = new SnapshotParser(format);
    ex.readBody(this.ctx.server.httpBodyLimitBytes, (chunk, isLast) => {
      parser.push(chunk);
      if (!isLast) return true;
      parser.end();
      if (parser.error !== null) {
        ex.error(ErrorCode.BAD_REQUEST, `snapshot not applied: ${parser.error}`);
        return false;
      }
      const pending = this.ctx.engine.replaceLocationStock(location, asOf, parser.lines);
      this.kit.after(ex, pending, (summary) => {
        ex.json(200, summary);
      });
      return true;
    });
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
