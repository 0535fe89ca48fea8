import { z } from 'zod';
import { label } from './schema-parts.ts';

/**
 * The `erp.settlement` section: where the ERP's financial settlement events go (docs/erp.md). Each
 * sink is its own outbox stream, so a slow one never holds the other back; with neither, no
 * settlement event is produced.
 */
export const settlement = z.strictObject({
  /** Signed POSTs, as the customer and location webhooks are (docs/webhooks.md). */
  webhook: z
    .strictObject({
      url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
      secret: z.string().min(16),
    })
    .nullable()
    .default(null),
  /** A Redis Stream an ERP connector reads with a consumer group. */
  redisStream: z
    .strictObject({
      url: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }),
      key: label.default('stockflow:settlement'),
      /** How often entries every consumer group acknowledged are trimmed; 0: never. */
      trimEverySeconds: z.int().min(0).max(86_400).default(60),
      commandTimeoutMs: z.int().min(50).default(2_000),
    })
    .nullable()
    .default(null),
});
