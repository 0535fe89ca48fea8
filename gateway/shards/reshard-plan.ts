import type { EngineState, SkuState, SnapshotHeader } from '../../engine/index.ts';
import { shardOf } from './layout.ts';
import { ReshardError, type SourceShard } from './reshard-source.ts';

/** What each new shard's snapshot holds, and the sequence its journal continues after. */
export interface ReshardPlan {
  readonly header: SnapshotHeader;
  /** Highest sequence of the old layout: the new journals continue after it. */
  readonly coversSeq: number;
  /** Per new shard: its own SKUs' books whole, every other SKU as its product only. */
  readonly shards: readonly (readonly SkuState[])[];
  /** Every SKU's book as its old owner held it (what verification compares with). */
  readonly books: ReadonlyMap<string, SkuState>;
}

/** A book of another shard's SKU: the product (every shard knows every product), no stock. */
export function productOnly(book: SkuState): SkuState {
  return { ...book, positions: [], reservations: [], recentOps: [] };
}

const holdsStock = (book: SkuState): boolean =>
  book.positions.length > 0 || book.reservations.length > 0;

/**
 * Every SKU's book from the old shard that owns it. A SKU with stock on a shard that does not
 * own it means the layout is not what its count says: refused rather than guessed.
 */
function ownerBooks(sources: readonly SourceShard[], from: number): Map<string, SkuState> {
  const books = new Map<string, SkuState>();
  for (const source of sources) {
    for (const book of source.state.skus) {
      const owner = shardOf(book.sku, from) === source.shard;
      if (owner) books.set(book.sku, book);
      else if (holdsStock(book)) {
        throw new ReshardError(
          `SKU ${book.sku} has stock on shard ${source.shard}, which does not own it in a ` +
            `layout of ${from}: the data does not match its recorded shard count; nothing was changed`,
        );
      } else if (!books.has(book.sku)) books.set(book.sku, book);
    }
  }
  return books;
}

/** Rules and locations: every shard holds the same; refused when they differ. */
function masterData(sources: readonly SourceShard[]): EngineState {
  const first = (sources[0] as SourceShard).state;
  const same = JSON.stringify([first.rules, first.locations]);
  for (const s of sources) {
    if (JSON.stringify([s.state.rules, s.state.locations]) !== same) {
      throw new ReshardError(
        `shard ${s.shard} holds other rules or locations than shard 0: start the server with ` +
          `its current count and set them again before re-sharding; nothing was changed`,
      );
    }
  }
  return first;
}

/** Splits the old shards' state into `to` new shards (shardOf(sku, to)). */
export function planReshard(
  sources: readonly SourceShard[],
  from: number,
  to: number,
  now: number,
): ReshardPlan {
  const first = masterData(sources);
  const books = ownerBooks(sources, from);
  let coversSeq = 0;
  let metaLsn = 0;
  for (const s of sources) {
    coversSeq = Math.max(coversSeq, s.durableSeq, s.state.metaLsn);
    metaLsn = Math.max(metaLsn, s.state.metaLsn);
  }
  const shards: SkuState[][] = Array.from({ length: to }, () => []);
  for (const book of books.values()) {
    coversSeq = Math.max(coversSeq, book.lsn);
    const owner = shardOf(book.sku, to);
    shards.forEach((list, k) => list.push(k === owner ? book : productOnly(book)));
  }
  const header: SnapshotHeader = {
    format: first.format,
    takenAt: now,
    startSeq: coversSeq + 1,
    metaLsn,
    rules: first.rules,
    locations: first.locations,
  };
  return { header, coversSeq, shards, books };
}

/** A book as comparable text: reservations in id order (their order in a book is not state). */
export function bookText(book: SkuState): string {
  const reservations = [...book.reservations].sort((a, b) => (a.id < b.id ? -1 : 1));
  return JSON.stringify({ ...book, reservations });
}

export interface ShardTotals {
  readonly skus: number;
  readonly positions: number;
  readonly onHand: number;
  readonly heldReservations: number;
}

/** What a new shard holds of its own SKUs (for the report). */
export function totals(books: readonly SkuState[]): ShardTotals {
  let skus = 0;
  let positions = 0;
  let onHand = 0;
  let heldReservations = 0;
  for (const b of books) {
    if (!holdsStock(b)) continue;
    skus++;
    positions += b.positions.length;
    for (const p of b.positions) onHand += p.onHand;
    for (const r of b.reservations) if (r.state === 'held') heldReservations++;
  }
  return { skus, positions, onHand, heldReservations };
}
