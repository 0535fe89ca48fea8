import { ErrorCode, isValidId, Reason } from '../engine/index.ts';
import type { FeedRefusal } from './feed-ledger.ts';
import type { HttpExchange } from './http-exchange.ts';
import type { RouteKit } from './route-kit.ts';

/** What streams a body in: a LineFeed (stock feeds, master data). */
interface BodyParser {
  readonly fatal: string | null;
  push(bytes: Uint8Array): void;
  end(): void;
}

/** What applies the parsed rows a batch at a time: FeedRun, MasterRun. */
interface BatchRun {
  readonly busy: boolean;
  ready(ended: boolean): boolean;
  applyBatch(): Promise<void>;
}

/** What a feed route does around the shared streaming. */
export interface FeedBodyHooks {
  /** Each chunk as it arrives, before it is parsed (master data hashes the body). */
  readonly onChunk?: (chunk: Uint8Array) => void;
  /** The body is not a feed at all: nothing was applied; forget the feed and answer. */
  refuse(fatal: string): void;
  /** The body ended and every batch is applied: finish the result and answer. */
  finish(): Promise<void> | void;
}

/**
 * Whether the query's feed id may name a feed; answers 400 when not. `max` leaves room for
 * what a kind of feed adds to it (stock delta rows append `#<line>`).
 */
export function checkFeedId(ex: HttpExchange, feedId: string, max: number): boolean {
  if (isValidId(feedId) && feedId.length <= max) return true;
  ex.error(
    ErrorCode.BAD_REQUEST,
    `feedId must be 1-${max} printable characters other than : and @`,
    { reason: Reason.INVALID_ID },
  );
  return false;
}

/** Answers why a feed id cannot start now (CONFLICT); `otherFeed` says what differed. */
export function answerRefusal(
  ex: HttpExchange,
  feedId: string,
  refused: FeedRefusal,
  otherFeed: string,
): void {
  ex.error(
    ErrorCode.CONFLICT,
    refused === 'in_progress'
      ? `feed ${feedId} is being applied now`
      : `feed ${feedId} was ${otherFeed}`,
    { reason: refused === 'in_progress' ? Reason.FEED_IN_PROGRESS : Reason.ID_REUSED },
  );
}

/**
 * Streams a feed's body into `parser` and applies it through `run` a batch at a time, the body
 * paused while a batch is in the engine, so a feed of any size never sits in memory whole. One
 * loop for every kind of feed: the pause/resume and end-of-body cases are easy to get wrong.
 */
export function streamFeedBody(
  ex: HttpExchange,
  kit: RouteKit,
  limit: number,
  parser: BodyParser,
  run: BatchRun,
  hooks: FeedBodyHooks,
): void {
  let ended = false;
  let paused = false;
  // Read through a function: the exchange may be aborted while a batch is awaited.
  const gone = (): boolean => ex.aborted;
  const drain = async (): Promise<void> => {
    while (!gone() && run.ready(ended)) {
      // Nothing is applied until the first batch is known to be a feed at all.
      if (parser.fatal !== null) return;
      await run.applyBatch();
      // Let the sockets' traffic in before the next batch: a feed must not starve a sale.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (gone()) return;
    if (paused) {
      // Also when the body has ended meanwhile: a paused socket would never read the next
      // request on the same keep-alive connection.
      paused = false;
      ex.res.resume();
    }
    if (!ended) return;
    await hooks.finish();
  };
  ex.readBody(limit, (chunk, isLast) => {
    hooks.onChunk?.(chunk);
    parser.push(chunk);
    if (isLast) {
      ended = true;
      parser.end();
    }
    if (parser.fatal !== null) {
      hooks.refuse(parser.fatal);
      return false;
    }
    if (run.busy || !run.ready(ended)) {
      // A batch is in the engine (its end picks these rows up), or too few rows yet.
      if (ended && !run.busy) kit.after(ex, drain(), () => undefined);
      return true;
    }
    if (!ended) {
      paused = true;
      ex.res.pause();
    }
    kit.after(ex, drain(), () => undefined);
    return true;
  });
}
