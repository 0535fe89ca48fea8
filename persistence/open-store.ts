import type { Logger } from 'pino';
import type { PersistenceConfig } from '../config/index.ts';
import { FileStore } from './file-store.ts';
import { RedisStore } from './redis-store.ts';
import type { Store } from './store.ts';

/** The store the configuration names ('memory' has none: the caller skips persistence). */
export function openStore(config: PersistenceConfig, log: Logger): Store {
  if (config.store === 'redis') {
    return new RedisStore(
      {
        url: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        strict: config.redis.strict,
        commandTimeoutMs: config.redis.commandTimeoutMs,
        connectTimeoutMs: config.redis.connectTimeoutMs,
      },
      log,
    );
  }
  return new FileStore(
    { dir: config.dir, fsync: config.fsync, segmentBytes: config.segmentBytes },
    log,
  );
}
