import type { ChannelRules, RulesInput } from './channel-rules.ts';
import type { TimerHandle } from './clock.ts';
import type { CommandResult } from './commands.ts';
import { CommitPipeline } from './commit-pipeline.ts';
import type { EngineCore } from './engine-core.ts';
import { ErrorCode, Reason, StockflowError } from './errors.ts';
import type {
  ExtensionItem,
  ExtensionJournal,
  JournalEntry,
  JournalExtension,
  JournalRecord,
  JournalWriter,
} from './journal.ts';
import type { Envelope } from './partition-actors.ts';
import { rollback, type UndoBatch } from './undo-log.ts';

/** Journal state for readiness and metrics. */
export interface JournalState {
  readonly attached: boolean;
  readonly available: boolean;
  readonly durableSeq: number;
  readonly nextSeq: number;
}

/** Journal statistics for metrics. */
export interface JournalStats {
  commits: number;
  records: number;
  lastCommitMs: number;
  failures: number;
  resyncs: number;
}

/** The parts of the engine the link reaches back into (answers, rules). */
export interface LinkHost {
  deliver(envelope: Envelope, result: CommandResult): void;
  /** Rules from a journaled record, as a fresh ChannelRules at the next version. */
  rulesFrom(input: RulesInput): ChannelRules;
  isStopped(): boolean;
}

// Extensions are stored with their own record and item types; the link only routes to them.
type AnyExtension = JournalExtension<unknown, ExtensionItem>;

/**
 * The engine's side of the journal: group commit (CommitPipeline) once a store is attached, the
 * records of rules, master data and journal extensions, replay at recovery and after an outage,
 * and the resync loop that brings a failed store back. One link per engine.
 */
export class JournalLink {
  pipeline: CommitPipeline | null = null;
  readonly extensions = new Map<string, AnyExtension>();
  readonly stats: JournalStats = {
    commits: 0,
    records: 0,
    lastCommitMs: 0,
    failures: 0,
    resyncs: 0,
  };
  private readonly commitObservers: ((records: number, ms: number) => void)[] = [];
  private resyncTimer: TimerHandle | null = null;
  private resyncDelayMs = 100;

  constructor(
    private readonly core: EngineCore,
    private readonly host: LinkHost,
  ) {}

  get broken(): boolean {
    return this.pipeline?.broken === true;
  }

  /** From now on every change is journaled through `writer` and acknowledged once durable. */
  attach(writer: JournalWriter, durableSeq: number): void {
    if (this.pipeline !== null) {
      throw new StockflowError(ErrorCode.CONFLICT, 'journal already attached');
    }
    const pipeline = new CommitPipeline(
      writer,
      {
        rollback: (batch) => {
          this.rollback(batch);
        },
        deliver: (envelope, result) => {
          this.host.deliver(envelope, result);
        },
        failed: (error) => {
          this.stats.failures++;
          this.core.log.error(
            { err: error, durableSeq: pipeline.durableSeq },
            'journal write failed; refusing changes until the store is back',
          );
          this.scheduleResync(writer);
        },
        committed: (count, ms) => {
          this.stats.commits++;
          this.stats.records += count;
          this.stats.lastCommitMs = ms;
          for (const observe of this.commitObservers) observe(count, ms);
        },
      },
      durableSeq,
      () => this.core.clock.now(),
    );
    this.pipeline = pipeline;
    this.core.undo = pipeline.undo;
  }

  /** Registers a journal extension (before recovery); its records and items are routed by kind. */
  extend<R, S extends ExtensionItem>(extension: JournalExtension<R, S>): ExtensionJournal<R> {
    const kind = extension.kind;
    if (this.extensions.has(kind)) {
      throw new StockflowError(ErrorCode.CONFLICT, `journal extension ${kind} already registered`);
    }
    this.extensions.set(kind, extension);
    return {
      record: (record: R, revert: () => void): number =>
        this.recordExtension({ type: 'ext', kind, record }, revert),
    };
  }

  /** Refuses a change while the journal is down (master data, rules, extension records). */
  beforeChange(): void {
    if (this.broken) {
      throw new StockflowError(ErrorCode.UNAVAILABLE, 'the journal is unavailable; retry', {
        reason: Reason.STORE_UNAVAILABLE,
      });
    }
  }

  /** Journals a rules or master-data change just applied in memory. */
  recordMeta(entry: JournalEntry): void {
    const pipeline = this.pipeline;
    if (pipeline === null) return;
    this.core.undo?.metaLsn(this.core.metaLsn);
    this.core.metaLsn = pipeline.record(entry, this.core.clock.now());
  }

  private recordExtension(entry: JournalEntry, revert: () => void): number {
    this.beforeChange();
    if (this.host.isStopped()) {
      throw new StockflowError(ErrorCode.UNAVAILABLE, 'engine is stopped', {
        reason: Reason.STOPPED,
      });
    }
    const pipeline = this.pipeline;
    if (pipeline === null) return 0;
    this.core.undo?.custom(revert);
    return pipeline.record(entry, this.core.clock.now());
  }

  observeCommits(observe: (records: number, ms: number) => void): void {
    this.commitObservers.push(observe);
  }

  durable(): Promise<void> {
    return this.pipeline === null ? Promise.resolve() : this.pipeline.durable();
  }

  state(): JournalState {
    const p = this.pipeline;
    return {
      attached: p !== null,
      available: p === null || !p.broken,
      durableSeq: p?.durableSeq ?? 0,
      nextSeq: p?.nextSeq ?? 1,
    };
  }

  // ---- replay --------------------------------------------------------------------------------------

  /**
   * Applies journal records on top of the current state, in order, at the time each carries.
   * A record at or below its book's (or the master data's) sequence is already contained in the
   * state and skipped. Used by recovery (snapshot + journal tail) and after a journal outage.
   */
  replay(records: Iterable<JournalRecord>): { applied: number; skipped: number; lastSeq: number } {
    const core = this.core;
    const undo = core.undo;
    const ranker = core.ranker;
    core.undo = null;
    // A network reserve journaled without lines was split without a ranker: replay it the same way.
    core.ranker = null;
    let applied = 0;
    let skipped = 0;
    let lastSeq = 0;
    try {
      for (const record of records) {
        lastSeq = record.seq;
        core.frozenNow = record.at;
        if (this.replayOne(record)) applied++;
        else skipped++;
      }
    } finally {
      core.frozenNow = null;
      core.undo = undo;
      core.ranker = ranker;
    }
    return { applied, skipped, lastSeq };
  }

  private replayOne(record: JournalRecord): boolean {
    const core = this.core;
    const entry = record.entry;
    switch (entry.type) {
      case 'ext': {
        const extension = this.extensions.get(entry.kind);
        if (extension === undefined) {
          core.log.warn({ seq: record.seq, kind: entry.kind }, 'record of no extension; skipped');
          return false;
        }
        return extension.replay(entry.record, record.seq);
      }
      case 'rules':
      case 'locations':
      case 'products':
        if (record.seq <= core.metaLsn) return false;
        if (entry.type === 'rules') core.installRules(this.host.rulesFrom(entry.rules));
        else if (entry.type === 'locations') core.applyLocations(entry.locations);
        else core.applyProducts(entry.products);
        core.metaLsn = record.seq;
        return true;
      case 'command':
        break;
    }
    const cmd = entry.cmd;
    const book = core.bookOf(cmd);
    if (book === undefined) {
      core.log.warn({ seq: record.seq, op: cmd.op }, 'journal record names nothing known; skipped');
      return false;
    }
    if (record.seq <= book.lsn) return false;
    // Nearly every record is a granted reserve: applied without the live path's checks and answer.
    if (cmd.op === 'reserve' && book.replayReserve(cmd, core)) {
      book.lsn = record.seq;
      return true;
    }
    const index = core.reservationIndex;
    // As on the live path: the reserve's slot is looked up once and handed to the book.
    index.current = cmd.op === 'reserve' ? index.claim(cmd.reservationId, book) : null;
    try {
      book.apply(cmd, core);
    } finally {
      if (index.current !== null) index.release(index.current);
      index.current = null;
    }
    book.lsn = record.seq;
    return true;
  }

  // ---- failure and resync ------------------------------------------------------------------------------

  private rollback(batch: UndoBatch): void {
    const core = this.core;
    const undo = core.undo;
    core.undo = null;
    try {
      rollback(batch, core);
    } finally {
      core.undo = undo;
    }
  }

  private scheduleResync(writer: JournalWriter): void {
    const clock = this.core.clock;
    if (this.host.isStopped() || this.resyncTimer !== null) return;
    const delay = this.resyncDelayMs;
    this.resyncDelayMs = Math.min(delay * 2, 5_000);
    this.resyncTimer = clock.schedule(clock.now() + delay, () => {
      this.resyncTimer = null;
      const pipeline = this.pipeline;
      if (pipeline === null || this.host.isStopped()) return;
      writer.resync(pipeline.durableSeq).then(
        (records) => {
          const replayed = this.replay(records);
          pipeline.resume(records.length > 0 ? replayed.lastSeq : pipeline.durableSeq);
          this.core.rearmExpiry();
          this.resyncDelayMs = 100;
          this.stats.resyncs++;
          this.core.log.info(
            { replayed: replayed.applied, durableSeq: pipeline.durableSeq },
            'journal available again',
          );
        },
        (error: unknown) => {
          this.core.log.warn({ err: error }, 'journal still unavailable');
          this.scheduleResync(writer);
        },
      );
    });
  }

  /** Stops resyncing; waits for the last write, then answers what is still held UNAVAILABLE. */
  async stop(): Promise<void> {
    if (this.resyncTimer !== null) this.core.clock.cancel(this.resyncTimer);
    this.resyncTimer = null;
    if (this.pipeline !== null) {
      await this.pipeline.durable().catch(() => undefined);
      this.pipeline.abandon();
    }
  }
}
