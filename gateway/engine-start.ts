import type { Logger } from 'pino';
import type { Config, PersistenceConfig } from '../config/index.ts';
import { StockEngine } from '../engine/index.ts';
import {
  openStore,
  recover,
  registerPersistenceMetrics,
  Snapshotter,
  type RecoveryReport,
  type Store,
} from '../persistence/index.ts';
import type { Registry } from 'prom-client';
import type { Readiness } from './context.ts';
import type { RedisStreamFeed } from './stream-feed.ts';

/**
 * The engine and its persistence as the main thread (one worker) and every shard's worker start
 * them: the same steps, on the whole persistence configuration or on one shard's part of it.
 */

export function createEngine(config: Config, log: Logger): StockEngine {
  return new StockEngine({
    ...config.engine,
    rules: config.rules,
    locations: config.locations,
    products: config.products,
    logger: log.child({ component: 'engine' }),
  });
}

export interface Persisted {
  readonly store: Store | null;
  readonly snapshotter: Snapshotter | null;
  readonly recovery: RecoveryReport | null;
}

/**
 * Opens the store, recovers the engine from it (whatever joined the engine's journal, such as
 * the order service, must have joined before) and starts the snapshotter. The memory store has
 * none of these.
 */
export async function openPersistence(
  engine: StockEngine,
  config: Config,
  persistence: PersistenceConfig,
  log: Logger,
): Promise<Persisted> {
  if (persistence.store === 'memory') return { store: null, snapshotter: null, recovery: null };
  const store = openStore(persistence, log.child({ component: 'store' }));
  await store.open();
  const recovery = await recover(engine, store, log);
  if (!recovery.fresh) {
    // Rules live in the store once it has state (they change through the API); locations and
    // products from the config are upserted, so adding one to the file takes effect.
    engine.upsertLocations(config.locations);
    engine.upsertProducts(config.products);
    await engine.durable();
  }
  const snapshotter = new Snapshotter(
    engine,
    store,
    {
      everyRecords: persistence.snapshotEveryRecords,
      growthPercent: persistence.snapshotGrowthPercent,
      everyMs: persistence.snapshotEverySeconds * 1000,
      chunkBooks: persistence.snapshotChunkBooks,
    },
    engine.clock,
    log.child({ component: 'snapshot' }),
    recovery.snapshotStartSeq ?? 0,
  );
  snapshotter.start();
  return { store, snapshotter, recovery };
}

export function registerPersisted(registry: Registry, engine: StockEngine, p: Persisted): void {
  if (p.store !== null && p.snapshotter !== null && p.recovery !== null) {
    registerPersistenceMetrics(registry, engine, p.store, p.snapshotter, p.recovery);
  }
}

/** What /readyz says of the engine's store and journal (and the stream feed, where one runs). */
export function storeReadiness(
  config: Config,
  engine: StockEngine,
  persisted: Persisted,
  streamFeed: RedisStreamFeed | null,
): Readiness {
  const journal = engine.storage.journal();
  const health = persisted.store?.health() ?? { ready: true, detail: 'memory (no persistence)' };
  // The stream feed is an input like an HTTP feed: Redis away delays stock updates but leaves
  // every answer correct, so it shows in the detail and keeps the server ready.
  return {
    ready: health.ready && journal.available,
    detail: {
      store: config.persistence.store,
      storeDetail: health.detail,
      journal,
      ...(streamFeed === null ? {} : { streamFeed: streamFeed.health() }),
    },
  };
}
