import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, ApiKeyRole } from '../config/index.ts';
import {
  fillSharedBucket,
  SHARED_BUCKET_BYTES,
  sharedTokenBucket,
  TokenBucket,
  type RateBucket,
} from './rate-limit.ts';

/** Who is calling: one per configured API key, shared by all its connections and requests. */
export class Principal {
  readonly name: string;
  readonly role: ApiKeyRole;
  /** The channel of a storefront key, else null. */
  readonly channel: string | null;
  /** The location of a location key, else null. */
  readonly location: string | null;
  readonly bucket: RateBucket;

  constructor(options: ApiKeyConfig, bucket: RateBucket) {
    this.name = options.name;
    this.role = options.role;
    this.channel = options.role === 'storefront' ? (options.channel ?? null) : null;
    this.location = options.role === 'location' ? (options.location ?? null) : null;
    this.bucket = bucket;
  }

  get isAdmin(): boolean {
    return this.role === 'admin';
  }

  /** May this key see and reserve on `channel`? */
  mayUseChannel(channel: string): boolean {
    return this.role === 'admin' || (this.role === 'storefront' && this.channel === channel);
  }

  /** May this key feed stock of `location`? */
  mayFeedLocation(location: string): boolean {
    return this.role === 'admin' || (this.role === 'location' && this.location === location);
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The configured keys, held as SHA-256 digests. A presented key is hashed and compared against
 * every digest with timingSafeEqual, without stopping at a match, so the time taken does not
 * depend on which key (if any) matched nor on how much of it was right.
 */
export class ApiKeyRing {
  private readonly digests: Buffer[] = [];
  private readonly principals: Principal[] = [];

  constructor(
    keys: readonly ApiKeyConfig[],
    rate: { perSecond: number; burst: number },
    now: () => number,
    /** With worker threads: the shared memory of every key's bucket (sharedRateMemory). */
    shared: SharedArrayBuffer | null = null,
  ) {
    keys.forEach((k, i) => {
      this.digests.push(digest(k.key));
      const bucket =
        shared === null
          ? new TokenBucket(rate.burst, rate.perSecond, now)
          : sharedTokenBucket(shared, i * SHARED_BUCKET_BYTES, rate.burst, rate.perSecond);
      this.principals.push(new Principal(k, bucket));
    });
  }

  /** The principal of a key, or null for an unknown (or empty) key. */
  verify(key: string): Principal | null {
    if (key.length === 0 || key.length > 512) return null;
    const presented = digest(key);
    let found: Principal | null = null;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(presented, this.digests[i] as Buffer) && found === null) {
        found = this.principals[i] ?? null;
      }
    }
    return found;
  }

  get all(): readonly Principal[] {
    return this.principals;
  }
}

const BEARER = /^bearer\s+(\S+)\s*$/i;
export const WS_PROTOCOL = 'stockflow.v1';
const KEY_PROTOCOL_PREFIX = 'key.';

/** Where a key may come from; header values as uWS hands them (lowercased names). */
export interface PresentedCredentials {
  readonly authorization: string;
  readonly xApiKey: string;
  /** `?apiKey=` (browsers cannot set headers on a WebSocket). */
  readonly queryKey: string;
  /** The Sec-WebSocket-Protocol header, e.g. `stockflow.v1, key.<key>`. */
  readonly protocols: string;
}

/** The key presented, by precedence: Authorization Bearer, x-api-key, ?apiKey=, subprotocol. */
export function presentedKey(c: PresentedCredentials): string {
  if (c.authorization.length > 0) {
    const m = BEARER.exec(c.authorization);
    return m?.[1] ?? '';
  }
  if (c.xApiKey.length > 0) return c.xApiKey.trim();
  if (c.queryKey.length > 0) return c.queryKey;
  if (c.protocols.length > 0) {
    for (const part of c.protocols.split(',')) {
      const p = part.trim();
      if (p.startsWith(KEY_PROTOCOL_PREFIX)) return p.slice(KEY_PROTOCOL_PREFIX.length);
    }
  }
  return '';
}

/**
 * The subprotocol to echo in the 101: `stockflow.v1` when the client offered it, else none.
 * The `key.<key>` entry is never echoed (it would put the key in the response).
 */
export function chosenProtocol(protocols: string): string {
  if (protocols.length === 0) return '';
  for (const part of protocols.split(',')) {
    if (part.trim() === WS_PROTOCOL) return WS_PROTOCOL;
  }
  return '';
}

/**
 * The shared memory for `keys` buckets, filled: made once by the main thread and handed to every
 * worker, so each key's rate limit is one budget for the whole process.
 */
export function sharedRateMemory(
  keys: number,
  rate: { perSecond: number; burst: number },
): SharedArrayBuffer {
  const memory = new SharedArrayBuffer(Math.max(1, keys) * SHARED_BUCKET_BYTES);
  for (let i = 0; i < keys; i++) {
    fillSharedBucket(memory, i * SHARED_BUCKET_BYTES, rate.burst);
  }
  return memory;
}
