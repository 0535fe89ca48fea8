import type { Logger } from 'pino';
import type { Clock } from '../engine/index.ts';
import type { SettlementConfig } from '../config/index.ts';
import type { DeliveryOutcome, OutboxMessage, OutboxTransport } from '../orders/index.ts';
import { SettlementStreamTransport } from './settlement-stream.ts';
import { SettlementTrimmer } from './settlement-trim.ts';
import { WebhookTransport } from './webhook-transport.ts';

/**
 * Retries what another transport would give up. A settlement event given up is a hole in the
 * ERP's books, and the likely causes of a 4xx from an ERP endpoint (a wrong secret, a route not
 * deployed yet) are fixed on its side: then every event waiting goes through, none was lost. The
 * wait shows in stockflow_settlement_events_pending.
 */
class NeverGiveUp implements OutboxTransport {
  constructor(private readonly inner: OutboxTransport) {}

  async send(message: OutboxMessage): Promise<DeliveryOutcome> {
    const outcome = await this.inner.send(message);
    return outcome.ok || outcome.retryable ? outcome : { ...outcome, retryable: true };
  }
}

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
        new NeverGiveUp(new WebhookTransport(config.webhook, { timeoutMs, clock })),
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
