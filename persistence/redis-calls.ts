import type { Redis } from 'ioredis';
import { PersistenceError } from './persistence-error.ts';

/**
 * No reply from Redis within the command timeout. The command is not withdrawn: Redis may still
 * apply it (a paused server runs what it had queued when it resumes; see RedisJournal.resync),
 * and its late reply is dropped.
 */
export class RedisCommandTimeout extends Error {
  override readonly name = 'RedisCommandTimeout';

  constructor(readonly timeoutMs: number) {
    super(`no reply from Redis within ${timeoutMs} ms`);
  }
}

/**
 * Runs the store's Redis commands and maps every failure to one PersistenceError, so callers
 * (and the engine's logs) see one taxonomy whatever ioredis threw.
 *
 * - Not connected (the client is reconnecting): rejected at once, without a round trip; ioredis
 *   would refuse it anyway, as the offline queue is off.
 * - No reply within the command timeout (this class's own timer, see withTimeout), or the
 *   connection dropped with the command in flight: STORE_UNREACHABLE, with a RedisCommandTimeout
 *   as the cause for the first. The command may still have been applied (see RedisJournal.resync).
 * - An error reply: by its kind (see replyErrorKind): WRONGTYPE means a key of ours holds
 *   something else (STORE_CORRUPT), NOPERM / NOAUTH / WRONGPASS a setup problem
 *   (STORE_MISCONFIGURED); the rest (OOM, READONLY after a failover, MISCONF, LOADING, BUSY, ...)
 *   say Redis takes no writes now (STORE_UNREACHABLE).
 */
export class RedisCalls {
  constructor(
    readonly client: Redis,
    readonly commandTimeoutMs: number,
  ) {}

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Throws STORE_UNREACHABLE unless the connection is ready. */
  assertReady(action: string): void {
    const status = this.client.status;
    if (status !== 'ready') {
      throw new PersistenceError(
        'STORE_UNREACHABLE',
        `${action}: Redis is not connected (${status})`,
      );
    }
  }

  async run<T>(action: string, op: () => Promise<T>): Promise<T> {
    this.assertReady(action);
    try {
      return await this.withTimeout(op);
    } catch (error) {
      throw this.failure(action, error);
    }
  }

  /**
   * Runs `op` (one command, or a few in a row), rejecting with RedisCommandTimeout when it has
   * not settled within the command timeout. The timer says so explicitly: a timeout is never
   * guessed from the time a failure took. (ioredis's own commandTimeout is set longer, as a
   * backstop for the commands that do not pass here, so this timer always fires first.)
   */
  withTimeout<T>(op: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisCommandTimeout(this.commandTimeoutMs));
      }, this.commandTimeoutMs);
      const settle = (): void => {
        clearTimeout(timer);
      };
      let pending: Promise<T>;
      try {
        pending = op();
      } catch (error) {
        settle();
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      pending.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** The PersistenceError for a command that failed (threw, timed out or was cut off). */
  failure(action: string, error: unknown): PersistenceError {
    if (error instanceof PersistenceError) return error;
    if (error instanceof RedisCommandTimeout) {
      return new PersistenceError('STORE_UNREACHABLE', `${action}: ${error.message}`, {
        cause: error,
      });
    }
    const kind = replyErrorKind(error);
    if (kind === null) {
      return new PersistenceError(
        'STORE_UNREACHABLE',
        `${action}: the connection to Redis failed (${String(error)})`,
        { cause: error },
      );
    }
    return new PersistenceError(
      REPLY_CODES.get(kind) ?? 'STORE_UNREACHABLE',
      `${action}: Redis refused it: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

const REPLY_CODES = new Map<string, PersistenceError['code']>([
  ['WRONGTYPE', 'STORE_CORRUPT'],
  ['NOPERM', 'STORE_MISCONFIGURED'],
  ['NOAUTH', 'STORE_MISCONFIGURED'],
  ['WRONGPASS', 'STORE_MISCONFIGURED'],
]);

/**
 * The kind of an error reply from Redis: the reply's first word ("ERR", "OOM", "READONLY",
 * "WRONGTYPE", ...), which the protocol defines as the machine-readable part of an error
 * (https://redis.io/docs/latest/develop/reference/protocol-spec/#simple-errors). Null for a
 * failure that is not a reply at all: a timeout or a lost connection.
 */
export function replyErrorKind(error: unknown): string | null {
  // ioredis rejects with redis-errors' ReplyError for error replies (typed `any` in its
  // declarations, so matched by its name); the message is the reply itself.
  if (!(error instanceof Error) || error.name !== 'ReplyError') return null;
  const space = error.message.indexOf(' ');
  return space === -1 ? error.message : error.message.slice(0, space);
}
