import type {
  JournalRecord,
  JournalWriter,
  SnapshotItem,
  SnapshotHeader,
} from '../engine/index.ts';

/**
 * One durable store behind the engine: a journal of records (the engine's JournalWriter port)
 * plus snapshots. Two implementations: the embedded file store (the default, no server needed)
 * and Redis (production, one stream and one snapshot set per shard).
 */
export interface Store extends JournalWriter {
  readonly kind: 'file' | 'redis';
  /** Connects / opens files and checks the store's settings. Throws PersistenceError. */
  open(): Promise<void>;
  /** The newest whole snapshot, or null. A torn or corrupt one is skipped (logged, counted). */
  loadSnapshot(): Promise<LoadedSnapshot | null>;
  /**
   * Journal records with seq >= fromSeq, in order, in batches. A torn or corrupt record ends the
   * journal there (logged, counted in `stats().corruptRecords`); nothing after it is returned.
   */
  readJournal(fromSeq: number): AsyncIterable<readonly JournalRecord[]>;
  /** Starts writing a snapshot; it is only ever loaded after `commit`. */
  beginSnapshot(header: SnapshotHeader): Promise<SnapshotWriter>;
  /** Drops journal records below `beforeSeq` and every snapshot but the newest `keep`. */
  trim(beforeSeq: number, keep: number): Promise<void>;
  /** Whether appends can be expected to succeed now, with a reason for readiness probes. */
  health(): StoreHealth;
  stats(): StoreStats;
  close(): Promise<void>;
}

export interface SnapshotWriter {
  writeChunk(items: readonly SnapshotItem[]): Promise<void>;
  /** Makes the snapshot whole and visible. `coversSeq`: highest record sequence it contains. */
  commit(coversSeq: number): Promise<SnapshotInfo>;
  abort(): Promise<void>;
}

export interface SnapshotInfo {
  readonly startSeq: number;
  readonly coversSeq: number;
  readonly bytes: number;
  readonly chunks: number;
}

export interface LoadedSnapshot {
  readonly header: SnapshotHeader;
  readonly coversSeq: number;
  /** The books, chunk by chunk, in the order written. */
  chunks(): AsyncIterable<readonly SnapshotItem[]> | Iterable<readonly SnapshotItem[]>;
}

export interface StoreHealth {
  readonly ready: boolean;
  readonly detail: string;
}

export interface StoreStats {
  /** Records found torn or corrupt at recovery (the journal ends before them). */
  readonly corruptRecords: number;
  /** Snapshots skipped at load because they were torn or corrupt. */
  readonly corruptSnapshots: number;
  readonly appendErrors: number;
  readonly bytesAppended: number;
}
