import { z } from 'zod';
import { orders } from './orders-schema.ts';
import { settlement } from './settlement-schema.ts';
import { rules } from './rules-schema.ts';
import { id, label, positive, uniqueField, whenReadable } from './schema-parts.ts';
import { ENGINE_DEFAULTS } from '../engine/index.ts';
import type {
  BufferRule,
  CapRule,
  ChannelInput,
  EngineOptions,
  ExclusionRule,
  LocationInput,
  PickupBufferRule,
  ProductInput,
  RulesInput,
} from '../engine/index.ts';

/**
 * The one description of Stockflow's configuration: shape, defaults and limits. Every object is
 * strict, so a misspelt key is an error instead of a setting that silently does nothing.
 * Sections and arrays default through `.prefault`, which runs the default through the schema
 * (zod 4's `.default` would hand back the raw value without filling in the inner defaults).
 * docs/configuration.md explains every key.
 */

const port = z.int().min(0).max(65_535);

// uWS refuses 1..7 and > 960 by terminating the process (std::terminate, not an exception), and
// its timers tick every 4 s, so other values would be rounded behind our back.
const idleTimeoutSec = z.int().refine((s) => s === 0 || (s >= 8 && s <= 960 && s % 4 === 0), {
  message: 'expected 0 (no idle timeout) or a multiple of 4 within 8..960 (a uWS limit)',
});

const server = z
  .strictObject({
    host: label.default('0.0.0.0'),
    port: port.default(8080),
    metricsPort: port.nullable().default(null),
    metricsHost: label.default('127.0.0.1'),
    // Below 64 bytes not even a small reserve fits in a frame.
    maxPayloadBytes: z.int().min(64).default(65_536),
    maxBackpressureBytes: z.int().min(1_024).default(1_048_576),
    idleTimeoutSec: idleTimeoutSec.default(120),
    maxSubscriptionsPerConnection: positive.default(1_000),
    httpBodyLimitBytes: z.int().min(1_024).default(67_108_864),
    feedBodyLimitBytes: z.int().min(1_024).default(4_294_967_296),
    allowedOrigins: z.array(label).prefault([]),
    shutdownGraceMs: z.int().min(0).default(10_000),
    // Worker threads, each owning a shard of the SKUs and of the orders and a gateway on the
    // same port (docs/scaling.md). 1 runs everything on the main thread. `auto`: the count the
    // data holds, else one per core (gateway/shards/layout.ts resolveWorkers).
    workers: z.union([z.int().min(1).max(64), z.literal('auto')]).default('auto'),
    // Relative to the working directory, as persistence.dir is: `npm run build` writes it.
    consoleDir: z.string().min(1).max(4_096).default('dist/console'),
  })
  .superRefine(
    (s, ctx) => {
      if (s.metricsPort !== null && s.metricsPort !== 0 && s.metricsPort === s.port) {
        ctx.addIssue({
          code: 'custom',
          path: ['metricsPort'],
          message: `expected a port other than server.port (${s.port}), or null to serve /metrics on it`,
        });
      }
    },
    { when: whenReadable(['port'], ['metricsPort']) },
  );

const apiKey = z
  .strictObject({
    // Sent in headers and in a WebSocket subprotocol, where spaces and control characters break it.
    key: z.string().regex(/^[\x21-\x7e]{16,}$/, {
      message: 'expected at least 16 printable ASCII characters, without spaces',
    }),
    name: label,
    role: z.enum(['storefront', 'location', 'admin']),
    channel: id.optional(),
    location: id.optional(),
  })
  .superRefine((k, ctx) => {
    // A key's scope is what the gateway authorises against, so a missing or stray one is an error.
    if (k.role === 'storefront' && k.channel === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message: 'a storefront key needs a channel',
      });
    }
    if (k.role === 'location' && k.location === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['location'],
        message: 'a location key needs a location',
      });
    }
    if (k.role !== 'storefront' && k.channel !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message: `a ${k.role} key has no channel`,
      });
    }
    if (k.role === 'admin' && k.location !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['location'], message: 'an admin key has no location' });
    }
  });

const auth = z.strictObject({
  apiKeys: z
    .array(apiKey)
    .prefault([])
    .superRefine(...uniqueField('key', 'key', 'auth.apiKeys'))
    // Names label logs and metrics: two keys under one name could not be told apart.
    .superRefine(...uniqueField('name', 'name', 'auth.apiKeys')),
  rateLimit: z
    .strictObject({
      // A fraction is a rate slower than one a second (0.5: one every two seconds).
      perSecond: z.number().positive().max(1e9).default(20_000),
      burst: positive.default(40_000),
    })
    .prefault({}),
});

// The engine's defaults are written once, in the engine (ENGINE_DEFAULTS); the schema adds the
// limits a configuration file may set.
const engine = z.strictObject({
  partitions: z.int().min(1).max(4_096).default(ENGINE_DEFAULTS.partitions),
  maxQueuedPerSku: positive.default(ENGINE_DEFAULTS.maxQueuedPerSku),
  conflationMs: z.int().min(1).max(10_000).default(ENGINE_DEFAULTS.conflationMs),
  maxReservationTtlMs: z.int().min(1_000).default(ENGINE_DEFAULTS.maxReservationTtlMs),
  tombstoneTtlMs: z.int().min(0).default(ENGINE_DEFAULTS.tombstoneTtlMs),
  idempotencyWindow: positive.default(ENGINE_DEFAULTS.idempotencyWindow),
});

// Where the engine keeps its state. 'file' (the default) needs no server; 'redis' is production;
// 'memory' keeps nothing across a restart (tests, demos).
const persistence = z.strictObject({
  store: z.enum(['file', 'redis', 'memory']).default('file'),
  dir: label.default('./data'),
  fsync: z.enum(['always', 'never']).default('always'),
  segmentBytes: z.int().min(1_048_576).default(67_108_864),
  snapshotEveryRecords: positive.default(500_000),
  snapshotGrowthPercent: z.int().min(0).max(10_000).default(100),
  snapshotEverySeconds: positive.default(300),
  snapshotChunkBooks: z.int().min(1).max(100_000).default(50),
  redis: z
    .strictObject({
      url: label.default('redis://127.0.0.1:6379'),
      keyPrefix: label.default('stockflow:shard0'),
      strict: z.boolean().default(false),
      commandTimeoutMs: z.int().min(50).default(2_000),
      connectTimeoutMs: z.int().min(50).default(5_000),
    })
    .prefault({}),
});

// Stock feeds that arrive other than over HTTP. A Redis Stream that location systems XADD rows to
// (docs/api.md, "From a Redis Stream"); null (the default) reads none.
const redisStream = z.strictObject({
  url: label.default('redis://127.0.0.1:6379'),
  key: label.default('stockflow:feeds'),
  group: label.default('stockflow'),
  // Each server reading the group needs its own name: a name owns its pending entries.
  consumer: label.default('stockflow-1'),
  // At most one feed batch (1,000 rows) per read: the batch is what is acked at once.
  batch: z.int().min(1).max(1_000).default(500),
  // Redis answers a blocked read with nothing after this long; shutdown waits at most this.
  blockMs: z.int().min(10).max(60_000).default(2_000),
});

const feeds = z.strictObject({
  redisStream: redisStream.nullable().default(null),
});

const location = z
  .strictObject({
    id,
    type: label,
    name: label.optional(),
    lat: z.number().min(-90).max(90).optional(),
    lon: z.number().min(-180).max(180).optional(),
    // Master data the ERP usually sends (docs/erp.md); left out here, what it sent is kept.
    capacity: positive.max(1_000_000_000).nullable().optional(),
    channels: z.array(id).max(100).nullable().optional(),
    pickup: z.boolean().optional(),
  })
  .superRefine((l, ctx) => {
    // Sourcing by distance needs both halves of a coordinate.
    if ((l.lat === undefined) !== (l.lon === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'expected lat and lon together, or neither',
      });
    }
  });

const product = z.strictObject({
  sku: id,
  group: label.optional(),
  attributes: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string().max(256))
    .refine((a) => Object.keys(a).length <= 32, { message: 'expected at most 32 attributes' })
    .optional(),
  prices: z
    .record(z.string().regex(/^[A-Z]{3}$/), z.int().min(0))
    .refine((p) => Object.keys(p).length <= 16, { message: 'expected at most 16 prices' })
    .optional(),
});

export const configSchema = z
  .strictObject({
    server: server.prefault({}),
    auth: auth.prefault({}),
    engine: engine.prefault({}),
    persistence: persistence.prefault({}),
    rules: rules.prefault({}),
    locations: z
      .array(location)
      .prefault([])
      .superRefine(...uniqueField('id', 'location', 'locations')),
    products: z
      .array(product)
      .prefault([])
      .superRefine(...uniqueField('sku', 'sku', 'products')),
    orders: orders.prefault({}),
    erp: z.strictObject({ settlement: settlement.prefault({}) }).prefault({}),
    feeds: feeds.prefault({}),
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info'),
      })
      .prefault({}),
  })
  .superRefine(
    (c, ctx) => {
      // Checks across sections: each one keeps a setting from contradicting another.
      const channels = new Set(c.rules.channels.map((ch) => ch.id));
      c.auth.apiKeys.forEach((k, index) => {
        if (k.channel !== undefined && !channels.has(k.channel)) {
          ctx.addIssue({
            code: 'custom',
            path: ['auth', 'apiKeys', index, 'channel'],
            message: `expected one of the channels in rules.channels (${[...channels].join(', ')})`,
          });
        }
      });
      c.rules.channels.forEach((ch, index) => {
        if (
          ch.reservationTtlMs !== undefined &&
          ch.reservationTtlMs > c.engine.maxReservationTtlMs
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', 'channels', index, 'reservationTtlMs'],
            message: `expected at most engine.maxReservationTtlMs (${c.engine.maxReservationTtlMs})`,
          });
        }
      });
    },
    {
      when: whenReadable(
        ['rules', 'channels', '*', 'id'],
        ['rules', 'channels', '*', 'reservationTtlMs'],
        ['auth', 'apiKeys', '*', 'channel'],
        ['engine', 'maxReservationTtlMs'],
      ),
    },
  );

type DeepReadonly<T> = T extends readonly (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated configuration; frozen all the way down at run time, read-only in its type. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;
export type ServerConfig = Config['server'];
export type AuthConfig = Config['auth'];
export type ApiKeyConfig = AuthConfig['apiKeys'][number];
export type ApiKeyRole = ApiKeyConfig['role'];
export type EngineConfig = Config['engine'];
export type PersistenceConfig = Config['persistence'];
export type RulesConfig = Config['rules'];
export type LocationConfig = Config['locations'][number];
export type ProductConfig = Config['products'][number];
export type OrdersConfig = Config['orders'];
export type SettlementConfig = Config['erp']['settlement'];
export type FeedsConfig = Config['feeds'];
export type RedisStreamFeedConfig = NonNullable<FeedsConfig['redisStream']>;
export type LogConfig = Config['log'];
export type LogLevel = LogConfig['level'];

/**
 * Resolves to T when T can be handed to the engine as U and names no key U lacks (assignability
 * alone would let a key renamed in the engine drift away unnoticed).
 */
type Fits<T extends U & Record<Exclude<keyof T, keyof U>, never>, U> = T;

// Compile-time only: when the engine's input types and this schema drift apart, tsc fails here.
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- the type check is the point
type EngineInputChecks = [
  Fits<RulesConfig, RulesInput>,
  Fits<RulesConfig['channels'][number], ChannelInput>,
  Fits<RulesConfig['buffers'][number], BufferRule>,
  Fits<RulesConfig['exclusions'][number], ExclusionRule>,
  Fits<RulesConfig['caps'][number], CapRule>,
  Fits<RulesConfig['pickupBuffers'][number], PickupBufferRule>,
  Fits<LocationConfig, LocationInput>,
  Fits<ProductConfig, ProductInput>,
  Fits<EngineConfig, Partial<EngineOptions>>,
];
