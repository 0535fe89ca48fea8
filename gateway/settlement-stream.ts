import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DeliveryOutcome, OutboxMessage, OutboxTransport } from '../orders/index.ts';

/** Where settlement events are appended (config `erp.settlement.redisStream`). */
export interface SettlementStreamTarget {
  readonly url: string;
  /** The stream's key; `<key>:last:<orderId>` keys remember what each order appended last. */
  readonly key: string;
  readonly commandTimeoutMs: number;
}

/**
 * How long an order's last appended sequence number is remembered. The check only has to outlive
 * a retry of the same event (the outbox retries within its backoff, at most a minute by
 * default), so a week is ample, and orders no longer sending cost nothing after it.
 */
const LAST_SEQ_TTL_SECONDS = 7 * 86_400;

/**
 * Appends once per (order, seq): the outbox delivers at least once, and a retry after a reply
 * that was lost (a timeout, a dropped connection, a Redis restart) must not add the event twice.
 * Within one order events arrive in sequence (the outbox sends an order's next event only after
 * the previous one was acknowledged), so remembering the last number appended is enough. The
 * XADD and the SET run in one script: Redis applies both or neither, also across a crash (AOF).
 * KEYS: stream, last-seq key. ARGV: seq, ttl, then the entry's field/value pairs.
 */
const APPEND = `
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) <= last then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return 1
`;

interface SettlementBody {
  readonly eventId: string;
  readonly seq: number;
}

function isSettlementBody(body: unknown): body is SettlementBody {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.eventId === 'string' && typeof b.seq === 'number';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Carries settlement events to a Redis Stream (XADD, one entry per event with the fields `id`,
 * `type`, `orderId`, `seq` and `body`, the event as JSON), where an ERP connector reads them with
 * a consumer group (docs/erp.md). Every failure is retryable: an event given up would be a gap in
 * the ERP's books, so a Redis that is down or misconfigured holds the events in the outbox (its
 * depth shows in stockflow_outbox_queued) until it is fixed.
 */
export class SettlementStreamTransport implements OutboxTransport {
  readonly client: Redis;
  private readonly key: string;
  private readonly log: Logger;

  constructor(target: SettlementStreamTarget, log: Logger) {
    this.key = target.key;
    this.log = log;
    this.client = new Redis(target.url, {
      // A command waits for the connection being made, and fails at the first reconnect attempt
      // that does not get through: the outbox retries it with its backoff.
      maxRetriesPerRequest: 0,
      // A command cut off by a disconnect was reported failed and is retried by the outbox; the
      // append script makes that retry harmless, a resend behind its back is not needed.
      autoResendUnfulfilledCommands: false,
      commandTimeout: target.commandTimeoutMs,
      connectTimeout: target.commandTimeoutMs * 2,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt - 1, 10), 5_000),
      connectionName: 'stockflow:settlement',
    });
    this.client.on('error', (error: unknown) => {
      this.log.debug({ err: error }, 'settlement stream: redis connection error');
    });
  }

  async send(message: OutboxMessage): Promise<DeliveryOutcome> {
    const body = message.body;
    if (!isSettlementBody(body)) {
      return { ok: false, retryable: false, status: null, error: 'not a settlement event' };
    }
    try {
      const added = await this.client.eval(
        APPEND,
        2,
        this.key,
        `${this.key}:last:${message.orderId}`,
        String(body.seq),
        String(LAST_SEQ_TTL_SECONDS),
        'id',
        body.eventId,
        'type',
        message.type,
        'orderId',
        message.orderId,
        'seq',
        String(body.seq),
        'body',
        JSON.stringify(body),
      );
      if (added === 0)
        this.log.debug({ eventId: body.eventId }, 'settlement event already in the stream');
      return { ok: true, status: null };
    } catch (error) {
      return { ok: false, retryable: true, status: null, error: describe(error) };
    }
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
