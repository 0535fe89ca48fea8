import { spawn } from 'node:child_process';
import { Packr, Unpackr } from 'msgpackr';
import { pino } from 'pino';
import WebSocket from 'ws';
import { StockEngine, type EngineOptions, type RulesInput } from '../../engine/index.ts';
import { OrderService, type SourcingProfile } from '../../orders/index.ts';
import {
  loadConfig,
  type ApiKeyConfig,
  type AuthConfig,
  type ServerConfig,
} from '../../config/index.ts';
import {
  createGateway,
  LocationPush,
  type Gateway,
  type GatewayConfig,
  type LocationPushOptions,
} from '../../gateway/index.ts';

export const KEYS = {
  admin: 'admin-key-0000000000000000',
  web: 'web-key-00000000000000000000',
  app: 'app-key-00000000000000000000',
  dc1: 'dc1-key-00000000000000000000',
  store1: 'store1-key-0000000000000000',
} as const;

export const RULES: RulesInput = {
  channels: [
    { id: 'web', priority: 1 },
    { id: 'app', priority: 2 },
  ],
};

export const LOCATIONS = [
  { id: 'dc1', type: 'dc' },
  { id: 'store1', type: 'store' },
  { id: 'store2', type: 'store' },
];

/** What a test may change: `server` settings, and the `apiKeys` and `rateLimit` of `auth`. */
export type GatewayOverrides = Partial<ServerConfig> & {
  readonly apiKeys?: readonly ApiKeyConfig[];
  readonly rateLimit?: AuthConfig['rateLimit'];
};

/** The harness's gateway settings, validated and frozen by loadConfig as `npm start` does. */
export function gatewayConfig(overrides: GatewayOverrides = {}): GatewayConfig {
  const {
    apiKeys = [
      { key: KEYS.admin, name: 'ops', role: 'admin' },
      { key: KEYS.web, name: 'web-shop', role: 'storefront', channel: 'web' },
      { key: KEYS.app, name: 'mobile-app', role: 'storefront', channel: 'app' },
      { key: KEYS.dc1, name: 'dc1-wms', role: 'location', location: 'dc1' },
      { key: KEYS.store1, name: 'store1-pos', role: 'location', location: 'store1' },
    ],
    rateLimit = { perSecond: 1_000_000, burst: 1_000_000 },
    ...server
  } = overrides;
  return loadConfig({
    env: {},
    values: {
      server: {
        host: '127.0.0.1',
        port: 0,
        metricsPort: null,
        metricsHost: '127.0.0.1',
        maxPayloadBytes: 16 * 1024,
        maxBackpressureBytes: 1024 * 1024,
        idleTimeoutSec: 60,
        maxSubscriptionsPerConnection: 100,
        httpBodyLimitBytes: 1024 * 1024,
        allowedOrigins: [],
        shutdownGraceMs: 5_000,
        ...server,
      },
      auth: { apiKeys, rateLimit },
      rules: RULES,
    },
  });
}

/** Deepest stock first, up to two shipments (the harness locations have no coordinates). */
const DEEPEST_STOCK: SourcingProfile = {
  name: 'deepest',
  criteria: [{ criterion: 'stockDepth', weight: 1 }],
  typePreference: ['dc', 'store'],
  capacity: 'penalise',
  split: { policy: 'maxShipments', max: 2 },
  maxDistanceKm: null,
};

/** An order service on the engine, sending location messages through the gateway's push. */
export function orderService(engine: StockEngine, push: LocationPush): OrderService {
  const service = new OrderService({
    stock: engine.stock,
    clock: engine.clock,
    profiles: [DEEPEST_STOCK],
    selection: [],
    defaultProfile: DEEPEST_STOCK.name,
    locations: [],
    acceptTimeoutMs: 3_600_000,
    maxSourcingAttempts: 3,
    backorderRetryMs: 60_000,
    retainCompletedMs: 86_400_000,
    notifyCustomers: false,
    transportFor: (stream) => push.transportFor(stream),
    outbox: { maxInFlight: 16, backoffBaseMs: 50, backoffMaxMs: 1_000 },
  });
  service.start();
  return service;
}

export interface Running {
  readonly engine: StockEngine;
  readonly gateway: Gateway;
  /** The order service, when started with `orders`. */
  readonly orders: OrderService | null;
  readonly port: number;
  readonly metricsPort: number | null;
  readonly base: string;
  /** fetch against the gateway with a key (or none). */
  http(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export async function start(
  options: {
    gateway?: GatewayOverrides;
    engine?: Partial<EngineOptions>;
    skus?: number;
    logLevel?: string;
    /** Builds the order service to expose (e.g. `orderService`). */
    orders?: (engine: StockEngine, push: LocationPush) => OrderService;
    push?: LocationPushOptions;
  } = {},
): Promise<Running> {
  const skus = options.skus ?? 10;
  const engine = new StockEngine({
    rules: RULES,
    locations: LOCATIONS,
    products: Array.from({ length: skus }, (_, i) => ({ sku: `sku-${i + 1}` })),
    partitions: 8,
    conflationMs: 5,
    ...options.engine,
  });
  const logger = pino({ level: options.logLevel ?? process.env.GATEWAY_TEST_LOG ?? 'silent' });
  const locationPush = new LocationPush(options.push);
  const orders = options.orders?.(engine, locationPush) ?? null;
  const gateway = createGateway(engine, gatewayConfig(options.gateway), logger, {
    orders: orders ?? undefined,
    locationPush,
  });
  const { port, metricsPort } = await gateway.listen();
  const base = `http://127.0.0.1:${port}`;
  return {
    engine,
    gateway,
    orders,
    port,
    metricsPort,
    base,
    http(path, init = {}) {
      const { key = KEYS.admin, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null) headers.set('authorization', `Bearer ${key}`);
      return fetch(`${base}${path}`, { ...rest, headers });
    },
    async stop() {
      await gateway.close();
      await orders?.stop();
      await engine.stop();
    },
  };
}

/** Loads a location's stock through the HTTP snapshot route (NDJSON). */
export async function loadStock(
  r: Running,
  location: string,
  levels: Record<string, number>,
  asOf: number,
): Promise<void> {
  const body = Object.entries(levels)
    .map(([sku, onHand]) => JSON.stringify({ sku, onHand }))
    .join('\n');
  const res = await r.http(`/v1/inventory/snapshots?location=${location}&asOf=${asOf}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
  if (res.status !== 200) throw new Error(`snapshot failed: ${res.status} ${await res.text()}`);
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export type Message = Record<string, unknown> & { op: string };

/** Waits for `promise` at most `ms`, failing with `what` (helpers wait on events, not sleeps). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => {
      clearTimeout(timer);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
    }),
  ]);
}

interface Waiter {
  readonly match: (m: Message) => boolean;
  readonly resolve: (m: Message) => void;
}

/** A real WebSocket client (the `ws` package) speaking JSON or msgpack. */
export class Client {
  readonly received: Message[] = [];
  private waiters: Waiter[] = [];
  private nextId = 1;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    readonly binary: boolean,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString('utf8'))) as Message;
      this.received.push(m);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) {
        if (w.match(m)) w.resolve(m);
        else this.waiters.push(w);
      }
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  static connect(
    port: number,
    options: {
      key?: string | null;
      binary?: boolean;
      headers?: Record<string, string>;
      protocols?: string[];
      query?: string;
    } = {},
  ): Promise<Client> {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? KEYS.admin : options.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const ws = new WebSocket(
      `ws://127.0.0.1:${port}/v1/ws${options.query ?? ''}`,
      options.protocols,
      {
        headers,
      },
    );
    const client = new Client(ws, options.binary ?? false);
    return within(
      new Promise<Client>((resolve, reject) => {
        ws.once('open', () => {
          resolve(client);
        });
        ws.once('unexpected-response', (_req, res) => {
          reject(new UpgradeRefused(res.statusCode ?? 0));
          ws.terminate();
        });
        ws.once('error', reject);
      }),
      5_000,
      'websocket open',
    );
  }

  send(message: object): void {
    if (this.binary) this.ws.send(packr.pack(message));
    else this.ws.send(JSON.stringify(message));
  }

  /** Sends a request with a fresh id and waits for the reply carrying it. */
  request(message: object, ms = 5_000): Promise<Message> {
    const id = this.nextId++;
    const reply = this.next((m) => m.id === id && m.op !== 'availability', ms, `reply to ${id}`);
    this.send({ ...message, id });
    return reply;
  }

  /** The next message (already received or still to come) that matches. */
  next(match: (m: Message) => boolean, ms = 5_000, what = 'a message'): Promise<Message> {
    const seen = this.received.find(match);
    if (seen !== undefined) {
      this.received.splice(this.received.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return within(
      new Promise<Message>((resolve) => {
        this.waiters.push({
          match,
          resolve: (m) => {
            this.received.splice(this.received.indexOf(m), 1);
            resolve(m);
          },
        });
      }),
      ms,
      what,
    );
  }

  /** The next availability delta on `topic` satisfying `match`. */
  delta(
    topic: string,
    match: (available: number) => boolean = () => true,
    ms = 5_000,
  ): Promise<Message> {
    return this.next(
      (m) => m.op === 'availability' && m.topic === topic && match(m.available as number),
      ms,
      `a delta on ${topic}`,
    );
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return within(this.closed, 5_000, 'websocket close');
  }
}

/** `promtool check metrics` on an exposition body. */
export function promtool(body: string): Promise<{ code: number | null; out: string }> {
  return within(
    new Promise((resolve, reject) => {
      const child = spawn('/usr/bin/promtool', ['check', 'metrics'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        resolve({ code, out });
      });
      child.stdin.end(body);
    }),
    20_000,
    'promtool',
  );
}

export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with ${status}`);
  }
}

export { packr, unpackr };
