// The composition root: what `npm start` runs. Configuration in, engine + persistence + gateway
// up, graceful shutdown on SIGTERM/SIGINT. Nothing else in the codebase reads process.env.
// First, before anything that imports uWebSockets.js: a binary that cannot load ends the start
// with one line naming the fix.
import './uws-guard.ts';
import type { Logger } from 'pino';
import { ConfigError, createLogger, loadConfig, type Config } from '../config/index.ts';
import type { StockEngine } from '../engine/index.ts';
import type { OrderService } from '../orders/index.ts';
import {
  createEngine,
  openPersistence,
  registerPersisted,
  storeReadiness,
  type Persisted,
} from './engine-start.ts';
import { createGateway, RedisStreamFeed, type Gateway } from './index.ts';
import { firstRun } from './first-run.ts';
import { createOrders } from './order-start.ts';
import type { SettlementSinks } from './settlement-sinks.ts';
import { claimLayout, resolveWorkers } from './shards/layout.ts';
import { startWorkers } from './shards/supervisor.ts';

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
  const { orders, push, settlement } = createOrders(config, engine.stock, engine.clock, log);
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
  // Signals are taken from the start: with worker threads a worker may answer /readyz before
  // every worker listens, and a SIGTERM then must still stop the process gracefully (after the
  // start, which then stops at once) rather than kill it.
  const run: { stop: (() => Promise<void>) | null; signal: string | null } = {
    stop: null,
    signal: null,
  };
  const shutdown = (): void => {
    if (run.stop === null) return;
    log.info({ signal: run.signal }, 'shutting down');
    run.stop().then(
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
  const onSignal = (signal: string): void => {
    if (run.signal !== null) return;
    run.signal = signal;
    shutdown();
  };
  process.on('SIGTERM', () => {
    onSignal('SIGTERM');
  });
  process.on('SIGINT', () => {
    onSignal('SIGINT');
  });
  try {
    const first = firstRun(config, log);
    const workers = await resolveWorkers(first.config.persistence, first.config.server.workers);
    await claimLayout(first.config.persistence, workers);
    if (workers > 1) {
      const pool = await startWorkers(first.config, workers, log);
      run.stop = () => pool.stop();
    } else {
      const running = await start(first.config, log);
      run.stop = () => stop(running);
    }
    first.announce(process.stdout);
  } catch (error) {
    log.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
  // A signal that came during the start stops it now.
  if (run.signal !== null) shutdown();
}

void main();
