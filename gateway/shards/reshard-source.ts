import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import type { EngineState } from '../../engine/index.ts';
import { OrderService } from '../../orders/index.ts';
import { loadStore, openStore } from '../../persistence/index.ts';
import { createEngine } from '../engine-start.ts';
import { orderSettings } from '../order-settings.ts';
import { shardPersistence } from './layout.ts';

/** The re-shard refused: nothing was changed. The message says why and what to do. */
export class ReshardError extends Error {
  override readonly name = 'ReshardError';
}

/** One shard of the layout being moved, as its store holds it. */
export interface SourceShard {
  readonly shard: number;
  readonly state: EngineState;
  /** Last sequence its store holds. */
  readonly durableSeq: number;
}

/**
 * Reads shard `k` of `count` into a fresh engine without attaching its journal (the source is
 * only read). The order service joins the engine's journal as the server's does, so order records
 * are replayed into it rather than skipped unseen: a shard holding any order, return or
 * settlement state is refused. Orders live in the journal of the shard their id hashes to, and
 * the re-shard moves stock only (docs/scaling.md, "Re-sharding (offline)").
 */
export async function readShard(
  config: Config,
  k: number,
  count: number,
  log: Logger,
): Promise<SourceShard> {
  const engine = createEngine(config, log);
  const orders = new OrderService({
    stock: engine.stock,
    clock: engine.clock,
    logger: log.child({ component: 'orders' }),
    ...orderSettings(config),
    notifyCustomers: false,
    transportFor: () => null,
    rankReservations: false,
  });
  const p = shardPersistence(config.persistence, k, count);
  const store = openStore(p, log.child({ component: 'store', shard: k }));
  await store.open();
  try {
    const loaded = await loadStore(engine, store);
    const state = engine.storage.exportState();
    // Every order in memory, whatever its state: its returns and settlement messages live in it.
    const held = orders.stats().orders;
    if (held > 0) {
      throw new ReshardError(
        `shard ${k} (${p.dir}) holds order state (${held} order(s) with their returns and ` +
          `settlement messages): the re-shard moves stock only, not orders (they live in the ` +
          `journal of the shard their id hashes to), so it cannot be re-sharded; nothing was changed`,
      );
    }
    return { shard: k, state, durableSeq: loaded.durableSeq };
  } finally {
    await orders.stop();
    await engine.stop();
    await store.close();
  }
}
