// One shard's worker thread (server.workers > 1): the shard's engine, journal and snapshots, and a
// gateway on the shared port whose engine is a ShardRouter over every shard. The main thread
// (gateway/shards/supervisor.ts) starts it, tells it when to listen and when to stop.
import '../uws-guard.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../config/index.ts';
import { collectedMetrics } from '../collected-metrics.ts';
import {
  createEngine,
  openPersistence,
  registerPersisted,
  storeReadiness,
} from '../engine-start.ts';
import { addTotals, consoleTotals, type ConsoleTotals } from '../console-totals.ts';
import { feedLedgers } from '../feed-ledgers.ts';
import { FeedLog } from '../feed-log.ts';
import { createGateway, RedisStreamFeed, type Gateway, type Readiness } from '../index.ts';
import { registerOrderMetrics } from '../order-metrics.ts';
import { createOrders } from '../order-start.ts';
import { BacklogBoard } from './backlog-board.ts';
import type { FromWorker, ToWorker, WorkerInit } from './control.ts';
import { shardPersistence } from './layout.ts';
import { shareFeeds } from './feed-share.ts';
import { LocationRelay } from './location-relay.ts';
import { ShardedOrders } from './sharded-orders.ts';
import { serveOffers, ShardedStockPort } from './sharded-stock-port.ts';
import { ShardRouter } from './shard-router.ts';

const init = workerData as WorkerInit;
const HEALTH_EVERY_MS = 250;
const TOTALS = 'console.totals';
if (parentPort === null) throw new Error('worker-main.ts runs in a worker thread');
const port = parentPort;
const tell = (message: FromWorker): void => {
  port.postMessage(message);
};

const { config, shard, count } = init;
const log = createLogger(config.log, undefined, false).child({ shard });
const engine = createEngine(config, log);
// This shard's order service (docs/scaling.md, "Orders on workers"): the orders whose id hashes
// here. It joins this shard's journal before recovery, and reads and allocates other shards' SKUs
// through the router, which exists after recovery (so do the relay and the board).
const stock = new ShardedStockPort(engine.stock);
let relay: LocationRelay | null = null;
let board: BacklogBoard | null = null;
const own = createOrders(config, stock, engine.clock, log, {
  locations: (stream) => relay?.transportFor(stream) ?? null,
  openElsewhere: (location) => board?.elsewhere(location) ?? 0,
});
let gateway: Gateway | null = null;
let nextScrape = 1;
const scrapes = new Map<number, (body: string | null) => void>();

function scrape(): Promise<string> {
  const id = nextScrape++;
  return new Promise<string>((resolve, reject) => {
    scrapes.set(id, (body) => {
      if (body === null) reject(new Error('collecting the workers’ metrics failed'));
      else resolve(body);
    });
    tell({ type: 'scrape', id });
  });
}

async function main(): Promise<void> {
  const persisted = await openPersistence(
    engine,
    config,
    shardPersistence(config.persistence, shard, count),
    log,
  );
  const router = new ShardRouter(engine, shard, count, init.ports);
  // Every handler before this turn ends: the other workers' requests are read in a later one.
  serveOffers(router, engine.stock);
  stock.connect(router);
  relay = new LocationRelay(router, own.push);
  const b = new BacklogBoard(router, () => own.orders.openByLocation());
  board = b;
  b.start();
  own.orders.start();
  own.settlement.start();
  const orders = new ShardedOrders(own.orders, router);
  const feedLog = new FeedLog(engine.clock);
  const ledgers = feedLedgers();
  shareFeeds(router, feedLog, ledgers);
  // The console's totals for the process: every worker's gateway and engine added up.
  router.handle(TOTALS, (_peer, _payload, reply) => {
    reply?.(gateway?.consoleTotals() ?? consoleTotals(null, engine.storage));
  });
  const totalsElsewhere = async (here: ConsoleTotals): Promise<ConsoleTotals> =>
    addTotals(here, await router.askPeers<ConsoleTotals>(TOTALS, null));
  // One reader of the stock feed stream for the process (its rows go wherever their SKU lives).
  const streamConfig = config.feeds.redisStream;
  const streamFeed =
    shard === 0 && streamConfig !== null ? new RedisStreamFeed(router, streamConfig, log) : null;

  // This shard's readiness, published for every worker's /readyz (a journal down on one shard
  // makes the whole process not ready: a load balancer cannot tell which worker it reached).
  const health = new Int32Array(init.health);
  const publish = (): Readiness => {
    const here = storeReadiness(config, engine, persisted, streamFeed);
    Atomics.store(health, shard, here.ready ? 1 : 0);
    return here;
  };
  publish();
  const publishing = setInterval(publish, HEALTH_EVERY_MS);
  const readiness = (): Readiness => {
    const here = publish();
    const shards = Array.from(health, (v) => v === 1);
    return {
      ready: here.ready && shards.every(Boolean),
      detail: { ...here.detail, shard, shardsReady: shards },
    };
  };

  const listen = async (p: number, metricsPort: number | null): Promise<void> => {
    const g = createGateway(
      router,
      { server: { ...config.server, port: p, metricsPort }, auth: config.auth },
      log,
      {
        readiness,
        scrape,
        orders,
        locationPush: own.push,
        feedLog,
        feedLedgers: ledgers,
        totalsElsewhere,
        rateMemory: init.rateMemory,
      },
    );
    gateway = g;
    registerPersisted(g.metrics, engine, persisted);
    registerOrderMetrics(g.metrics, own.orders);
    registerForwarding(g, router);
    streamFeed?.registerMetrics(g.metrics);
    const ports = await g.listen();
    streamFeed?.start();
    tell({ type: 'listening', ...ports });
  };

  const stop = async (): Promise<void> => {
    clearInterval(publishing);
    // As gateway/main.ts stops them: the snapshotter before the engine it reads.
    await persisted.snapshotter?.stop();
    await router.stop();
    await persisted.store?.close();
    router.closeLinks();
    tell({ type: 'stopped' });
    port.close();
  };

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'listen':
        listen(message.port, message.metricsPort).catch(failed);
        return;
      case 'collect':
        void collect(message.id);
        return;
      case 'scraped':
        scrapes.get(message.id)?.(message.body);
        scrapes.delete(message.id);
        return;
      case 'drain':
        // The stream first: its batch in flight is applied and acked while the engines run.
        (streamFeed?.stop() ?? Promise.resolve())
          .then(() => gateway?.close())
          .then(() => {
            tell({ type: 'drained' });
          }, failed);
        return;
      case 'quiesce':
        // Every gateway is closed: no call reaches an order service any more; their running
        // steps finish while every engine still takes their allocations.
        b.stop();
        own.orders
          .stop()
          .then(() => own.settlement.close())
          .then(() => {
            tell({ type: 'quiesced' });
          }, failed);
        return;
      case 'stop':
        stop().catch(failed);
        return;
    }
  });
  tell({ type: 'ready' });
}

async function collect(id: number): Promise<void> {
  const metrics = gateway === null ? [] : await gateway.metrics.getMetricsAsJSON();
  tell({ type: 'collected', id, metrics });
}

function registerForwarding(g: Gateway, router: ShardRouter): void {
  const m = collectedMetrics([g.metrics], () => ({
    ...router.linkStats(),
    forwarded: router.forwarded,
  }));
  m.counter(
    'stockflow_shard_forwarded_commands_total',
    'Commands a gateway sent to the worker whose shard owns their SKU',
    (s) => s.forwarded,
  );
  m.counter(
    'stockflow_shard_forward_messages_total',
    'Messages between workers (each carries every request and answer of an event-loop turn)',
    (s) => s.messages,
  );
}

function failed(error: unknown): void {
  log.fatal({ err: error }, 'shard worker failed');
  tell({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}

main().catch(failed);
