import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, StockflowError } from '../engine/index.ts';
import { presentedKey } from './auth.ts';
import { ConfigRoutes } from './config-routes.ts';
import { ConsoleFiles } from './console-files.ts';
import { ConsoleRoutes } from './console-routes.ts';
import type { GatewayContext } from './context.ts';
import { HealthRoutes } from './health-routes.ts';
import { HttpExchange, type ExchangeContext } from './http-exchange.ts';
import { InFlight } from './inflight.ts';
import { FeedRoutes } from './feed-routes.ts';
import { MasterRoutes } from './master-routes.ts';
import { InventoryRoutes } from './inventory-routes.ts';
import { JsonGuard } from './json-guard.ts';
import type { GatewayMetrics, OpLabel } from './metrics.ts';
import type { Answer } from './order-api.ts';
import { OrderRoutes } from './order-routes.ts';
import { ReservationRoutes } from './reservation-routes.ts';
import { ReturnRoutes } from './return-routes.ts';
import { ErpRoutes } from './erp-routes.ts';
import type { RouteHandler, RouteKit } from './route-kit.ts';

/** HTTP JSON bodies: as deep as a rules document needs, as long as the body limit allows. */
const BODY_LIMITS = Object.freeze({ maxDepth: 8, maxEntries: 10_000_000 });

/**
 * The HTTP API (docs/api.md): the guard every API route goes through (key, rate limit, shutdown,
 * a catch-all so a bug answers 500 instead of reaching uWS), the in-flight count a graceful close
 * waits on, and the groups of routes: reservations, inventory feeds, configuration, orders (when
 * the gateway runs the order service), the console's reads and its static files, health,
 * readiness and metrics. Every handler reads what it
 * needs from the request before returning (uWS request objects live only that long) and answers
 * errors as `{code, message, ...}` with the code's status.
 */
export class HttpRouter implements ExchangeContext, RouteKit {
  readonly metrics: GatewayMetrics;
  readonly log: GatewayContext['log'];
  private readonly inflight = new InFlight();
  private readonly bodyGuard = new JsonGuard(BODY_LIMITS);
  private readonly health: HealthRoutes;

  constructor(private readonly ctx: GatewayContext) {
    this.metrics = ctx.metrics;
    this.log = ctx.log;
    this.health = new HealthRoutes(ctx);
  }

  // ---- ExchangeContext ------------------------------------------------------------------------

  started(): void {
    this.inflight.started();
  }

  finished(): void {
    this.inflight.finished();
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    return this.inflight.idle();
  }

  // ---- routes ---------------------------------------------------------------------------------

  register(app: TemplatedApp, withMetrics: boolean): void {
    this.health.register(app, withMetrics);
    new ReservationRoutes(this.ctx, this).register(app);
    new InventoryRoutes(this.ctx, this).register(app);
    new FeedRoutes(this.ctx, this).register(app);
    new MasterRoutes(this.ctx, this).register(app);
    new ConfigRoutes(this.ctx, this).register(app);
    new ConsoleRoutes(this.ctx, this).register(app);
    new ConsoleFiles(this.ctx.server.consoleDir, this).register(app);
    if (this.ctx.orders !== null) {
      new OrderRoutes(this.ctx.orders, this.ctx.engine, this).register(app);
      new ReturnRoutes(this.ctx.orders, this.ctx.engine, this).register(app);
      new ErpRoutes(this.ctx.orders, this.ctx.engine, this).register(app);
    }
    app.any('/*', (res, req) => {
      const ex = new HttpExchange(res, 'invalid', performance.now(), this);
      ex.error(ErrorCode.NOT_FOUND, `no route ${req.getMethod().toUpperCase()} ${req.getUrl()}`);
    });
  }

  /** Metrics only, for the separate metrics port. */
  registerMetricsOnly(app: TemplatedApp): void {
    this.health.registerMetricsOnly(app);
  }

  route(res: HttpResponse, req: HttpRequest, op: OpLabel, handler: RouteHandler): void {
    const ex = new HttpExchange(res, op, performance.now(), this);
    try {
      if (this.ctx.state.closing) {
        ex.error(ErrorCode.UNAVAILABLE, 'the gateway is shutting down');
        return;
      }
      const principal = this.ctx.keys.verify(
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
      if (this.ctx.requests.sample()) {
        this.ctx.requests.write({
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

  after<T>(ex: HttpExchange, pending: Promise<T>, then: (value: T) => void): void {
    pending.then(then).catch((error: unknown) => {
      try {
        this.answerThrown(ex, error);
      } catch (again) {
        this.log.error({ err: again }, 'answering a failed request failed');
      }
    });
  }

  answered<T>(ex: HttpExchange, answer: Answer<T>, then: (value: T) => void): void {
    if (answer instanceof Promise) this.after(ex, answer, then);
    else then(answer);
  }

  readJson(ex: HttpExchange, then: (value: unknown) => void, whenEmpty?: unknown): void {
    ex.readJson(this.ctx.server.httpBodyLimitBytes, this.bodyGuard, then, whenEmpty);
  }

  /** A StockflowError from the engine is the caller's mistake; anything else is a bug. */
  answerThrown(ex: HttpExchange, error: unknown): void {
    if (error instanceof StockflowError) {
      ex.error(error.code, error.message, { reason: error.reason });
      return;
    }
    ex.fail(error);
  }
}
