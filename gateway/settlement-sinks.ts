import type { Logger } from 'pino';
import type { Clock } from '../engine/index.ts';
import type { SettlementConfig } from '../config/index.ts';
import type { OutboxTransport } from '../orders/index.ts';
import { SettlementStreamTransport } from './settlement-stream.ts';
import { SettlementTrimmer } from './settlement-trim.ts';
import { WebhookTransport } from './webhook-transport.ts';

/**
 * The ERP's settlement sinks from the config: each is its own outbox stream (`erp:webhook`,
 * `erp:redis`), so each has its own lanes, retries and acknowledgements, and a slow webhook never
 * holds the Redis Stream back (or the reverse).
 */
export class SettlementSinks {
  /** The order service's `settlementStreams`. */
  readonly streams: readonly string[];
  private readonly transports = new Map<string, OutboxTransport>();
  private readonly stream: SettlementStreamTransport | null;
  private readonly trimmer: SettlementTrimmer | null;

  constructor(config: SettlementConfig, timeoutMs: number, clock: Clock, log: Logger) {
    if (config.webhook !== null) {
      this.transports.set(
        'erp:webhook',
        new WebhookTransport(config.webhook, { timeoutMs, clock }),
      );
    }
    const redis = config.redisStream;
    if (redis === null) {
      this.stream = null;
      this.trimmer = null;
    } else {
      const child = log.child({ component: 'settlement-stream', key: redis.key });
      this.stream = new SettlementStreamTransport(redis, child);
      this.transports.set('erp:redis', this.stream);
      this.trimmer = new SettlementTrimmer(
        this.stream.client,
        redis.key,
        redis.trimEverySeconds * 1000,
        clock,
        child,
      );
    }
    this.streams = [...this.transports.keys()];
  }

  /** The transport of a settlement stream, or undefined for any other stream. */
  transportFor(stream: string): OutboxTransport | undefined {
    return this.transports.get(stream);
  }

  start(): void {
    this.trimmer?.start();
  }

  /** After the order service stopped (nothing is sent any more). */
  async close(): Promise<void> {
    this.trimmer?.stop();
    await this.stream?.close();
  }
}
