import type { RulesInput } from './channel-rules.ts';
import type { CommitPipeline } from './commit-pipeline.ts';
import { exportBook, type SkuState } from './engine-state.ts';
import type { ExtensionItem } from './journal.ts';
import type { LocationInput } from './master-data.ts';
import type { SkuBook } from './sku-book.ts';

/** One item of a snapshot chunk: a SKU book, or an item of a journal extension (an order). */
export type SnapshotItem = SkuState | ExtensionItem;

/** Tells a journal extension's item from a SKU book's state (books carry no `kind`). */
export function isExtensionItem(item: SnapshotItem): item is ExtensionItem {
  return 'kind' in item;
}

export interface SnapshotHeader {
  /** The state format of its items (STATE_FORMAT in engine-state.ts; 1 is still read). */
  readonly format: 1 | 2;
  readonly takenAt: number;
  /** Recovery replays the journal from this sequence on (records a chunk holds are skipped). */
  readonly startSeq: number;
  readonly metaLsn: number;
  readonly rules: RulesInput;
  readonly locations: readonly LocationInput[];
}

/** Walks the books, then every extension's items, a chunk at a time (see EngineStorage). */
export class SnapshotCursor {
  private maxLsn = 0;
  private readonly failuresAtStart: number;

  constructor(
    private readonly books: Iterator<SkuBook>,
    private readonly extensions: readonly Iterator<ExtensionItem>[],
    private readonly pipeline: CommitPipeline | null,
    readonly header: SnapshotHeader,
  ) {
    this.failuresAtStart = pipeline?.failures ?? 0;
    this.maxLsn = header.metaLsn;
  }

  /** The next up to `max` books (then extension items), or null when all were taken. */
  next(max: number): SnapshotItem[] | null {
    const out: SnapshotItem[] = [];
    while (out.length < max) {
      const step = this.books.next();
      if (step.done === true) break;
      const state = exportBook(step.value);
      if (state.lsn > this.maxLsn) this.maxLsn = state.lsn;
      out.push(state);
    }
    // Extension items (orders) are smaller than books: a chunk takes four times as many.
    for (const items of this.extensions) {
      while (out.length < max * 4) {
        const step = items.next();
        if (step.done === true) break;
        if (step.value.lsn > this.maxLsn) this.maxLsn = step.value.lsn;
        out.push(step.value);
      }
    }
    return out.length === 0 ? null : out;
  }

  /** Highest sequence any chunk contains: the snapshot is whole once the journal holds it. */
  get coversSeq(): number {
    return this.maxLsn;
  }

  /** False when a journal write failed since the start: chunks may hold changes taken back. */
  get valid(): boolean {
    return (this.pipeline?.failures ?? 0) === this.failuresAtStart;
  }
}
