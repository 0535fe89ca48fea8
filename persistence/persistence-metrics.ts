import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Engine } from '../engine/index.ts';
import type { RecoveryReport } from './recovery.ts';
import type { Snapshotter } from './snapshotter.ts';
import type { Store } from './store.ts';

/**
 * Persistence metrics on the gateway's registry: journal write latency and group-commit size
 * (observed per commit), snapshot duration and size, recovery time and counts, store errors.
 */
export function registerPersistenceMetrics(
  registry: Registry,
  engine: Engine,
  store: Store,
  snapshotter: Snapshotter,
  recovery: RecoveryReport,
): void {
  const registers = [registry];
  const writeSeconds = new Histogram({
    name: 'stockflow_journal_write_seconds',
    help: 'Time to make one group commit durable',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const groupSize = new Histogram({
    name: 'stockflow_journal_group_commit_records',
    help: 'Records written by one group commit',
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
    registers,
  });
  const records = new Counter({
    name: 'stockflow_journal_records_total',
    help: 'Journal records made durable',
    registers,
  });
  engine.storage.observeCommits((count, ms) => {
    writeSeconds.observe(ms / 1000);
    groupSize.observe(count);
    records.inc(count);
  });
  new Gauge({
    name: 'stockflow_journal_durable_seq',
    help: 'Sequence of the last durable journal record',
    registers,
    collect() {
      this.set(engine.storage.journal().durableSeq);
    },
  });
  new Gauge({
    name: 'stockflow_journal_available',
    help: '1 while journal writes succeed, 0 while state changes are refused',
    registers,
    collect() {
      this.set(engine.storage.journal().available ? 1 : 0);
    },
  });
  new Gauge({
    name: 'stockflow_store_errors',
    help: 'Store errors since start, by kind',
    labelNames: ['kind'],
    registers,
    collect() {
      const s = store.stats();
      this.set({ kind: 'append' }, s.appendErrors);
      this.set({ kind: 'corrupt_record' }, s.corruptRecords);
      this.set({ kind: 'corrupt_snapshot' }, s.corruptSnapshots);
      this.set({ kind: 'journal_failure' }, engine.storage.journalStats.failures);
    },
  });
  new Gauge({
    name: 'stockflow_snapshot_last_seconds',
    help: 'Duration of the last snapshot',
    registers,
    collect() {
      this.set(snapshotter.stats.lastMs / 1000);
    },
  });
  new Gauge({
    name: 'stockflow_snapshot_last_bytes',
    help: 'Size of the last snapshot',
    registers,
    collect() {
      this.set(snapshotter.stats.lastBytes);
    },
  });
  new Gauge({
    name: 'stockflow_snapshot_longest_turn_seconds',
    help: 'Longest event-loop turn spent serializing one snapshot chunk',
    registers,
    collect() {
      this.set(snapshotter.stats.longestChunkMs / 1000);
    },
  });
  new Gauge({
    name: 'stockflow_snapshots',
    help: 'Snapshots since start, by outcome',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.set({ outcome: 'taken' }, snapshotter.stats.taken);
      this.set({ outcome: 'dropped' }, snapshotter.stats.failed);
    },
  });
  new Gauge({
    name: 'stockflow_recovery_seconds',
    help: 'Time the last start spent recovering state',
    registers,
  }).set(recovery.ms / 1000);
  new Gauge({
    name: 'stockflow_recovery_records',
    help: 'Journal records replayed at the last start',
    registers,
  }).set(recovery.recordsReplayed);
}
