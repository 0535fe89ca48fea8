import type { Logger } from 'pino';

/**
 * Sampled request logs: one request in `every` is logged (deterministically, by count), so the
 * log shows what traffic looks like without a line per request on the hot path. Errors and
 * connection events are logged in full elsewhere.
 */
export class RequestLog {
  private n = 0;

  constructor(
    private readonly logger: Logger,
    private readonly every: number,
  ) {}

  /** True when this request is the sampled one; call `write` only then. */
  sample(): boolean {
    this.n++;
    if (this.n < this.every) return false;
    this.n = 0;
    return this.logger.isLevelEnabled('info');
  }

  write(fields: Record<string, unknown>): void {
    this.logger.info(fields, 'request');
  }
}
