import type { Logger } from 'pino';
import type { Clock, Engine, TimerHandle } from '../engine/index.ts';
import type { SnapshotInfo, Store } from './store.ts';

export interface SnapshotPolicy {
  /** Take a snapshot once this many records were journaled since the last one. */
  readonly everyRecords: number;
  /**
   * ...and, when greater, this percentage of what the last snapshot held (positions,
   * reservations, orders: SnapshotCursor.size), so that a snapshot's cost per journaled record
   * stays bounded as the state grows (Redis's auto-aof-rewrite-percentage does the same for its
   * AOF). 100 when omitted; 0: `everyRecords` alone.
   */
  readonly growthPercent?: number;
  /** ...or this much time passed with at least one record. */
  readonly everyMs: number;
  /** Books serialized per event-loop turn: bounds how long one turn is held. */
  readonly chunkBooks: number;
}

export interface SnapshotStats {
  taken: number;
  failed: number;
  lastMs: number;
  lastBytes: number;
  /** What the last snapshot held (SnapshotCursor.size); at start, the recovered state's size. */
  lastSize: number;
  /** Longest single turn spent serializing a chunk (what the event loop was held for). */
  longestChunkMs: number;
  lastStartSeq: number;
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Takes snapshots while the engine keeps serving: the books are serialized a chunk per turn, each
 * chunk carrying its books' journal sequences, so the snapshot is exact once the journal holds
 * every record any chunk contains. After a snapshot is whole, the journal before the previous
 * one is trimmed (the newest two snapshots and the journal from the older one stay).
 */
export class Snapshotter {
  readonly stats: SnapshotStats = {
    taken: 0,
    failed: 0,
    lastMs: 0,
    lastBytes: 0,
    lastSize: 0,
    longestChunkMs: 0,
    lastStartSeq: 0,
  };
  private timer: TimerHandle | null = null;
  private running: Promise<SnapshotInfo | null> | null = null;
  private lastSeq: number;
  private lastAt: number;
  private previousStartSeq: number;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly store: Store,
    private readonly policy: SnapshotPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Start sequence of the snapshot recovery used (0: none). */
    lastStartSeq: number,
  ) {
    this.lastSeq = engine.storage.journal().durableSeq;
    this.lastAt = clock.now();
    this.previousStartSeq = lastStartSeq;
    this.stats.lastStartSeq = lastStartSeq;
    const state = engine.stats();
    this.stats.lastSize = state.positions + state.reservations;
  }

  /** Records journaled since the last snapshot that make the next one due. */
  get threshold(): number {
    const growth = ((this.policy.growthPercent ?? 100) * this.stats.lastSize) / 100;
    return Math.max(this.policy.everyRecords, Math.ceil(growth));
  }

  start(): void {
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.schedule(this.clock.now() + 1_000, () => {
      this.timer = null;
      if (this.due())
        void this.take().finally(() => {
          this.arm();
        });
      else this.arm();
    });
  }

  private due(): boolean {
    const { durableSeq, available } = this.engine.storage.journal();
    if (!available || this.running !== null) return false;
    const pending = durableSeq - this.lastSeq;
    return (
      pending >= this.threshold ||
      (pending > 0 && this.clock.now() - this.lastAt >= this.policy.everyMs)
    );
  }

  /** Takes one snapshot now (or joins the one running). Resolves null when it had to be dropped. */
  take(): Promise<SnapshotInfo | null> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<SnapshotInfo | null> {
    const started = performance.now();
    const cursor = this.engine.storage.beginSnapshot();
    const writer = await this.store.beginSnapshot(cursor.header);
    try {
      for (;;) {
        const t0 = performance.now();
        const chunk = cursor.next(this.policy.chunkBooks);
        if (chunk === null) break;
        const write = writer.writeChunk(chunk);
        const held = performance.now() - t0;
        if (held > this.stats.longestChunkMs) this.stats.longestChunkMs = held;
        await write;
        await yieldTurn();
      }
      // Whole only once every record a chunk contains is durable, and none was taken back.
      await this.engine.durable();
      if (!cursor.valid || this.engine.storage.journal().durableSeq < cursor.coversSeq) {
        throw new Error('a journal write failed while the snapshot was taken');
      }
      const info = await writer.commit(cursor.coversSeq);
      await this.store.trim(this.previousStartSeq, 2);
      this.previousStartSeq = info.startSeq;
      this.lastSeq = cursor.header.startSeq - 1;
      this.lastAt = this.clock.now();
      this.stats.taken++;
      this.stats.lastMs = performance.now() - started;
      this.stats.lastBytes = info.bytes;
      this.stats.lastSize = cursor.size;
      this.stats.lastStartSeq = info.startSeq;
      this.log.info(
        { ...info, size: cursor.size, ms: Math.round(this.stats.lastMs) },
        'snapshot taken',
      );
      return info;
    } catch (error) {
      this.stats.failed++;
      await writer.abort().catch(() => undefined);
      this.log.warn({ err: error }, 'snapshot dropped');
      return null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.clock.cancel(this.timer);
    await this.running;
  }
}
