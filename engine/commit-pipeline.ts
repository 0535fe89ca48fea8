import type { CommandResult } from './commands.ts';
import { ErrorCode, Reason } from './errors.ts';
import type { JournalEntry, JournalRecord, JournalWriter } from './journal.ts';
import type { Envelope } from './partition-actors.ts';
import { fail } from './results.ts';
import type { SkuBook } from './sku-book.ts';
import { RefillList } from './refill-list.ts';
import { UndoBatch, UndoLog } from './undo-log.ts';

const EMPTY_UNDO = new UndoBatch();

/**
 * One group commit: the records of every command applied while the previous one was written.
 * Windows are reused (two take turns), their held replies in lists that keep their capacity.
 * `records` is handed to the writer, so it is a new array each time.
 */
class Window {
  records: JournalRecord[] = [];
  /** Held replies as two parallel lists (no object per reply). */
  readonly envelopes = new RefillList<Envelope>();
  readonly results = new RefillList<CommandResult>();
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  undo: UndoBatch = EMPTY_UNDO;

  get empty(): boolean {
    return this.records.length === 0 && this.envelopes.length === 0 && this.waiters.length === 0;
  }

  /** Ready for another write: nothing it answered stays referenced. */
  reset(): void {
    this.records = [];
    this.envelopes.clear();
    this.results.clear();
    this.waiters.length = 0;
    this.undo = EMPTY_UNDO;
  }
}

const UNAVAILABLE: CommandResult = Object.freeze(
  fail(
    ErrorCode.UNAVAILABLE,
    Reason.STORE_UNAVAILABLE,
    'the journal is unavailable; not applied, retry',
  ),
);

export interface PipelineHooks {
  /** Takes changes back out of memory, newest first. */
  rollback(batch: UndoBatch): void;
  deliver(envelope: Envelope, result: CommandResult): void;
  /** The store failed: the engine refuses commands until `resync` succeeds. */
  failed(error: unknown): void;
  /** A write completed: `count` records in `ms`. */
  committed(count: number, ms: number): void;
}

/**
 * Group commit. Every record applied while one write is in flight joins the next write, so the
 * store sees one append per write cycle however many commands ran; replies are held until the
 * write that covers them (and every write before it) is durable. A command that changed nothing
 * (a refusal, a duplicate) is held too: it was decided on state that may still be taken back.
 */
export class CommitPipeline {
  readonly undo = new UndoLog<SkuBook>();
  private current = new Window();
  private inflight: Window | null = null;
  /** A window whose write is done, for the next one. */
  private spare: Window | null = null;
  private scheduled = false;
  nextSeq: number;
  durableSeq: number;
  /** True from a failed write until resync succeeds. */
  broken = false;
  /** Bumped at every failure, so work that spans writes (a snapshot) can tell. */
  failures = 0;
  private readonly flushTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly writer: JournalWriter,
    private readonly hooks: PipelineHooks,
    durableSeq: number,
    private readonly now: () => number,
  ) {
    this.durableSeq = durableSeq;
    this.nextSeq = durableSeq + 1;
  }

  /** Records a change applied in memory; returns its sequence number. */
  record(entry: JournalEntry, at: number): number {
    const seq = this.nextSeq++;
    this.current.records.push({ seq, at, entry });
    this.schedule();
    return seq;
  }

  hold(envelope: Envelope, result: CommandResult): void {
    this.current.envelopes.push(envelope);
    this.current.results.push(result);
    this.schedule();
  }

  /** Resolves once everything recorded so far is durable; rejects if that write fails. */
  durable(): Promise<void> {
    if (this.current.empty && this.inflight === null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.current.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  get idle(): boolean {
    return this.inflight === null && this.current.empty;
  }

  private schedule(): void {
    if (this.scheduled || this.inflight !== null) return;
    this.scheduled = true;
    // Joins every record applied in this event-loop turn (all partitions) into one write.
    setImmediate(this.flushTurn);
  }

  private flush(): void {
    if (this.inflight !== null || this.current.empty) return;
    const window = this.current;
    window.undo = this.undo.take();
    this.current = this.fresh();
    if (window.records.length === 0) {
      this.release(window);
      this.retire(window);
      return;
    }
    this.inflight = window;
    const started = this.now();
    this.writer.append(window.records).then(
      () => {
        this.inflight = null;
        this.durableSeq = (window.records[window.records.length - 1] as JournalRecord).seq;
        this.hooks.committed(window.records.length, this.now() - started);
        this.release(window);
        this.retire(window);
        this.flush();
      },
      (error: unknown) => {
        this.inflight = null;
        this.fail(window, error);
      },
    );
  }

  private fresh(): Window {
    const w = this.spare ?? new Window();
    this.spare = null;
    return w;
  }

  /** `window` is answered: it becomes the next one. */
  private retire(window: Window): void {
    window.reset();
    this.spare = window;
  }

  private release(window: Window): void {
    const { envelopes, results } = window;
    for (let i = 0; i < envelopes.length; i++) {
      this.hooks.deliver(envelopes.at(i), results.at(i));
    }
    for (const w of window.waiters) w.resolve();
    // Durable: its changes will never be taken back.
    if (window.undo !== EMPTY_UNDO) this.undo.recycle(window.undo);
    window.undo = EMPTY_UNDO;
  }

  /** The write of `window` failed: everything from it on is taken back and answered UNAVAILABLE. */
  private fail(window: Window, error: unknown): void {
    this.broken = true;
    this.failures++;
    const later = this.current;
    later.undo = this.undo.take();
    this.current = this.fresh();
    this.hooks.rollback(later.undo);
    this.hooks.rollback(window.undo);
    this.nextSeq = this.durableSeq + 1;
    for (const w of [window, later]) {
      for (let i = 0; i < w.envelopes.length; i++)
        this.hooks.deliver(w.envelopes.at(i), UNAVAILABLE);
      for (const waiter of w.waiters) waiter.reject(error);
    }
    this.retire(window);
    this.hooks.failed(error);
  }

  /** The store is back and `records` (what reached it anyway) were applied by the engine. */
  resume(lastSeq: number): void {
    this.durableSeq = lastSeq;
    this.nextSeq = lastSeq + 1;
    this.broken = false;
  }

  /** Answers every held reply UNAVAILABLE (shutdown after a failure). */
  abandon(): void {
    const w = this.current;
    this.current = this.fresh();
    for (let i = 0; i < w.envelopes.length; i++) this.hooks.deliver(w.envelopes.at(i), UNAVAILABLE);
    for (const waiter of w.waiters) waiter.reject(new Error('engine stopped'));
  }
}
