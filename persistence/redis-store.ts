import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { JournalRecord, SnapshotHeader } from '../engine/index.ts';
import { PersistenceError } from './persistence-error.ts';
import { RedisCalls } from './redis-calls.ts';
import { checkDurability } from './redis-durability-check.ts';
import { RedisJournal } from './redis-journal.ts';
import { RedisKeys } from './redis-keys.ts';
import { RedisSnapshots } from './redis-snapshots.ts';
import type { LoadedSnapshot, SnapshotWriter, Store, StoreHealth, StoreStats } from './store.ts';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  readonly url: string;
  /** Every key of this store starts with it, e.g. `stockflow:shard0`; one prefix per shard. */
  readonly keyPrefix: string;
  /** Refuse to open unless Redis runs with appendonly yes and appendfsync always. */
  readonly strict: boolean;
  /** A command without a reply within this is failed (the write may still land). Default 2000. */
  readonly commandTimeoutMs?: number | undefined;
  /** How long one connection attempt may take. Default 5000. */
  readonly connectTimeoutMs?: number | undefined;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Reconnect backoff: 50 ms doubling up to this, plus jitter, for as long as it takes. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/**
 * The production store: the journal as a Redis stream, snapshots as chunked blobs, for one shard
 * under one key prefix. See docs/persistence-redis.md for the layout, the Redis settings it
 * needs and what happens during an outage.
 *
 * The client never queues: while Redis is unreachable every call fails at once (the engine
 * answers UNAVAILABLE and resyncs), and it reconnects by itself with a capped backoff.
 */
export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly client: Redis;
  private readonly calls: RedisCalls;
  private readonly journal: RedisJournal;
  private readonly snapshots: RedisSnapshots;
  private readonly log: Logger;
  private readonly where: string;
  private readonly strict: boolean;
  private opened = false;
  private closing = false;
  /** True from a lost connection until it is ready again (to log each outage once). */
  private down = false;
  /**
   * False from a lost connection until the new one was checked: the journal still ends where
   * Redis acknowledged it, and the settings still keep acknowledged writes (Redis may have been
   * restarted with others). Appends are refused meanwhile (a few milliseconds).
   */
  private verified = false;
  private verifying: Promise<void> | null = null;
  /** Bumped at every lost connection: a check only vouches for the connection it ran on. */
  private connection = 0;
  /** Strict mode: why the settings found after a reconnect would lose acknowledged writes. */
  private misconfigured: string | null = null;

  constructor(options: RedisStoreOptions, logger: Logger) {
    if (options.keyPrefix.length === 0) throw new RangeError('keyPrefix must not be empty');
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    for (const [name, value] of [
      ['commandTimeoutMs', commandTimeoutMs],
      ['connectTimeoutMs', connectTimeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a whole number of milliseconds >= 1`);
      }
    }
    this.strict = options.strict;
    this.where = redactUrl(options.url);
    this.log = logger.child({ store: 'redis', keyPrefix: options.keyPrefix });
    this.client = new Redis(options.url, {
      lazyConnect: true,
      // Fail fast instead of queueing: the engine must learn at once that writes do not land.
      enableOfflineQueue: false,
      // Flush commands in flight at the first disconnect, never on a later attempt.
      maxRetriesPerRequest: 0,
      // Never resend a write after a reconnect: it was already reported failed and the engine
      // resyncs from what Redis holds; a late copy would land behind its back.
      autoResendUnfulfilledCommands: false,
      // RedisCalls times every command of ours itself (and says so: RedisCommandTimeout). This is
      // only the backstop for the rest (the connection handshake, QUIT), longer so that RedisCalls'
      // timer always fires first.
      commandTimeout: commandTimeoutMs * 2,
      connectTimeout: connectTimeoutMs,
      retryStrategy: (attempt) =>
        Math.min(50 * 2 ** Math.min(attempt - 1, 16), MAX_RECONNECT_DELAY_MS) +
        Math.floor(Math.random() * 50),
      // Shows in CLIENT LIST; Redis refuses names with spaces or control characters.
      connectionName: `stockflow:${options.keyPrefix.replace(/[^\x21-\x7e]/g, '_')}`,
    });
    this.client.on('error', (error: unknown) => {
      this.log.debug({ err: error }, 'redis connection error');
    });
    this.client.on('close', () => {
      if (this.closing || !this.opened) return;
      this.verified = false;
      this.connection++;
      if (this.down) return;
      this.down = true;
      this.log.warn({ redis: this.where }, 'redis connection lost; reconnecting');
    });
    this.client.on('ready', () => {
      if (this.closing || !this.opened) return;
      if (this.down) this.log.info({ redis: this.where }, 'redis connection ready again');
      this.down = false;
      // Issued before any append can reach the new connection.
      this.verify().catch((error: unknown) => {
        this.log.warn({ err: error }, 'checking redis after a reconnect failed; retried on resync');
      });
    });
    this.calls = new RedisCalls(this.client, commandTimeoutMs);
    const keys = new RedisKeys(options.keyPrefix);
    this.journal = new RedisJournal(this.calls, keys, this.log, options.strict);
    this.snapshots = new RedisSnapshots(this.calls, keys, this.log);
  }

  /**
   * Connects and checks the server's durability settings (see checkDurability). Throws
   * PersistenceError: STORE_UNREACHABLE when Redis cannot be reached, STORE_MISCONFIGURED in
   * strict mode when it would lose acknowledged writes.
   */
  async open(): Promise<void> {
    if (this.opened) return;
    try {
      await this.client.connect();
    } catch (error) {
      this.client.disconnect();
      throw new PersistenceError(
        'STORE_UNREACHABLE',
        `cannot connect to Redis at ${this.where}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    try {
      await this.calls.run('redis settings check', () =>
        checkDurability(this.client, this.strict, this.log),
      );
    } catch (error) {
      this.client.disconnect();
      throw error;
    }
    this.opened = true;
    this.verified = true;
    this.log.info({ redis: this.where, strict: this.strict }, 'redis store open');
  }

  append(records: readonly JournalRecord[]): Promise<void> {
    const blocked = this.blocked('journal append');
    if (blocked !== null) {
      this.journal.appendErrors++;
      return Promise.reject(blocked);
    }
    return this.journal.append(records);
  }

  /** Checks a new connection first (or again, while strict mode found bad settings). */
  async resync(durableSeq: number): Promise<readonly JournalRecord[]> {
    const action = `journal resync after seq ${durableSeq}`;
    this.calls.assertReady(action);
    if (!this.verified || this.misconfigured !== null) await this.verify();
    const blocked = this.blocked(action);
    if (blocked !== null) throw blocked;
    return this.journal.resync(durableSeq);
  }

  readJournal(fromSeq: number): AsyncIterable<readonly JournalRecord[]> {
    return this.journal.read(fromSeq);
  }

  loadSnapshot(): Promise<LoadedSnapshot | null> {
    return this.snapshots.load();
  }

  beginSnapshot(header: SnapshotHeader): Promise<SnapshotWriter> {
    return this.snapshots.begin(header);
  }

  async trim(beforeSeq: number, keep: number): Promise<void> {
    await this.journal.trim(beforeSeq);
    await this.snapshots.trim(keep);
  }

  health(): StoreHealth {
    const blocked = this.blocked('');
    if (blocked !== null) return { ready: false, detail: blocked.message };
    const status = this.client.status;
    return { ready: status === 'ready', detail: status };
  }

  stats(): StoreStats {
    return {
      corruptRecords: this.journal.corruptRecords,
      corruptSnapshots: this.snapshots.corruptSnapshots,
      appendErrors: this.journal.appendErrors,
      bytesAppended: this.journal.bytesAppended,
    };
  }

  /** Why journal writes are refused although Redis may be connected, or null. */
  private blocked(action: string): PersistenceError | null {
    const prefix = action === '' ? '' : `${action}: `;
    const refusal = this.journal.refusal;
    if (refusal !== null) return new PersistenceError('STORE_CORRUPT', prefix + refusal);
    if (this.misconfigured !== null) {
      return new PersistenceError('STORE_MISCONFIGURED', prefix + this.misconfigured);
    }
    if (!this.verified && this.client.status === 'ready') {
      return new PersistenceError(
        'STORE_UNREACHABLE',
        `${prefix}Redis reconnected; its journal and settings are being checked`,
      );
    }
    return null;
  }

  private verify(): Promise<void> {
    this.verifying ??= this.check().finally(() => {
      this.verifying = null;
    });
    return this.verifying;
  }

  private async check(): Promise<void> {
    const connection = this.connection;
    await this.journal.checkTail();
    try {
      await this.calls.run('redis settings check', () =>
        checkDurability(this.client, this.strict, this.log),
      );
      if (this.misconfigured !== null) this.log.info('redis settings are safe again');
      this.misconfigured = null;
    } catch (error) {
      if (!(error instanceof PersistenceError && error.code === 'STORE_MISCONFIGURED')) throw error;
      if (this.misconfigured === null) {
        this.log.error({ err: error }, 'redis settings lose acknowledged writes: journal refused');
      }
      this.misconfigured = error.message;
    }
    if (connection === this.connection) this.verified = true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // No reply (Redis paused or gone): drop the connection instead.
      }
    }
    this.client.disconnect();
  }
}

/** The URL for logs and errors: the password replaced. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable Redis URL)';
  }
}
