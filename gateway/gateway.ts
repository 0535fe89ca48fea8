import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Config, ServerConfig } from '../config/index.ts';
import { ErrorCode, StockflowError, type Engine } from '../engine/index.ts';
import { OrderService } from '../orders/index.ts';
import type { OrderApi } from './order-api.ts';
import { ApiKeyRing } from './auth.ts';
import { consoleTotals, type ConsoleTotals } from './console-totals.ts';
import { feedLedgers, type FeedLedgers } from './feed-ledgers.ts';
import { FeedLog } from './feed-log.ts';
import { FrameCodec } from './frame-codec.ts';
import type { GatewayContext, Readiness } from './context.ts';
import { HttpRouter } from './http-router.ts';
import { LocationPush } from './location-push.ts';
import { GatewayMetrics } from './metrics.ts';
import { registerOrderMetrics } from './order-metrics.ts';
import { ReplyBatcher } from './reply-batcher.ts';
import { RequestLog } from './request-log.ts';
import { SubscriptionHub } from './subscriptions.ts';
import { WsHandler } from './ws-handler.ts';
import { WsOrders } from './ws-orders.ts';

/**
 * The gateway's settings: the `server` and `auth` sections of the configuration, as loadConfig
 * validated and froze them (config/schema.ts is the one place their rules are written).
 */
export type GatewayConfig = Pick<Config, 'server' | 'auth'>;

export interface GatewayExtras {
  /** Extra readiness (e.g. persistence caught up); /readyz is 503 while it says not ready. */
  readonly readiness?: (() => Readiness) | undefined;
  /**
   * The /metrics body, when it is more than this gateway's registry: with worker threads, every
   * worker's registry summed (the answer's content type stays the registry's).
   */
  readonly scrape?: (() => Promise<string>) | undefined;
  /**
   * The order service to expose: the order and fulfilment routes, the WebSocket order ops,
   * location keys on the WebSocket, and the order metrics. Without it none of these exist. The
   * gateway neither starts nor stops it (its owner does), but waits for its running steps when
   * closing.
   */
  readonly orders?: OrderApi | undefined;
  /**
   * Every API key's rate-limit bucket in shared memory (sharedRateMemory), so a key's limit is
   * one budget across worker threads. Without it each gateway keeps its own buckets.
   */
  readonly rateMemory?: SharedArrayBuffer | undefined;
  /**
   * Where location sockets are registered and acks routed: pass the LocationPush the order
   * service's `transportFor` consults (it must exist before the service does). Without one the
   * gateway makes its own, reachable as `gateway.locationPush`.
   */
  readonly locationPush?: LocationPush | undefined;
  /** Where the stock feeds answered are kept for the console; without one, the gateway's own. */
  readonly feedLog?: FeedLog | undefined;
  /** Where feed results are kept by feed id; without them, the gateway's own. */
  readonly feedLedgers?: FeedLedgers | undefined;
  /** With worker threads: adds the other workers' console totals to this one's. */
  readonly totalsElsewhere?: ((here: ConsoleTotals) => Promise<ConsoleTotals>) | undefined;
}

export interface Gateway {
  /** Starts listening; resolves with the bound ports (useful with port 0). */
  listen(): Promise<{ port: number; metricsPort: number | null }>;
  /**
   * Graceful: stops accepting connections, answers new requests UNAVAILABLE, waits (at most
   * shutdownGraceMs) for in-flight order steps, engine commands and HTTP requests, publishes the
   * last deltas, flushes replies, then ends every WebSocket with 1001 and closes all sockets.
   * Does not stop the engine nor the order service (their owner does).
   */
  close(): Promise<void>;
  readonly metrics: Registry;
  /** The live transport of `location:<id>` streams (extras.locationPush, or the gateway's own). */
  readonly locationPush: LocationPush;
  /** What the console's rates count here (with worker threads, this worker's share). */
  consoleTotals(): ConsoleTotals;
}

/** One request in this many is logged (see request-log.ts). */
const REQUEST_LOG_EVERY = 100;

function listenOn(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) {
        reject(new StockflowError(ErrorCode.UNAVAILABLE, `cannot listen on ${host}:${port}`));
      } else {
        resolve(socket);
      }
    });
  });
}

class StockflowGateway implements Gateway {
  closing = false;
  readonly locationPush: LocationPush;
  private readonly orders: OrderApi | null;
  private readonly server: ServerConfig;
  private readonly log: Logger;
  private readonly app: TemplatedApp;
  private readonly metricsApp: TemplatedApp | null;
  private readonly gatewayMetrics: GatewayMetrics;
  private readonly batcher = new ReplyBatcher();
  private readonly ws: WsHandler;
  private readonly http: HttpRouter;
  private readonly stopDeltas: () => void;
  private listenSockets: us_listen_socket[] = [];
  private closed: Promise<void> | null = null;

  constructor(
    private readonly engine: Engine,
    config: GatewayConfig,
    logger: Logger,
    extras: GatewayExtras,
  ) {
    this.server = config.server;
    this.log = logger.child({ component: 'gateway' });
    this.gatewayMetrics = new GatewayMetrics(engine);
    this.orders = extras.orders ?? null;
    // The home of the orders counts them; a worker that forwards to it (RemoteOrders) does not.
    if (this.orders instanceof OrderService)
      registerOrderMetrics(this.gatewayMetrics.registry, this.orders);
    this.locationPush = extras.locationPush ?? new LocationPush();
    const keys = new ApiKeyRing(
      config.auth.apiKeys,
      config.auth.rateLimit,
      () => performance.now(),
      extras.rateMemory ?? null,
    );
    const codec = new FrameCodec();
    const requests = new RequestLog(this.log, REQUEST_LOG_EVERY);
    this.app = uWS.App();
    const hub = new SubscriptionHub(
      engine,
      this.app,
      codec,
      this.gatewayMetrics,
      this.server.maxSubscriptionsPerConnection,
    );
    const wsOrders =
      this.orders === null
        ? null
        : new WsOrders(this.orders, this.locationPush, codec, this.gatewayMetrics, this.log);
    const ctx: GatewayContext = {
      engine,
      server: this.server,
      keys,
      codec,
      hub,
      batcher: this.batcher,
      metrics: this.gatewayMetrics,
      log: this.log,
      requests,
      state: this,
      orders: this.orders,
      wsOrders,
      feeds: extras.feedLog ?? new FeedLog(engine.clock),
      ledgers: extras.feedLedgers ?? feedLedgers(),
      totalsElsewhere: extras.totalsElsewhere ?? null,
      readiness: extras.readiness ?? null,
      scrape: extras.scrape ?? null,
    };
    this.ws = new WsHandler(ctx);
    this.gatewayMetrics.socketBuffers.watch(() => this.ws.bufferedAmounts());
    this.http = new HttpRouter(ctx);
    this.app.ws('/v1/ws', this.ws.behavior());
    this.http.register(this.app, this.server.metricsPort === null);
    if (this.server.metricsPort === null) {
      this.metricsApp = null;
    } else {
      this.metricsApp = uWS.App();
      this.http.registerMetricsOnly(this.metricsApp);
    }
    this.stopDeltas = engine.onDeltas((deltas) => {
      try {
        hub.publish(deltas);
      } catch (error) {
        this.log.error({ err: error, deltas: deltas.length }, 'publishing deltas failed');
      }
    });
  }

  get metrics(): Registry {
    return this.gatewayMetrics.registry;
  }

  /** What the console's rates count here (with worker threads, this worker's share). */
  consoleTotals(): ConsoleTotals {
    return consoleTotals(this.gatewayMetrics, this.engine.storage);
  }

  async listen(): Promise<{ port: number; metricsPort: number | null }> {
    if (this.closing) throw new StockflowError(ErrorCode.UNAVAILABLE, 'the gateway is closed');
    const main = await listenOn(this.app, this.server.host, this.server.port);
    this.listenSockets.push(main);
    const port = uWS.us_socket_local_port(main);
    let metricsPort: number | null = null;
    if (this.metricsApp !== null && this.server.metricsPort !== null) {
      const socket = await listenOn(
        this.metricsApp,
        this.server.metricsHost,
        this.server.metricsPort,
      );
      this.listenSockets.push(socket);
      metricsPort = uWS.us_socket_local_port(socket);
    }
    this.log.info({ host: this.server.host, port, metricsPort }, 'gateway listening');
    return { port, metricsPort };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /**
   * Every order step and command submitted so far answered, and (with a journal) its answer
   * released.
   */
  private async drainEngine(): Promise<void> {
    await this.orders?.settled();
    await this.engine.settle();
    await this.engine.durable().catch((error: unknown) => {
      this.log.warn({ err: error }, 'journal not durable at shutdown');
    });
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const started = Date.now();
    for (const socket of this.listenSockets) uWS.us_listen_socket_close(socket);
    this.listenSockets = [];
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, this.server.shutdownGraceMs);
    });
    const drained = await Promise.race([
      Promise.all([this.drainEngine(), this.http.idle()]).then(() => 'drained' as const),
      grace,
    ]);
    clearTimeout(timer);
    if (drained === 'timeout') {
      this.log.warn({ graceMs: this.server.shutdownGraceMs }, 'shutdown grace ran out');
    }
    this.engine.flushDeltas();
    this.stopDeltas();
    this.batcher.flush();
    // Let uWS write what was just published before the sockets end.
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Anything answered meanwhile (UNAVAILABLE to late frames) goes out before the close frame.
    this.batcher.flush();
    const open = this.ws.connections.size;
    this.ws.endAll(1001, 'server shutting down');
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.app.close();
    this.metricsApp?.close();
    this.log.info({ ms: Date.now() - started, closedConnections: open, drained }, 'gateway closed');
  }
}

/** Creates the gateway (not yet listening) from the validated configuration (loadConfig). */
export function createGateway(
  engine: Engine,
  config: GatewayConfig,
  logger: Logger,
  extras: GatewayExtras = {},
): Gateway {
  return new StockflowGateway(engine, config, logger, extras);
}
