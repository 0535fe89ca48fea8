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

/**
 * Brings an engine to the last durable state: the newest whole snapshot, then every journal
 * record after it (records a snapshot chunk already contains are skipped by sequence). A torn or
 * corrupt journal tail ends replay there (the store logs and counts it): recovery never loops.
 * Afterwards the engine journals through the store.
 */
export async function recover(engine: Engine, store: Store, log: Logger): Promise<RecoveryReport> {
  const started = performance.now();
  engine.storage.holdExpiry();
  const snapshot = await store.loadSnapshot();
  let durableSeq = 0;
  if (snapshot !== null) {
    engine.storage.beginImport(snapshot.header);
    for await (const chunk of snapshot.chunks()) engine.storage.importChunk(chunk);
    durableSeq = Math.max(snapshot.coversSeq, snapshot.header.startSeq - 1);
  }
  const loaded = performance.now();
  let replayed = 0;
  let skipped = 0;
  for await (const batch of store.readJournal(snapshot?.header.startSeq ?? 1)) {
    const r = engine.storage.replay(batch);
    replayed += r.applied;
    skipped += r.skipped;
    if (r.lastSeq > durableSeq) durableSeq = r.lastSeq;
  }
  engine.storage.attachJournal(store, durableSeq);
  const stats = engine.stats();
  const report: RecoveryReport = {
    snapshotStartSeq: snapshot?.header.startSeq ?? null,
    skus: stats.skus,
    positions: stats.positions,
    recordsReplayed: replayed,
    recordsSkipped: skipped,
    durableSeq,
    ms: performance.now() - started,
    snapshotMs: loaded - started,
    replayMs: performance.now() - loaded,
    fresh: snapshot === null && replayed + skipped === 0,
  };
  log.info({ ...report, store: store.kind }, 'recovered');
  return report;
}
