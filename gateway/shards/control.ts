import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../../config/index.ts';

/**
 * What the main thread and a shard's worker say to each other (the peers' own traffic goes over
 * PeerLink). Start: the worker recovers its shard and says `ready`; the main thread says `listen`
 * (worker 0 first, so a port 0 is chosen once and the others join it). Stop: `drain` to every
 * worker (gateways close while every shard still serves the others), then `quiesce` (order
 * services finish their steps, which may still allocate on any shard), then `stop` (engines and
 * stores). /metrics: a worker asks `scrape`; the main thread gathers `collect` from each.
 */

export interface WorkerInit {
  readonly shard: number;
  readonly count: number;
  readonly config: Config;
  /** Every API key's rate-limit bucket, shared by all workers (auth.ts sharedRateMemory). */
  readonly rateMemory: SharedArrayBuffer;
  /**
   * One Int32 per shard, 1 while its store and journal are ready: /readyz on any worker answers
   * for the whole process, not only for the shard of the worker that took the request.
   */
  readonly health: SharedArrayBuffer;
  /** ports[k] reaches worker k (null at this worker's own index). */
  readonly ports: readonly (MessagePort | null)[];
}

export type ToWorker =
  | { readonly type: 'listen'; readonly port: number; readonly metricsPort: number | null }
  | { readonly type: 'collect'; readonly id: number }
  | { readonly type: 'scraped'; readonly id: number; readonly body: string | null }
  | { readonly type: 'drain' }
  | { readonly type: 'quiesce' }
  | { readonly type: 'stop' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'listening'; readonly port: number; readonly metricsPort: number | null }
  | { readonly type: 'collected'; readonly id: number; readonly metrics: unknown }
  | { readonly type: 'scrape'; readonly id: number }
  | { readonly type: 'drained' }
  | { readonly type: 'quiesced' }
  | { readonly type: 'stopped' };
