import { ErrorCode, isValidId, StockflowError } from '../engine/index.ts';

/** The roles an API key can carry (see docs/api.md, "Auth model"). */
export type Role = 'storefront' | 'location' | 'admin';

export interface ApiKeyOptions {
  readonly key: string;
  /** Shown in logs and metrics instead of the key itself. */
  readonly name: string;
  readonly role: Role;
  /** The one channel a storefront key may use. */
  readonly channel?: string | undefined;
  /** The one location a location key may feed. */
  readonly location?: string | undefined;
}

export interface GatewayOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** A port of its own for /metrics, or null to serve /metrics on the main port. */
  readonly metricsPort: number | null;
  readonly metricsHost: string;
  /** Largest WebSocket frame accepted; a bigger one closes the connection (1009). */
  readonly maxPayloadBytes: number;
  /** Bytes buffered for a slow WebSocket reader before it is cut off. */
  readonly maxBackpressureBytes: number;
  /** 0 (off), or 8..960 (uWS rounds to its 4 s tick); pings keep healthy connections alive. */
  readonly idleTimeoutSec: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly httpBodyLimitBytes: number;
  /** Origins a browser may open the WebSocket from; empty allows any. */
  readonly allowedOrigins: readonly string[];
  /** How long close() waits for in-flight commands and requests. */
  readonly shutdownGraceMs: number;
  readonly apiKeys: readonly ApiKeyOptions[];
  /** Token bucket per API key: `perSecond` refill, `burst` capacity. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
}

// Options may come from untyped JSON: the role is checked at run time too.
const ROLES: readonly string[] = ['storefront', 'location', 'admin'];

function bad(message: string): StockflowError {
  return new StockflowError(ErrorCode.BAD_REQUEST, `gateway options: ${message}`);
}

function wholeAtLeast(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw bad(`${name} must be a whole number >= ${min}, got ${String(value)}`);
  }
}

/** Checks the options once at start and returns a frozen copy. Throws StockflowError. */
export function validateOptions(options: GatewayOptions): Readonly<GatewayOptions> {
  wholeAtLeast('port', options.port, 0);
  if (options.port > 65_535) throw bad('port must be <= 65535');
  if (options.metricsPort !== null) {
    wholeAtLeast('metricsPort', options.metricsPort, 0);
    if (options.metricsPort > 65_535) throw bad('metricsPort must be <= 65535');
  }
  wholeAtLeast('maxPayloadBytes', options.maxPayloadBytes, 64);
  wholeAtLeast('maxBackpressureBytes', options.maxBackpressureBytes, 1_024);
  wholeAtLeast('idleTimeoutSec', options.idleTimeoutSec, 0);
  // uWS aborts the process on an idle timeout outside 8..960 s (its timer ticks every 4 s).
  if (
    options.idleTimeoutSec !== 0 &&
    (options.idleTimeoutSec < 8 || options.idleTimeoutSec > 960)
  ) {
    throw bad('idleTimeoutSec must be 0 (off) or within 8..960');
  }
  wholeAtLeast('maxSubscriptionsPerConnection', options.maxSubscriptionsPerConnection, 1);
  wholeAtLeast('httpBodyLimitBytes', options.httpBodyLimitBytes, 1_024);
  wholeAtLeast('shutdownGraceMs', options.shutdownGraceMs, 0);
  if (!(options.rateLimit.perSecond > 0) || !(options.rateLimit.burst >= 1)) {
    throw bad('rateLimit needs perSecond > 0 and burst >= 1');
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  for (const k of options.apiKeys) {
    if (typeof k.key !== 'string' || k.key.length < 16 || !/^[\x21-\x7e]+$/.test(k.key)) {
      throw bad(`api key ${k.name}: key must be at least 16 printable ASCII characters`);
    }
    if (keys.has(k.key)) throw bad(`api key ${k.name}: the same key is listed twice`);
    if (names.has(k.name)) throw bad(`api key name ${k.name} is listed twice`);
    keys.add(k.key);
    names.add(k.name);
    if (k.role === 'storefront' && !isValidId(k.channel)) {
      throw bad(`api key ${k.name}: a storefront key needs a channel`);
    }
    if (k.role === 'location' && !isValidId(k.location)) {
      throw bad(`api key ${k.name}: a location key needs a location`);
    }
    if (!ROLES.includes(k.role)) {
      throw bad(`api key ${k.name}: unknown role ${k.role}`);
    }
  }
  return Object.freeze({
    ...options,
    allowedOrigins: Object.freeze([...options.allowedOrigins]),
    apiKeys: Object.freeze(options.apiKeys.map((k) => Object.freeze({ ...k }))),
    rateLimit: Object.freeze({ ...options.rateLimit }),
  });
}
