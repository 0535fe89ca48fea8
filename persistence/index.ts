// The persistence folder's public face.
export { FILE_STORE_ENTRIES, FileStore, fileStoreHoldsState } from './file-store.ts';
export { openStore } from './open-store.ts';
export { RedisStore } from './redis-store.ts';
export type { RedisStoreOptions } from './redis-store.ts';
export type { FileStoreOptions } from './file-store.ts';
export { loadStore, recover } from './recovery.ts';
export type { LoadedState, RecoveryReport } from './recovery.ts';
export { Snapshotter } from './snapshotter.ts';
export type { SnapshotPolicy, SnapshotStats } from './snapshotter.ts';
export { PersistenceError } from './persistence-error.ts';
export { registerPersistenceMetrics } from './persistence-metrics.ts';
export { replyErrorKind } from './redis-calls.ts';
export type {
  LoadedSnapshot,
  SnapshotInfo,
  SnapshotWriter,
  Store,
  StoreHealth,
  StoreStats,
} from './store.ts';
