import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { ERROR_CODES, type EngineStats, type ErrorCode, type Engine } from '../engine/index.ts';
import { collectedMetrics } from './collected-metrics.ts';
import { FastHistogram } from './fast-histogram.ts';
import type { FeedRowCounts } from './feed-run.ts';
import type { MasterOutcome, MasterRowCounts } from './master-run.ts';
import type { FrameRejection } from './frame-codec.ts';

const FEED_ROW_RESULTS = ['applied', 'unchanged', 'stale', 'repeated', 'rejected'] as const;
const MASTER_ROW_RESULTS: readonly MasterOutcome[] = ['applied', 'unchanged', 'rejected'];

/** Operation labels (bounded): WebSocket ops and HTTP routes. */
export const OPS = [
  'subscribe',
  'unsubscribe',
  'reserve',
  'release',
  'confirm',
  'batch',
  'availability',
  'snapshot',
  'adjustments',
  'config',
  'placeOrder',
  'getOrder',
  'cancelOrder',
  'getFulfilment',
  'pendingFulfilments',
  'fulfilmentAnswer',
  'ack',
  'feed',
  'getFeed',
  'listFeeds',
  'masterFeed',
  'getMasterFeed',
  'listOrders',
  'snapshotFeeds',
  'console',
  'requestReturn',
  'getReturn',
  'heldReturns',
  'receiveReturn',
  'resolveReturnHold',
  'refundReturn',
  'erpReconciliation',
  'invalid',
] as const;
export type OpLabel = (typeof OPS)[number];

export const TRANSPORTS = ['ws', 'http'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Result labels: `ok` or one of the error codes. */
export type ResultLabel = 'ok' | ErrorCode;
const RESULTS: readonly ResultLabel[] = ['ok', ...ERROR_CODES];

const OP_INDEX = new Map<string, number>(OPS.map((op, i) => [op, i]));
const RESULT_INDEX = new Map<string, number>(RESULTS.map((r, i) => [r, i]));
const TRANSPORT_INDEX = new Map<string, number>(TRANSPORTS.map((t, i) => [t, i]));

const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const LINT_REFUSED_DEFAULTS = new Set([
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]);

/** How long a copy of engine.stats() serves scrapes (it walks every SKU book). */
const STATS_TTL_MS = 250;

/**
 * The gateway's Prometheus metrics, in a registry of its own. Hot-path counts (ops, latency)
 * go into typed arrays and reach prom-client when scraped; label sets are bounded (op, result
 * code, transport, reason), never a SKU, channel, key or customer.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly ops: Float64Array;
  private readonly opsSynced: Float64Array;
  private readonly latency: FastHistogram;
  readonly connections: Gauge;
  readonly connectionsOpened: Counter;
  readonly connectionsClosed: Counter;
  readonly upgradesRefused: Counter<'code'>;
  readonly backpressureDisconnects: Counter;
  readonly subscriptions: Gauge;
  readonly topics: Gauge;
  readonly rateLimited: Counter<'transport'>;
  readonly framesRejected: Counter<'reason'>;
  /** What uWS buffers per socket, sampled at scrape (the gateway sets the source). */
  readonly socketBuffers = new SocketBuffers();
  /** Stock feed rows by outcome, bumped per row, read at scrape time. */
  readonly feedRows: FeedRowCounts = {
    applied: 0,
    unchanged: 0,
    stale: 0,
    repeated: 0,
    rejected: 0,
  };
  private readonly feeds: Counter<'outcome'>;
  /** Master-data feed rows by kind and outcome, bumped per row, read at scrape time. */
  readonly masterRows: MasterRowCounts = {
    products: { applied: 0, unchanged: 0, rejected: 0 },
    locations: { applied: 0, unchanged: 0, rejected: 0 },
  };
  private readonly masterFeeds: Counter<'outcome'>;
  /** Plain numbers the hot path bumps; read at scrape time. */
  deltasSent = 0;
  private stats: EngineStats | null = null;
  private statsAt = 0;

  constructor(private readonly engine: Engine) {
    const registers = [this.registry];
    const size = OPS.length * RESULTS.length * TRANSPORTS.length;
    this.ops = new Float64Array(size);
    this.opsSynced = new Float64Array(size);
    const ops = this.ops;
    const synced = this.opsSynced;
    new Counter({
      name: 'stockflow_gateway_ops_total',
      help: 'Operations answered, by transport, operation and result (ok or error code).',
      labelNames: ['transport', 'op', 'result'],
      registers,
      collect() {
        for (let i = 0; i < ops.length; i++) {
          const delta = (ops[i] as number) - (synced[i] as number);
          if (delta === 0) continue;
          synced[i] = ops[i] as number;
          const t = i % TRANSPORTS.length;
          const r = Math.floor(i / TRANSPORTS.length) % RESULTS.length;
          const o = Math.floor(i / TRANSPORTS.length / RESULTS.length);
          this.inc(
            { transport: TRANSPORTS[t] ?? '', op: OPS[o] ?? '', result: RESULTS[r] ?? '' },
            delta,
          );
        }
      },
    });
    this.latency = new FastHistogram({
      name: 'stockflow_gateway_op_duration_seconds',
      help: 'Time from a request reaching the gateway to its reply being queued, by operation.',
      labelName: 'op',
      labelValues: OPS,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.connections = new Gauge({
      name: 'stockflow_gateway_ws_connections',
      help: 'Open WebSocket connections.',
      registers,
    });
    this.connectionsOpened = new Counter({
      name: 'stockflow_gateway_ws_connections_opened_total',
      help: 'WebSocket connections opened.',
      registers,
    });
    this.connectionsClosed = new Counter({
      name: 'stockflow_gateway_ws_connections_closed_total',
      help: 'WebSocket connections closed, for any reason.',
      registers,
    });
    this.upgradesRefused = new Counter({
      name: 'stockflow_gateway_ws_upgrades_refused_total',
      help: 'WebSocket upgrades answered without upgrading, by error code.',
      labelNames: ['code'],
      registers,
    });
    this.backpressureDisconnects = new Counter({
      name: 'stockflow_gateway_ws_backpressure_disconnects_total',
      help: 'WebSocket connections cut off because they did not read fast enough.',
      registers,
    });
    this.subscriptions = new Gauge({
      name: 'stockflow_gateway_subscriptions',
      help: 'Topic subscriptions held by WebSocket connections.',
      registers,
    });
    // The share of time the event loop was busy since the previous scrape (Node's own
    // measure, performance.eventLoopUtilization): the USE "utilisation" of the one thread.
    let elu = performance.eventLoopUtilization();
    new Gauge({
      name: 'stockflow_event_loop_utilization',
      help: 'Share of wall time the event loop was busy since the previous scrape (0 to 1).',
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, elu).utilization);
        elu = now;
      },
    });
    // Bytes uWS holds for sockets that have not read them yet, sampled at scrape: the USE
    // "saturation" of the sockets. A socket reaching server.maxBackpressureBytes is cut off
    // (stockflow_gateway_ws_backpressure_disconnects_total).
    const buffers = this.socketBuffers;
    new Gauge({
      name: 'stockflow_gateway_ws_buffered_bytes',
      help: 'Bytes buffered for WebSocket connections that have not read them yet (all connections).',
      registers,
      collect() {
        buffers.sample();
        this.set(buffers.total);
      },
    });
    new Gauge({
      name: 'stockflow_gateway_ws_buffered_bytes_max',
      help: 'Bytes buffered for the one WebSocket connection furthest behind.',
      registers,
      collect() {
        buffers.sample();
        this.set(buffers.max);
      },
    });
    const rows = this.feedRows;
    const rowsSynced: FeedRowCounts = { ...rows };
    new Counter({
      name: 'stockflow_feed_rows_total',
      help: 'Stock feed rows by outcome: applied, unchanged (dropped before the journal), stale, repeated (a delta id already applied), rejected.',
      labelNames: ['result'],
      registers,
      collect() {
        for (const result of FEED_ROW_RESULTS) {
          this.inc({ result }, rows[result] - rowsSynced[result]);
          rowsSynced[result] = rows[result];
        }
      },
    });
    this.feeds = new Counter({
      name: 'stockflow_feeds_total',
      help: 'Stock feeds by outcome: completed, or refused as a whole (not a feed of its format).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['completed', 'refused'] as const) this.feeds.inc({ outcome }, 0);
    const masterRows = this.masterRows;
    const masterSynced: MasterRowCounts = {
      products: { ...masterRows.products },
      locations: { ...masterRows.locations },
    };
    new Counter({
      name: 'stockflow_master_rows_total',
      help: 'Master-data feed rows by kind (products, locations) and result: applied, unchanged (dropped before the journal), rejected.',
      labelNames: ['kind', 'result'],
      registers,
      collect() {
        for (const kind of ['products', 'locations'] as const) {
          for (const result of MASTER_ROW_RESULTS) {
            this.inc({ kind, result }, masterRows[kind][result] - masterSynced[kind][result]);
            masterSynced[kind][result] = masterRows[kind][result];
          }
        }
      },
    });
    this.masterFeeds = new Counter({
      name: 'stockflow_master_feeds_total',
      help: 'Master-data feeds by outcome: completed, or refused as a whole (not a feed of its format).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['completed', 'refused'] as const) this.masterFeeds.inc({ outcome }, 0);
    this.topics = new Gauge({
      name: 'stockflow_gateway_topics',
      help: 'Distinct availability topics with at least one subscriber.',
      registers,
    });
    this.rateLimited = new Counter({
      name: 'stockflow_gateway_rate_limited_total',
      help: 'Requests refused by the per-key rate limit, by transport.',
      labelNames: ['transport'],
      registers,
    });
    this.framesRejected = new Counter({
      name: 'stockflow_gateway_frames_rejected_total',
      help: 'WebSocket frames refused before decoding or parsing, by reason.',
      labelNames: ['reason'],
      registers,
    });
    const deltasSent = (): number => this.deltasSent;
    let deltasSynced = 0;
    new Counter({
      name: 'stockflow_gateway_deltas_sent_total',
      help: 'Availability deltas published to WebSocket topics (once per encoding with subscribers).',
      registers,
      collect() {
        const now = deltasSent();
        this.inc(now - deltasSynced);
        deltasSynced = now;
      },
    });
    this.engineMetrics(registers);
    this.defaultMetrics();
  }

  /**
   * prom-client's default process and Node.js metrics (event-loop lag, GC, heap, CPU), under
   * their standard names so stock dashboards work. Three of them are gauges named `_total`,
   * which `promtool check metrics` refuses; each has a per-type gauge beside it
   * (`nodejs_active_handles{type}` ...), so they are left out.
   */
  private defaultMetrics(): void {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    for (const { name } of defaults.getMetricsAsArray()) {
      if (LINT_REFUSED_DEFAULTS.has(name)) continue;
      const metric = defaults.getSingleMetric(name);
      if (metric !== undefined) this.registry.registerMetric(metric);
    }
  }

  /** Counts one answered operation and its latency (ms since it reached the gateway). */
  feedOutcome(outcome: 'completed' | 'refused'): void {
    this.feeds.inc({ outcome });
  }

  masterFeedOutcome(outcome: 'completed' | 'refused'): void {
    this.masterFeeds.inc({ outcome });
  }

  op(transport: Transport, op: OpLabel, result: ResultLabel, latencyMs: number): void {
    const o = OP_INDEX.get(op) ?? 0;
    const r = RESULT_INDEX.get(result) ?? RESULTS.length - 1;
    const t = TRANSPORT_INDEX.get(transport) ?? 0;
    const i = (o * RESULTS.length + r) * TRANSPORTS.length + t;
    this.ops[i] = (this.ops[i] as number) + 1;
    if (latencyMs >= 0) this.latency.observeAt(o, latencyMs / 1_000);
  }

  /** How many `op` were answered so far, by result, over both transports (the console's rates). */
  resultsOf(op: OpLabel): Record<string, number> {
    const o = OP_INDEX.get(op) ?? 0;
    const out: Record<string, number> = {};
    for (let r = 0; r < RESULTS.length; r++) {
      let n = 0;
      for (let t = 0; t < TRANSPORTS.length; t++) {
        n += this.ops[(o * RESULTS.length + r) * TRANSPORTS.length + t] as number;
      }
      if (n > 0) out[RESULTS[r] as string] = n;
    }
    return out;
  }

  frameRejected(reason: FrameRejection | 'oversized' | 'schema'): void {
    this.framesRejected.inc({ reason });
  }

  private engineStats(): EngineStats {
    const now = Date.now();
    if (this.stats === null || now - this.statsAt > STATS_TTL_MS) {
      this.stats = this.engine.stats();
      this.statsAt = now;
    }
    return this.stats;
  }

  private engineMetrics(registers: Registry[]): void {
    const stats = (): EngineStats => this.engineStats();
    const { gauge, counter } = collectedMetrics(registers, stats);
    gauge(
      'stockflow_engine_mailbox_depth',
      'Commands accepted by the engine and not yet answered.',
      (s) => s.queued,
    );
    gauge(
      'stockflow_engine_reservations',
      'Reservations the engine holds (incl. tombstones).',
      (s) => s.reservations,
    );
    gauge(
      'stockflow_engine_watched_topics',
      'Availability topics the engine computes deltas for.',
      (s) => s.watchedTopics,
    );
    gauge('stockflow_engine_skus', 'SKUs known to the engine.', (s) => s.skus);
    gauge('stockflow_engine_positions', 'SKU-locations known to the engine.', (s) => s.positions);
    counter(
      'stockflow_engine_deltas_published_total',
      'Availability deltas the engine published after conflation.',
      (s) => s.deltasPublished,
    );
    counter(
      'stockflow_engine_deltas_conflated_total',
      'Availability changes folded into a later delta of the same topic.',
      (s) => s.deltasConflated,
    );
    counter(
      'stockflow_engine_busy_rejections_total',
      'Commands answered BUSY because a SKU mailbox was full.',
      (s) => s.busyRejections,
    );
    counter(
      'stockflow_engine_actor_failures_total',
      'Commands or batches that failed inside an actor (bugs, contained).',
      (s) => s.actorFailures,
    );
    counter(
      'stockflow_engine_stale_feeds_total',
      'Stock feed updates ignored because a newer one was already applied.',
      (s) => s.staleFeeds,
    );
    counter(
      'stockflow_engine_feeds_compensated_total',
      'Absolute feed rows whose count was corrected for shipments and deltas recorded after its as-of.',
      (s) => s.compensatedFeeds,
    );
    counter(
      'stockflow_engine_feeds_uncompensable_total',
      'Absolute feed rows applied with an as-of that is no epoch-ms time (a sequence), so not correctable for later shipments.',
      (s) => s.uncompensableFeeds,
    );
  }
}

/**
 * The bytes waiting in uWS for sockets to read them, summed and at their worst. Each gauge
 * samples when collected: one pass over the open sockets, a few µs per thousand.
 */
export class SocketBuffers {
  total = 0;
  max = 0;
  private source: () => Iterable<number> = () => [];

  /** Where buffered amounts come from: one number per open socket. */
  watch(source: () => Iterable<number>): void {
    this.source = source;
  }

  sample(): void {
    let total = 0;
    let max = 0;
    for (const bytes of this.source()) {
      total += bytes;
      if (bytes > max) max = bytes;
    }
    this.total = total;
    this.max = max;
  }
}
