import type { Logger } from 'pino';
import type { ServerConfig } from '../config/index.ts';
import type { Engine } from '../engine/index.ts';
import type { OrderApi } from './order-api.ts';
import type { ApiKeyRing } from './auth.ts';
import type { ConsoleTotals } from './console-totals.ts';
import type { FeedLedgers } from './feed-ledgers.ts';
import type { FeedLog } from './feed-log.ts';
import type { FrameCodec } from './frame-codec.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { ReplyBatcher } from './reply-batcher.ts';
import type { RequestLog } from './request-log.ts';
import type { SubscriptionHub } from './subscriptions.ts';
import type { WsOrders } from './ws-orders.ts';

/** What /readyz adds to the gateway's own state (e.g. persistence caught up). */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/** The gateway's own state, as its parts read it. */
export interface GatewayState {
  readonly closing: boolean;
}

/**
 * Everything the gateway's parts share, built once by the gateway and handed to each of them
 * whole (instead of a row of positional arguments each part would order its own way).
 */
export interface GatewayContext {
  readonly engine: Engine;
  /** The validated, frozen `server` section of the configuration. */
  readonly server: ServerConfig;
  readonly keys: ApiKeyRing;
  readonly codec: FrameCodec;
  readonly hub: SubscriptionHub;
  readonly batcher: ReplyBatcher;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly requests: RequestLog;
  readonly state: GatewayState;
  /** The order service; null when the gateway runs none (no order routes nor location keys). */
  readonly orders: OrderApi | null;
  /** The WebSocket side of the order service; null with it. */
  readonly wsOrders: WsOrders | null;
  /** The last stock feeds of each location, for the console. */
  readonly feeds: FeedLog;
  /** Stock and master-data feed results by feed id. */
  readonly ledgers: FeedLedgers;
  /** With worker threads: this worker's console totals with every other worker's added. */
  readonly totalsElsewhere: ((here: ConsoleTotals) => Promise<ConsoleTotals>) | null;
  /** Extra readiness for /readyz. */
  readonly readiness: (() => Readiness) | null;
  /** The /metrics body when it is not this gateway's registry alone (every worker's, summed). */
  readonly scrape: (() => Promise<string>) | null;
}
