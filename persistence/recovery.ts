import type { Logger } from 'pino';
import type { Engine } from '../engine/index.ts';
import type { Store } from './store.ts';

export interface RecoveryReport {
  /** Start sequence of the snapshot recovery began from, or null without one. */
  readonly snapshotStartSeq: number | null;
  readonly skus: number;
  readonly positions: number;
  readonly recordsReplayed: number;
  readonly recordsSkipped: number;
  /** Last durable sequence: new records continue after it. */
  readonly durableSeq: number;
  readonly ms: number;
  /** Of which loading the snapshot, and replaying the journal. */
  readonly snapshotMs: number;
  readonly replayMs: number;
  /** True when the store held nothing: the engine keeps its configured starting state. */
  readonly fresh: boolean;
}

/** What loading a store's state into an engine found (see loadStore). */
export interface LoadedState {
  readonly snapshotStartSeq: number | null;
  readonly recordsReplayed: number;
  readonly recordsSkipped: number;
  /** Last sequence the store holds: new records must continue after it. */
  readonly durableSeq: number;
  readonly snapshotMs: number;
}

/**
 * Loads the newest whole snapshot, then replays every journal record after it (records a
 * snapshot chunk already contains are skipped by sequence), without attaching the journal: the
 * engine is left with expiry held and writes nothing to the store (recovery attaches; the offline
 * re-shard only reads). A torn or corrupt journal tail ends replay there (the store logs and
 * counts it).
 */
export async function loadStore(engine: Engine, store: Store): Promise<LoadedState> {
  const started = performance.now();
  engine.storage.holdExpiry();
  const snapshot = await store.loadSnapshot();
  let durableSeq = 0;
  if (snapshot !== null) {
    engine.storage.beginImport(snapshot.header);
    for await (const chunk of snapshot.chunks()) engine.storage.importChunk(chunk);
    durableSeq = Math.max(snapshot.coversSeq, snapshot.header.startSeq - 1);
  }
  const snapshotMs = performance.now() - started;
  let replayed = 0;
  let skipped = 0;
  for await (const batch of store.readJournal(snapshot?.header.startSeq ?? 1)) {
    const r = engine.storage.replay(batch);
    replayed += r.applied;
    skipped += r.skipped;
    if (r.lastSeq > durableSeq) durableSeq = r.lastSeq;
  }
  return {
    snapshotStartSeq: snapshot?.header.startSeq ?? null,
    recordsReplayed: replayed,
    recordsSkipped: skipped,
    durableSeq,
    snapshotMs,
  };
}

/**
 * Brings an engine to the last durable state (loadStore), then journals through the store:
 * recovery never loops on a torn tail, and held expiry is released once attached.
 */
export async function recover(engine: Engine, store: Store, log: Logger): Promise<RecoveryReport> {
  const started = performance.now();
  const loaded = await loadStore(engine, store);
  engine.storage.attachJournal(store, loaded.durableSeq);
  const stats = engine.stats();
  const ms = performance.now() - started;
  const report: RecoveryReport = {
    snapshotStartSeq: loaded.snapshotStartSeq,
    skus: stats.skus,
    positions: stats.positions,
    recordsReplayed: loaded.recordsReplayed,
    recordsSkipped: loaded.recordsSkipped,
    durableSeq: loaded.durableSeq,
    ms,
    snapshotMs: loaded.snapshotMs,
    replayMs: ms - loaded.snapshotMs,
    fresh: loaded.snapshotStartSeq === null && loaded.recordsReplayed + loaded.recordsSkipped === 0,
  };
  log.info({ ...report, store: store.kind }, 'recovered');
  return report;
}
