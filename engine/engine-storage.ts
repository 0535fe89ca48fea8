import type { ChannelRules, RulesInput } from './channel-rules.ts';
import type { EngineCore } from './engine-core.ts';
import {
  exportState,
  importBooks,
  STATE_FORMAT,
  type EngineState,
  type ReservationsPart,
  type SkuState,
} from './engine-state.ts';
import { ErrorCode, StockflowError } from './errors.ts';
import type { JournalLink, JournalState, JournalStats } from './journal-link.ts';
import type { JournalRecord, JournalWriter } from './journal.ts';
import type { SkuBook } from './sku-book.ts';
import {
  isExtensionItem,
  SnapshotCursor,
  type SnapshotHeader,
  type SnapshotItem,
} from './snapshot-cursor.ts';

/** What the storage face needs of the engine around it. */
export interface StorageHost {
  /** Commands accepted and not yet answered (an import needs none). */
  inflight(): number;
  rulesFrom(input: RulesInput): ChannelRules;
}

/**
 * The engine as persistence sees it: attach a journal, take snapshots a chunk at a time, and
 * recover (import a snapshot, replay the journal). Also the whole-state export and import that
 * tests and tools compare engines with.
 */
export class EngineStorage {
  constructor(
    private readonly core: EngineCore,
    private readonly link: JournalLink,
    private readonly host: StorageHost,
  ) {}

  /**
   * From now on every change is journaled through `writer` and acknowledged only once durable.
   * `durableSeq` is the last sequence the store holds (recovery replayed up to it).
   */
  attachJournal(writer: JournalWriter, durableSeq: number): void {
    this.link.attach(writer, durableSeq);
    this.core.expiry.release();
  }

  /**
   * Recovery is starting: no reservation expires until `attachJournal`. A replayed hold whose
   * time has passed would otherwise expire at the first await between two journal batches,
   * unjournaled, and a confirm of it later in the journal would be refused: recovery would no
   * longer equal what was acknowledged. Once attached, every overdue hold expires, journaled.
   */
  holdExpiry(): void {
    this.core.expiry.hold();
  }

  /** See JournalLink.replay. */
  replay(records: Iterable<JournalRecord>): { applied: number; skipped: number; lastSeq: number } {
    return this.link.replay(records);
  }

  /** Journal state for readiness and metrics. */
  journal(): JournalState {
    return this.link.state();
  }

  get journalStats(): Readonly<JournalStats> {
    return this.link.stats;
  }

  /** Calls `observe` after every group commit with its record count and write time (metrics). */
  observeCommits(observe: (records: number, ms: number) => void): void {
    this.link.observeCommits(observe);
  }

  /**
   * Starts a snapshot that is taken a chunk at a time between turns. Books keep changing
   * meanwhile; each chunk carries its books' sequences, so recovery replays exactly the records a
   * chunk does not contain.
   */
  beginSnapshot(): SnapshotCursor {
    const core = this.core;
    const pipeline = this.link.pipeline;
    return new SnapshotCursor(
      core.books.values(),
      [...this.link.extensions.values()].map((e) => e.snapshotItems()),
      pipeline,
      {
        format: STATE_FORMAT,
        takenAt: core.clock.now(),
        startSeq: pipeline?.nextSeq ?? 1,
        metaLsn: core.metaLsn,
        rules: core.rules.source,
        locations: core.locationList(),
      },
    );
  }

  /**
   * Starts replacing all state: rules, locations and the meta sequence from `header`, no books.
   * Follow with `importChunk` for the books (a snapshot is loaded chunk by chunk), then `replay`.
   */
  beginImport(header: Pick<SnapshotHeader, 'format' | 'rules' | 'locations' | 'metaLsn'>): void {
    if (this.host.inflight() > 0 || this.link.pipeline !== null) {
      throw new StockflowError(ErrorCode.CONFLICT, 'import needs an idle engine without a journal');
    }
    if (header.format > STATE_FORMAT) {
      // Read as an older format it would lose what the newer one added: refuse, change nothing.
      throw new StockflowError(
        ErrorCode.CONFLICT,
        `the state is in format ${header.format}, newer than this version reads (${STATE_FORMAT}): run the version that wrote it`,
      );
    }
    const core = this.core;
    core.installRules(this.host.rulesFrom(header.rules));
    core.clearBooks();
    for (const extension of this.link.extensions.values()) extension.clear();
    // Each location as the snapshot holds it: what it leaves out is the default, not kept.
    core.applyLocations(header.locations, true);
    core.metaLsn = header.metaLsn;
  }

  importChunk(items: readonly SnapshotItem[]): void {
    const core = this.core;
    const skus: (SkuState | ReservationsPart)[] = [];
    for (const item of items) {
      if (!isExtensionItem(item)) {
        skus.push(item);
        continue;
      }
      const extension = this.link.extensions.get(item.kind);
      if (extension === undefined) {
        core.log.warn({ kind: item.kind }, 'snapshot item of no extension; skipped');
      } else extension.importItem(item);
    }
    importBooks(skus, {
      addBook: (product) => {
        core.applyProducts([product]);
        return core.books.get(product.sku) as SkuBook;
      },
      book: (sku) => core.books.get(sku),
      location: (id) => core.locations.get(id),
      schedule: (reservation) => {
        core.expiry.schedule(reservation);
      },
      positionAdded: (p) => {
        core.positionAdded(p);
      },
      idempotencyWindow: core.idempotencyWindow,
      tombstoneTtlMs: core.tombstoneTtlMs,
      reservationTimes: core.reservationTimes,
    });
  }

  /** A consistent copy of every book's state (taken between actor turns, so nothing is half-done). */
  exportState(): EngineState {
    const core = this.core;
    return exportState(
      core.books.values(),
      core.rules.source,
      core.locationList(),
      core.clock.now(),
      core.metaLsn,
    );
  }

  /** Replaces all state with an exported one. Only valid on an idle engine without a journal. */
  importState(state: EngineState): void {
    this.beginImport(state);
    this.importChunk(state.skus);
  }
}
