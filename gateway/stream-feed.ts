import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RedisStreamFeedConfig } from '../config/index.ts';
import { ErrorCode, type Engine } from '../engine/index.ts';
import { replyErrorKind } from '../persistence/index.ts';
import { newFeedResult, type RejectedRow } from './feed-ledger.ts';
import { FeedParser } from './feed-parser.ts';
import { FeedRun, type FeedRowCounts, type FeedSender } from './feed-run.ts';
import { readStreamEntry, type StreamRow } from './stream-entry.ts';

/**
 * Engine answers that say "not now" rather than "never": the entry stays pending and is applied
 * again later (rows are idempotent), instead of being acked as bad.
 */
const RETRY_CODES: ReadonlySet<string> = new Set([
  ErrorCode.BUSY,
  ErrorCode.UNAVAILABLE,
  ErrorCode.INTERNAL,
]);
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** A command other than the blocking read gets this long (the read gets its BLOCK on top). */
const COMMAND_GRACE_MS = 5_000;

const ENTRY_RESULTS = ['applied', 'unchanged', 'stale', 'repeated', 'rejected', 'retried'] as const;
type EntryResult = (typeof ENTRY_RESULTS)[number];

/** One entry as XREADGROUP answers it: its id and field list (null once deleted). */
type Entry = readonly [id: string, fields: readonly string[] | null];

/** What /readyz shows of the consumer (it does not make the server unready). */
export interface StreamFeedHealth {
  readonly connected: boolean;
  readonly key: string;
  readonly group: string;
  readonly consumer: string;
  readonly lastError: string | null;
}

/** Consecutive entries of one kind: one parser and one feed run apply them. */
class Segment {
  readonly ids: string[] = [];
  constructor(readonly parser: FeedParser) {}
}

/**
 * Stock feed rows from a Redis Stream (docs/api.md, "From a Redis Stream"): one entry is one
 * row, read through a consumer group on a connection of its own, applied through the same
 * FeedParser checks and FeedRun as an HTTP feed's rows, and acked only once the engine's journal
 * holds them. A crash before the ack redelivers the entries; applying them again changes nothing
 * (delta rows repeat their id, absolute rows are stale by their as-of).
 *
 * - At start, and after every failure, it reads its own pending entries first (id 0), then new
 *   ones (`>`), blocking up to `blockMs`.
 * - A bad entry (not a row, or a row the engine refuses for good) is counted, logged with its
 *   entry id and acked, so it does not hold the stream up. An entry the engine answers BUSY or
 *   UNAVAILABLE (the journal is down) stays pending and is tried again after a backoff.
 * - Redis going away: ioredis reconnects with backoff, the loop waits with backoff too, and the
 *   server stays ready (`streamFeed.connected` in /readyz's detail tells).
 */
export class RedisStreamFeed {
  private readonly client: Redis;
  private readonly log: Logger;
  private readonly counts: Record<EntryResult, number> = {
    applied: 0,
    unchanged: 0,
    stale: 0,
    repeated: 0,
    rejected: 0,
    retried: 0,
  };
  private readonly sender: FeedSender;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private applying = false;
  private groupReady = false;
  private connected = false;
  private lastError: string | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly config: RedisStreamFeedConfig,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'stream-feed', key: config.key, group: config.group });
    this.sender = {
      // Who may XADD to the key is Redis's to say (ACLs): its rows may feed any location.
      name: `redis-stream:${config.key}`,
      mayFeedLocation: () => true,
    };
    this.client = new Redis(config.url, {
      lazyConnect: true,
      // Fail at once while disconnected: the loop waits and reads its pending entries again.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: config.blockMs + COMMAND_GRACE_MS,
      retryStrategy: (attempt) =>
        Math.min(MIN_BACKOFF_MS * 2 ** Math.min(attempt - 1, 16), MAX_BACKOFF_MS),
      connectionName: `stockflow-feed:${config.consumer.replace(/[^\x21-\x7e]/g, '_')}`,
    });
    this.client.on('error', (error: unknown) => {
      this.log.debug({ err: error }, 'redis stream connection error');
    });
  }

  /** Starts reading; returns at once (the loop runs until stop). */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops reading: a blocked read is cut off, a batch being applied is applied and acked first. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    // A read (or a connect) is cut off: what Redis was handing it stays pending for this
    // consumer's next start. A batch being applied keeps the connection for its ack.
    if (!this.applying) this.client.disconnect();
    await this.loop;
    this.client.disconnect();
  }

  health(): StreamFeedHealth {
    return {
      connected: this.connected,
      key: this.config.key,
      group: this.config.group,
      consumer: this.config.consumer,
      lastError: this.lastError,
    };
  }

  /** stockflow_stream_feed_entries_total{result} and stockflow_stream_feed_connected. */
  registerMetrics(registry: Registry): void {
    const counts = this.counts;
    const synced = { ...counts };
    new Counter({
      name: 'stockflow_stream_feed_entries_total',
      help: 'Redis Stream feed entries by outcome: applied, unchanged, stale, repeated, rejected (acked as bad), retried (left pending: the engine was busy or its journal down).',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        for (const result of ENTRY_RESULTS) {
          this.inc({ result }, counts[result] - synced[result]);
          synced[result] = counts[result];
        }
      },
    });
    const health = (): StreamFeedHealth => this.health();
    new Gauge({
      name: 'stockflow_stream_feed_connected',
      help: '1 while the Redis Stream feed consumer reads its stream, 0 while Redis cannot be reached.',
      registers: [registry],
      collect() {
        this.set(health().connected ? 1 : 0);
      },
    });
  }

  private async run(): Promise<void> {
    // Own pending entries first: delivered before a crash or an outage, never acked.
    let backlog = true;
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.prepare();
        const entries = await this.read(backlog ? '0' : '>');
        this.up();
        if (entries.length === 0) {
          backlog = false;
          continue;
        }
        this.applying = true;
        const retry = await this.apply(entries).finally(() => {
          this.applying = false;
        });
        if (retry === 0) {
          failures = 0;
          continue;
        }
        // The engine said "not now": back off, then read the pending ones again.
        backlog = true;
        await this.pause(backoff(failures++));
      } catch (error) {
        // stop() cut the read off: not an outage.
        if (this.stopRequested()) break;
        this.down(error);
        this.groupReady = false;
        backlog = true;
        await this.pause(backoff(failures++));
      }
    }
  }

  /** Read through a call: stop() changes it while the loop awaits. */
  private stopRequested(): boolean {
    return this.stopping;
  }

  /** Connects (again, after a failed first connect) and makes the group, once per connection. */
  private async prepare(): Promise<void> {
    const status = this.client.status;
    if (status === 'wait' || status === 'end') await this.client.connect();
    if (this.groupReady) return;
    try {
      // From the stream's start: rows published before the group existed are applied too.
      await this.client.xgroup('CREATE', this.config.key, this.config.group, '0', 'MKSTREAM');
    } catch (error) {
      if (replyErrorKind(error) !== 'BUSYGROUP') throw error;
    }
    this.groupReady = true;
  }

  private async read(from: '0' | '>'): Promise<Entry[]> {
    const c = this.config;
    const reply: unknown = await this.client.call(
      'XREADGROUP',
      'GROUP',
      c.group,
      c.consumer,
      'COUNT',
      c.batch,
      ...(from === '>' ? ['BLOCK', c.blockMs] : []),
      'STREAMS',
      c.key,
      from,
    );
    return entriesOf(reply);
  }

  /**
   * Applies one read's entries in their order (a run of absolute rows, then of deltas, ...),
   * waits until the journal holds them, then acks all but those to retry. Returns how many are
   * left pending to retry.
   */
  private async apply(entries: readonly Entry[]): Promise<number> {
    const segments: Segment[] = [];
    let last: Segment | null = null;
    let rejected = 0;
    for (const [id, fields] of entries) {
      const row: StreamRow | string = readStreamEntry(id, fields);
      if (typeof row === 'string') {
        rejected++;
        this.rejected(id, { line: 0, sku: null, code: ErrorCode.BAD_REQUEST, reason: row });
        continue;
      }
      if (last === null || last.parser.kind !== row.kind) {
        last = new Segment(new FeedParser('ndjson', row.kind, { location: null, asOf: null }));
        segments.push(last);
      }
      last.parser.pushFields(row.fields);
      last.ids.push(id);
    }
    const counts: FeedRowCounts = { applied: 0, unchanged: 0, stale: 0, repeated: 0, rejected: 0 };
    const retry = new Set<string>();
    for (const segment of segments) {
      const result = newFeedResult(
        `stream-${segment.ids[0] ?? ''}`,
        segment.parser.kind,
        null,
        false,
        this.sender.name,
        new Date(this.engine.clock.now()),
      );
      const run = new FeedRun(
        this.engine,
        this.sender,
        segment.parser,
        result,
        counts,
        null,
        (r) => {
          const id = segment.ids[r.line - 1] ?? '';
          if (RETRY_CODES.has(r.code)) {
            retry.add(id);
          } else {
            rejected++;
            this.rejected(id, r);
          }
        },
      );
      while (run.ready(true)) await run.applyBatch();
      await run.finish();
    }
    // A row's answer already waited for its write; this also covers a row dropped as unchanged
    // whose value another writer set and the journal may not hold yet.
    if (!(await this.durable())) {
      // Nothing of this read is known to be in the journal: all of it stays pending.
      this.counts.retried += entries.length;
      return entries.length;
    }
    const ack = entries.map(([id]) => id).filter((id) => !retry.has(id));
    if (ack.length > 0) await this.client.xack(this.config.key, this.config.group, ...ack);
    this.counts.applied += counts.applied;
    this.counts.unchanged += counts.unchanged;
    this.counts.stale += counts.stale;
    this.counts.repeated += counts.repeated;
    this.counts.rejected += rejected;
    this.counts.retried += retry.size;
    if (retry.size > 0) {
      this.log.warn(
        { entries: retry.size },
        'stream feed entries left pending: the engine is busy or its journal is down; retrying',
      );
    }
    return retry.size;
  }

  /** Whether everything applied so far is in the journal (false: a write failed, retry). */
  private async durable(): Promise<boolean> {
    try {
      await this.engine.durable();
      return true;
    } catch (error) {
      this.log.warn({ err: error }, 'stream feed entries left pending: the journal is down');
      return false;
    }
  }

  private rejected(entryId: string, row: RejectedRow): void {
    this.log.warn(
      { entryId, sku: row.sku, code: row.code, reason: row.reason },
      'stream feed entry rejected; acked so it does not hold up the stream',
    );
  }

  private up(): void {
    if (!this.connected && this.lastError !== null) {
      this.log.info('redis stream feed reading again');
    }
    this.connected = true;
    this.lastError = null;
  }

  private down(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.connected || this.lastError === null) {
      this.log.warn(
        { err: error },
        'redis stream feed: a Redis command failed; reading its pending entries again after a backoff',
      );
    }
    this.connected = false;
    this.lastError = message;
  }

  /** Waits `ms`, or less when stop() is called meanwhile. */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

function backoff(failures: number): number {
  return Math.min(MIN_BACKOFF_MS * 2 ** Math.min(failures, 16), MAX_BACKOFF_MS);
}

/**
 * XREADGROUP's reply for one stream, as RESP2 gives it (`[[key, entries]]`) or as RESP3's map
 * arrives through ioredis (`[key, entries]`); null or nothing when no entry came. An entry is
 * `[id, [field, value, ...]]`, or `[id, null]` once deleted.
 */
function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const stream: unknown = typeof reply[0] === 'string' ? reply : reply[0];
  if (!Array.isArray(stream) || !Array.isArray(stream[1])) return [];
  const out: Entry[] = [];
  for (const item of stream[1] as unknown[]) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields: unknown = item[1];
    out.push([item[0], Array.isArray(fields) ? fields.map((f: unknown) => String(f)) : null]);
  }
  return out;
}
