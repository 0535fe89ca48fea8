import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, StockflowError, type CommandResult, type Engine } from '../engine/index.ts';
import { type OrderService } from '../orders/index.ts';
import { presentedKey, type ApiKeyRing, type Principal } from './auth.ts';
import { decodeParam, HttpExchange, type ExchangeContext } from './http-exchange.ts';
import { JsonGuard } from './json-guard.ts';
import {
  adjustmentsBody,
  confirmBody,
  describeIssue,
  locationsBody,
  productsBody,
  reservationBody,
  rulesBody,
} from './message-schemas.ts';
import type { GatewayMetrics, OpLabel } from './metrics.ts';
import type { GatewayOptions } from './options.ts';
import { OrderRoutes, type RouteHandler, type RouteKit } from './order-routes.ts';
import type { RequestLog } from './request-log.ts';
import { reservationAccess, reservationChannel } from './reservation-access.ts';
import { SnapshotParser, snapshotFormat } from './snapshot-ingest.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

export interface HttpState {
  readonly closing: boolean;
}

/** HTTP JSON bodies: as deep as a rules document needs, as long as the body limit allows. */
const BODY_LIMITS = Object.freeze({ maxDepth: 8, maxEntries: 10_000_000 });

/**
 * The HTTP API (docs/api.md): availability reads, reservations, stock feeds, configuration,
 * health, readiness and metrics; orders and fulfilments (order-routes.ts) when the gateway runs
 * the order service. Every handler reads what it needs from the request before
 * returning (uWS request objects live only that long), authenticates with the same keys as the
 * WebSocket, and answers errors as `{code, message, ...}` with the code's status.
 */
export class HttpRoutes implements ExchangeContext, RouteKit {
  private inflight = 0;
  private waiters: (() => void)[] = [];
  private readonly bodyGuard = new JsonGuard(BODY_LIMITS);
  private readonly orderRoutes: OrderRoutes | null;

  constructor(
    private readonly engine: Engine,
    private readonly options: Readonly<GatewayOptions>,
    private readonly keys: ApiKeyRing,
    readonly metrics: GatewayMetrics,
    readonly log: Logger,
    private readonly requests: RequestLog,
    private readonly state: HttpState,
    private readonly readiness: (() => Readiness) | undefined,
    orders: OrderService | null,
  ) {
    this.orderRoutes = orders === null ? null : new OrderRoutes(orders, engine, this);
  }

  // ---- ExchangeContext ------------------------------------------------------------------------

  started(): void {
    this.inflight++;
  }

  finished(): void {
    this.inflight--;
    if (this.inflight === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // ---- routes ---------------------------------------------------------------------------------

  register(app: TemplatedApp, withMetrics: boolean): void {
    app.get('/healthz', (res) => {
      this.health(res);
    });
    app.get('/readyz', (res) => {
      this.ready(res);
    });
    if (withMetrics) {
      app.get('/metrics', (res) => {
        this.scrape(res);
      });
    }
    app.get('/v1/availability', (res, req) => {
      this.route(res, req, 'availability', this.availability);
    });
    app.post('/v1/reservations', (res, req) => {
      this.route(res, req, 'reserve', this.reserve);
    });
    app.del('/v1/reservations/:id', (res, req) => {
      this.route(res, req, 'release', this.release);
    });
    app.post('/v1/reservations/:id/confirm', (res, req) => {
      this.route(res, req, 'confirm', this.confirm);
    });
    app.post('/v1/inventory/snapshots', (res, req) => {
      this.route(res, req, 'snapshot', this.snapshot);
    });
    app.post('/v1/inventory/adjustments', (res, req) => {
      this.route(res, req, 'adjustments', this.adjustments);
    });
    for (const what of ['rules', 'locations', 'products'] as const) {
      app.get(`/v1/config/${what}`, (res, req) => {
        this.route(res, req, 'config', (ex, _req, p) => {
          this.readConfig(ex, p, what);
        });
      });
      app.put(`/v1/config/${what}`, (res, req) => {
        this.route(res, req, 'config', (ex, _req, p) => {
          this.writeConfig(ex, p, what);
        });
      });
    }
    this.orderRoutes?.register(app);
    app.any('/*', (res, req) => {
      const ex = new HttpExchange(res, 'invalid', performance.now(), this);
      ex.error(ErrorCode.NOT_FOUND, `no route ${req.getMethod().toUpperCase()} ${req.getUrl()}`);
    });
  }

  /** Metrics only, for the separate metrics port. */
  registerMetricsOnly(app: TemplatedApp): void {
    app.get('/metrics', (res) => {
      this.scrape(res);
    });
    app.any('/*', (res) => {
      res.writeStatus('404 Not Found').end();
    });
  }

  /**
   * Common to every API route (order-routes.ts too): an exchange with its abort handler, the key,
   * the rate limit, the shutdown check, and a catch-all so a bug answers 500 instead of reaching
   * uWS.
   */
  route(res: HttpResponse, req: HttpRequest, op: OpLabel, handler: RouteHandler): void {
    const ex = new HttpExchange(res, op, performance.now(), this);
    try {
      if (this.state.closing) {
        ex.error(ErrorCode.UNAVAILABLE, 'the gateway is shutting down');
        return;
      }
      const principal = this.keys.verify(
        presentedKey({
          authorization: req.getHeader('authorization'),
          xApiKey: req.getHeader('x-api-key'),
          queryKey: '',
          protocols: '',
        }),
      );
      if (principal === null) {
        ex.error(
          ErrorCode.UNAUTHORIZED,
          'a valid API key is required (Authorization: Bearer <key> or x-api-key)',
        );
        return;
      }
      if (!principal.bucket.take(1)) {
        this.metrics.rateLimited.inc({ transport: 'http' });
        ex.error(
          ErrorCode.RATE_LIMITED,
          `key ${principal.name} is over its rate limit; retry shortly`,
          {},
          { retryAfterSec: principal.bucket.secondsUntil(1) },
        );
        return;
      }
      if (this.requests.sample()) {
        this.requests.write({
          key: principal.name,
          op,
          url: req.getUrl(),
          method: req.getMethod(),
        });
      }
      handler(ex, req, principal);
    } catch (error) {
      ex.fail(error);
    }
  }

  private readonly availability = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const channel = req.getQuery('channel') ?? '';
    const sku = req.getQuery('sku') ?? '';
    const location = req.getQuery('location');
    if (channel.length === 0 || sku.length === 0) {
      ex.error(ErrorCode.BAD_REQUEST, 'channel and sku are required query parameters');
      return;
    }
    if (!p.mayUseChannel(channel)) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read channel ${channel}`);
      return;
    }
    const a = this.engine.availability(
      channel,
      sku,
      location === undefined || location === '' ? null : location,
    );
    if (!a.ok) {
      ex.error(a.code, a.message, { reason: a.reason });
      return;
    }
    ex.json(200, { channel: a.channel, sku: a.sku, location: a.location, available: a.available });
  };

  private readonly reserve = (ex: HttpExchange, _req: HttpRequest, p: Principal): void => {
    ex.readJson(this.options.httpBodyLimitBytes, this.bodyGuard, (value) => {
      const parsed = reservationBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      const b = parsed.data;
      if (!p.mayUseChannel(b.channel)) {
        ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not use channel ${b.channel}`);
        return;
      }
      this.command(
        ex,
        this.engine.execute({
          op: 'reserve',
          reservationId: b.reservationId,
          channel: b.channel,
          sku: b.sku,
          qty: b.qty,
          location: b.location,
          ttlMs: b.ttlMs,
        }),
        true,
      );
    });
  };

  private readonly release = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const id = decodeParam(req.getParameter(0));
    if (id === null) {
      ex.error(ErrorCode.BAD_REQUEST, 'reservation id is not valid percent-encoding');
      return;
    }
    if (!this.mayTouch(ex, p)) return;
    const channel = reservationChannel(p);
    this.command(ex, this.engine.execute({ op: 'release', reservationId: id, channel }), false);
  };

  private readonly confirm = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const id = decodeParam(req.getParameter(0));
    if (id === null) {
      ex.error(ErrorCode.BAD_REQUEST, 'reservation id is not valid percent-encoding');
      return;
    }
    ex.readJson(this.options.httpBodyLimitBytes, this.bodyGuard, (value) => {
      const parsed = confirmBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      if (!this.mayTouch(ex, p)) return;
      const channel = reservationChannel(p);
      this.command(
        ex,
        this.engine.execute({
          op: 'confirm',
          reservationId: id,
          orderId: parsed.data.orderId,
          channel,
        }),
        false,
      );
    });
  };

  private mayTouch(ex: HttpExchange, p: Principal): boolean {
    const refusal = reservationAccess(p);
    if (refusal === null) return true;
    ex.error(refusal.code, refusal.message, { reason: refusal.reason });
    return false;
  }

  /** Answers a reservation command's result: the reservation, or the error with its status. */
  private command(ex: HttpExchange, pending: Promise<CommandResult>, created: boolean): void {
    this.after(ex, pending, (result) => {
      if (!result.ok) {
        ex.error(result.code, result.message, {
          reason: result.reason,
          available: result.available,
        });
        return;
      }
      const status = created && result.applied ? 201 : 200;
      ex.json(status, { ...result.reservation, duplicate: result.duplicate });
    });
  }

  /**
   * Runs `then` with a promise's value; a rejection, or a throw inside `then`, answers the
   * exchange (a StockflowError with its code's status, anything else 500) instead of becoming an
   * unhandled rejection.
   */
  after<T>(ex: HttpExchange, pending: Promise<T>, then: (value: T) => void): void {
    pending.then(then).catch((error: unknown) => {
      try {
        this.answerThrown(ex, error);
      } catch (again) {
        this.log.error({ err: again }, 'answering a failed request failed');
      }
    });
  }

  /** Reads a JSON body within the body limit, through the JSON guard. */
  readJson(ex: HttpExchange, then: (value: unknown) => void, whenEmpty?: unknown): void {
    ex.readJson(this.options.httpBodyLimitBytes, this.bodyGuard, then, whenEmpty);
  }

  private readonly snapshot = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const location = req.getQuery('location') ?? '';
    const asOfText = req.getQuery('asOf') ?? '';
    const format = snapshotFormat(req.getHeader('content-type'));
    if (location.length === 0 || asOfText.length === 0) {
      ex.error(ErrorCode.BAD_REQUEST, 'location and asOf are required query parameters');
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
    ex.readBody(this.options.httpBodyLimitBytes, (chunk, isLast) => {
      parser.push(chunk);
      if (!isLast) return true;
      parser.end();
      if (parser.error !== null) {
        ex.error(ErrorCode.BAD_REQUEST, `snapshot not applied: ${parser.error}`);
        return false;
      }
      this.after(ex, this.engine.replaceLocationStock(location, asOf, parser.lines), (summary) => {
        ex.json(200, summary);
      });
      return true;
    });
  };

  private readonly adjustments = (ex: HttpExchange, _req: HttpRequest, p: Principal): void => {
    ex.readJson(this.options.httpBodyLimitBytes, this.bodyGuard, (value) => {
      const parsed = adjustmentsBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      const foreign = parsed.data.find((a) => !p.mayFeedLocation(a.location));
      if (foreign !== undefined) {
        ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not feed location ${foreign.location}`);
        return;
      }
      const pending = Promise.all(
        parsed.data.map((a) =>
          this.engine.execute({
            op: 'adjust',
            adjustmentId: a.adjustmentId,
            sku: a.sku,
            location: a.location,
            delta: a.delta,
            asOf: a.asOf,
          }),
        ),
      );
      this.after(ex, pending, (results) => {
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

  private readConfig(
    ex: HttpExchange,
    p: Principal,
    what: 'rules' | 'locations' | 'products',
  ): void {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read configuration`);
      return;
    }
    switch (what) {
      case 'rules':
        // The document as PUT takes it, so it can be read, edited and written back.
        ex.json(200, this.engine.rules().rules, 'ok', {
          'x-stockflow-rules-version': String(this.engine.rules().version),
        });
        return;
      case 'locations':
        ex.json(200, this.engine.locationList());
        return;
      case 'products':
        ex.json(200, this.engine.productList());
        return;
    }
  }

  private writeConfig(
    ex: HttpExchange,
    p: Principal,
    what: 'rules' | 'locations' | 'products',
  ): void {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not change configuration`);
      return;
    }
    ex.readJson(this.options.httpBodyLimitBytes, this.bodyGuard, (value) => {
      try {
        switch (what) {
          case 'rules': {
            const parsed = rulesBody.safeParse(value);
            if (!parsed.success) {
              ex.error(ErrorCode.BAD_REQUEST, `rules: ${describeIssue(parsed.error)}`);
              return;
            }
            this.engine.setRules(parsed.data);
            const version = this.engine.rules().version;
            this.log.info({ key: p.name, version }, 'rules replaced');
            this.afterDurable(ex, { version });
            return;
          }
          case 'locations': {
            const parsed = locationsBody.safeParse(value);
            if (!parsed.success) {
              ex.error(ErrorCode.BAD_REQUEST, `locations: ${describeIssue(parsed.error)}`);
              return;
            }
            this.engine.upsertLocations(parsed.data);
            this.log.info({ key: p.name, count: parsed.data.length }, 'locations upserted');
            this.afterDurable(ex, { upserted: parsed.data.length });
            return;
          }
          case 'products': {
            const parsed = productsBody.safeParse(value);
            if (!parsed.success) {
              ex.error(ErrorCode.BAD_REQUEST, `products: ${describeIssue(parsed.error)}`);
              return;
            }
            this.engine.upsertProducts(parsed.data);
            this.log.info({ key: p.name, count: parsed.data.length }, 'products upserted');
            this.afterDurable(ex, { upserted: parsed.data.length });
            return;
          }
        }
      } catch (error) {
        this.answerThrown(ex, error);
      }
    });
  }

  /** Configuration changes are acknowledged once the engine's journal holds them. */
  private afterDurable(ex: HttpExchange, body: unknown): void {
    this.after(ex, this.engine.durable(), () => {
      ex.json(200, body);
    });
  }

  /** A StockflowError from the engine is the caller's mistake; anything else is a bug. */
  private answerThrown(ex: HttpExchange, error: unknown): void {
    if (error instanceof StockflowError) {
      ex.error(error.code, error.message, { reason: error.reason });
      return;
    }
    ex.fail(error);
  }

  // ---- health, readiness, metrics -------------------------------------------------------------

  private health(res: HttpResponse): void {
    res
      .writeStatus('200 OK')
      .writeHeader('content-type', 'application/json')
      .end('{"status":"ok"}');
  }

  private ready(res: HttpResponse): void {
    let extra: Readiness = { ready: true, detail: {} };
    try {
      if (this.readiness !== undefined) extra = this.readiness();
    } catch (error) {
      this.log.error({ err: error }, 'readiness check failed');
      extra = { ready: false, detail: { error: 'readiness check failed' } };
    }
    const ready = !this.state.closing && extra.ready;
    res
      .writeStatus(ready ? '200 OK' : '503 Service Unavailable')
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify({ ready, closing: this.state.closing, detail: extra.detail }));
  }

  private scrape(res: HttpResponse): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    this.metrics.registry
      .metrics()
      .then((body) => {
        if (aborted) return;
        res.cork(() => {
          res
            .writeStatus('200 OK')
            .writeHeader('content-type', this.metrics.registry.contentType)
            .end(body);
        });
      })
      .catch((error: unknown) => {
        this.log.error({ err: error }, 'metrics scrape failed');
        if (aborted) return;
        res.cork(() => {
          res.writeStatus('500 Internal Server Error').end();
        });
      })
      .catch((error: unknown) => {
        this.log.error({ err: error }, 'answering a failed scrape failed');
      });
  }
}
