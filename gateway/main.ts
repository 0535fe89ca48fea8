// The composition root: what `npm start` runs. Configuration in, engine + persistence + gateway
// up, graceful shutdown on SIGTERM/SIGINT. Nothing else in the codebase reads process.env.
// First, before anything that imports uWebSockets.js: a binary that cannot load ends the start
// with one line naming the fix.
import './uws-guard.ts';
import type { Logger } from 'pino';
import { ConfigError, createLogger, loadConfig, type Config } from '../config/index.ts';
import type { StockEngine } from '../engine/index.ts';
import { OrderService, type OutboxTransport } from '../orders/index.ts';
import {
  createEngine,
  openPersistence,
  registerPersisted,
  storeReadiness,
  type Persisted,
} from './engine-start.ts';
import { createGateway, LocationPush, RedisStreamFeed, type Gateway } from './index.ts';
import { firstRun } from './first-run.ts';
import { orderSettings } from './order-settings.ts';
import { SettlementSinks } from './settlement-sinks.ts';
import { claimLayout } from './shards/layout.ts';
import { startWorkers } from './shards/supervisor.ts';
import { WebhookTransport } from './webhook-transport.ts';

interface Running {
  readonly gateway: Gateway;
  readonly engine: StockEngine;
  readonly orders: OrderService;
  readonly persisted: Persisted;
  readonly settlement: SettlementSinks;
  readonly streamFeed: RedisStreamFeed | null;
}

async function start(config: Config, log: Logger): Promise<Running> {
  const engine = createEngine(config, log);
  // The order service joins the engine's journal before recovery replays it.
  const push = new LocationPush({ ackTimeoutMs: config.orders.outbox.pushAckTimeoutMs });
  const settlement = new SettlementSinks(
    config.erp.settlement,
    config.orders.outbox.timeoutMs,
    engine.clock,
    log,
  );
  const orders = new OrderService({
    stock: engine.stock,
    clock: engine.clock,
    logger: log.child({ component: 'orders' }),
    ...orderOptions(config, engine, push, settlement),
  });
  const persisted = await openPersistence(engine, config, config.persistence, log);
  orders.start();
  settlement.start();
  const streamConfig = config.feeds.redisStream;
  const streamFeed = streamConfig === null ? null : new RedisStreamFeed(engine, streamConfig, log);
  const gateway = createGateway(
    engine,
    {
      server: config.server,
      auth: config.auth,
    },
    log,
    {
      orders,
      locationPush: push,
      readiness: () => storeReadiness(config, engine, persisted, streamFeed),
    },
  );
  registerPersisted(gateway.metrics, engine, persisted);
  streamFeed?.registerMetrics(gateway.metrics);
  const ports = await gateway.listen();
  // After recovery and listen: its rows go into the recovered engine, as an HTTP feed's would.
  streamFeed?.start();
  log.info({ ...ports, store: config.persistence.store }, 'stockflow is listening');
  return { gateway, engine, orders, persisted, settlement, streamFeed };
}

/**
 * The order service's settings from the config, and how its messages travel: a location with a
 * webhook gets signed HTTP POSTs, any other gets them over its WebSocket (LocationPush); customer
 * notifications go to the customer webhook, and are not produced when there is none; the ERP's
 * settlement events go to its sinks (SettlementSinks), and are not produced when there is none.
 */
function orderOptions(
  config: Config,
  engine: StockEngine,
  push: LocationPush,
  settlement: SettlementSinks,
): Omit<ConstructorParameters<typeof OrderService>[0], 'stock' | 'clock' | 'logger'> {
  const o = config.orders;
  const http = (target: { url: string; secret: string }): OutboxTransport =>
    new WebhookTransport(target, { timeoutMs: o.outbox.timeoutMs, clock: engine.clock });
  const hooks = new Map<string, OutboxTransport>();
  for (const l of o.locations)
    if (l.webhook !== null) hooks.set(`location:${l.id}`, http(l.webhook));
  const customer = o.notifications.webhook === null ? null : http(o.notifications.webhook);
  return {
    ...orderSettings(config),
    notifyCustomers: customer !== null,
    settlementStreams: settlement.streams,
    transportFor: (stream) =>
      stream === 'customer'
        ? customer
        : (hooks.get(stream) ?? settlement.transportFor(stream) ?? push.transportFor(stream)),
  };
}

async function stop(running: Running): Promise<void> {
  // The stream first: its batch in flight is applied and acked while the engine still runs.
  await running.streamFeed?.stop();
  await running.gateway.close();
  await running.orders.stop();
  await running.settlement.close();
  await running.persisted.snapshotter?.stop();
  await running.engine.stop();
  await running.persisted.store?.close();
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig({ env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config.log);
  process.on('uncaughtException', (error) => {
    // A bug outside the actors: everything acknowledged is durable, so crash and recover.
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
  let stopRunning: () => Promise<void>;
  try {
    const first = firstRun(config, log);
    await claimLayout(first.config.persistence, first.config.server.workers);
    if (first.config.server.workers > 1) {
      const pool = await startWorkers(first.config, log);
      stopRunning = () => pool.stop();
    } else {
      const running = await start(first.config, log);
      stopRunning = () => stop(running);
    }
    first.announce(process.stdout);
  } catch (error) {
    log.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stopRunning().then(
      () => {
        log.info('stockflow stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
}

void main();
