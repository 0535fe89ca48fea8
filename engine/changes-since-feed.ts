/**
 * The relative onHand changes a position recorded since its last absolute feed (shipments,
 * restocks, deltas), each with its time, so that a snapshot counted before them but applied after
 * them does not undo them: a row with as-of T sets `onHand = row + (changes after T)` and drops
 * the changes at or before T (the count already saw them). Manhattan and Fluent keep the same
 * "pending deductions since the snapshot".
 *
 * A ledger is an immutable flat array, `[floor, t1, d1, t2, d2, ...]`, and null when empty, so a
 * position without such changes pays one null field. Every change makes a new array: the undo log
 * then only keeps the previous reference, and reserve, release and confirm (which never touch
 * onHand) never see a ledger at all.
 *
 * Times are epoch milliseconds: the engine's clock for shipments and restocks, a delta's own
 * `asOf` when it is one. A feed's `asOf` is "the source's sequence or timestamp"; only one that is
 * a plausible epoch-ms timestamp can be compared with them (see isEpochMs).
 */
export type ChangeLedger = readonly number[];

/** Changes kept per position at most; past it the oldest is forgotten and `floor` moves up. */
export const MAX_CHANGES_SINCE_FEED = 32;

/** 2001-09-09 and 2286-11-20 in epoch ms: seconds (about 1.7e9 today), microseconds (1.7e15)
 * and small sequences all fall outside, so none of them is taken for a time in ms. */
const EPOCH_MS_MIN = 1_000_000_000_000;
const EPOCH_MS_MAX = 10_000_000_000_000;

/** True when an `asOf` reads as a timestamp in epoch milliseconds (not a sequence, not seconds). */
export function isEpochMs(asOf: number): boolean {
  return asOf >= EPOCH_MS_MIN && asOf < EPOCH_MS_MAX;
}

/**
 * The ledger with one more change at time `at`, or the same ledger when the change is not kept:
 * a change at or before the newest applied feed is in that feed's count already, and a position
 * whose newest feed is a sequence (or that has had none: a location fed only by deltas) has no
 * count to compare a time with, so it keeps nothing.
 */
export function withChange(
  ledger: ChangeLedger | null,
  feedAsOf: number,
  at: number,
  delta: number,
): ChangeLedger | null {
  if (!isEpochMs(feedAsOf) || at <= feedAsOf) return ledger;
  if (ledger === null) return [-Infinity, at, delta];
  const next = ledger.slice();
  next.push(at, delta);
  if (next.length > 1 + 2 * MAX_CHANGES_SINCE_FEED) forgetOldest(next);
  return next;
}

/** Drops the change with the earliest time (in place, on a fresh copy) and raises the floor. */
function forgetOldest(ledger: number[]): void {
  let oldest = 1;
  for (let i = 3; i < ledger.length; i += 2) {
    if ((ledger[i] as number) < (ledger[oldest] as number)) oldest = i;
  }
  ledger[0] = Math.max(ledger[0] as number, ledger[oldest] as number);
  ledger.splice(oldest, 2);
}

/**
 * The latest time the ledger can no longer account for (-Infinity when nothing was forgotten): a
 * feed older than it may predate a forgotten change, so it cannot be compensated.
 */
export function floorOf(ledger: ChangeLedger): number {
  return ledger[0] as number;
}

/** What the changes after `asOf` add up to: what a count taken at `asOf` has not seen. */
export function sumAfter(ledger: ChangeLedger, asOf: number): number {
  let sum = 0;
  for (let i = 1; i < ledger.length; i += 2) {
    if ((ledger[i] as number) > asOf) sum += ledger[i + 1] as number;
  }
  return sum;
}

/** The changes after `asOf` (a feed at `asOf` was applied), or null when none is left. */
export function keptAfter(ledger: ChangeLedger, asOf: number): ChangeLedger | null {
  const next: number[] = [-Infinity];
  for (let i = 1; i < ledger.length; i += 2) {
    const at = ledger[i] as number;
    if (at > asOf) next.push(at, ledger[i + 1] as number);
  }
  return next.length === 1 ? null : next;
}
