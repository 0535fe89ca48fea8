import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../engine/index.ts';
import type { DeliveryOutcome, OutboxMessage, OutboxTransport } from '../orders/index.ts';

/** Where one stream's messages go, and the secret both sides sign with. */
export interface WebhookTarget {
  readonly url: string;
  readonly secret: string;
}

const DEFAULT_USER_AGENT = 'Stockflow-Webhooks/1';
/** Stripe's default: wide enough for clock skew and a slow receiver, narrow enough to stop replays. */
const DEFAULT_TOLERANCE_SEC = 300;
/** Bodies up to this are read to the end so the connection goes back to the pool; longer ones are cut off. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** How much of a failure's response body goes into the outcome's error, for whoever reads the dead letters. */
const ERROR_SNIPPET_CHARS = 200;
const SIGNATURE_HEX = /^[0-9a-f]{64}$/i;
const TIMESTAMP = /^\d{1,15}$/;

/**
 * Statuses worth another attempt: 408 and 429 say "later", 425 "too early", 5xx a receiver in
 * trouble. 409 too: under the Idempotency-Key draft (draft-ietf-httpapi-idempotency-key-header) a
 * 409 means a request with the same key is still being processed, which is exactly what a retry
 * after our timeout meets; the retry gets the first request's answer once it is done. Every
 * other non-2xx (3xx included: redirects are not followed, so a moved endpoint is a
 * configuration error) would fail the same way again and is dead-lettered.
 */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/** The header value for a body signed at `timestampSec`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (the Stripe scheme). */
export function signPayload(secret: string, timestampSec: number, body: string): string {
  return `t=${timestampSec},v1=${hmacHex(secret, `${timestampSec}`, body)}`;
}

/**
 * Checks a signature header against the raw body: constant-time compare (crypto.timingSafeEqual),
 * rejects timestamps older than toleranceSec. Timestamps as far in the future are rejected too, so
 * a skewed clock cannot stretch the replay window. Several `v1` entries are accepted, any one
 * matching, as in Stripe's scheme.
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  nowSec: number,
  toleranceSec: number = DEFAULT_TOLERANCE_SEC,
): boolean {
  let timestamp: string | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== null || !TIMESTAMP.test(value)) return false;
      timestamp = value;
    } else if (key === 'v1' && SIGNATURE_HEX.test(value)) {
      signatures.push(value);
    }
  }
  if (timestamp === null || signatures.length === 0) return false;
  if (!(Math.abs(nowSec - Number(timestamp)) <= toleranceSec)) return false;
  const expected = Buffer.from(hmacHex(secret, timestamp, body), 'hex');
  let match = false;
  // every candidate is compared, so the time taken does not say which one matched
  for (const signature of signatures) {
    if (timingSafeEqual(expected, Buffer.from(signature, 'hex'))) match = true;
  }
  return match;
}

function hmacHex(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Delivers outbox messages as signed HTTP POSTs. Every answer becomes a DeliveryOutcome: `send`
 * never throws, so the dispatcher's retry rules see every failure the same way. The request
 * carries the message id three ways (body `id`, `stockflow-event-id`, `idempotency-key`) so a
 * receiver can drop duplicates with whatever it already has. The timeout runs on real time
 * (`AbortSignal.timeout`): it bounds network I/O, which no simulated clock drives; the injected
 * clock only stamps the signature. A test hands its own `timeout` to fire it when it chooses.
 */
export class WebhookTransport implements OutboxTransport {
  private readonly url: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly userAgent: string;
  private readonly timeout: (ms: number) => AbortSignal;

  constructor(
    target: WebhookTarget,
    options: {
      readonly timeoutMs: number;
      readonly clock: Clock;
      readonly userAgent?: string;
      /** The signal that ends a request after `ms`; AbortSignal.timeout unless a test drives it. */
      readonly timeout?: (ms: number) => AbortSignal;
    },
  ) {
    const url = new URL(target.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RangeError(`webhook url must be http or https, got ${url.protocol}`);
    }
    if (!(options.timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`);
    }
    this.url = url.href;
    this.secret = target.secret;
    this.timeoutMs = options.timeoutMs;
    this.clock = options.clock;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.timeout = options.timeout ?? ((ms) => AbortSignal.timeout(ms));
  }

  async send(message: OutboxMessage): Promise<DeliveryOutcome> {
    let body: string;
    try {
      body = JSON.stringify({
        id: message.messageId,
        type: message.type,
        orderId: message.orderId,
        createdAt: new Date(message.createdAt).toISOString(),
        data: message.body ?? null,
      });
    } catch (error) {
      // a circular or BigInt body, or a createdAt that is no date, fails the same way every time
      return {
        ok: false,
        retryable: false,
        status: null,
        error: `unserialisable: ${describe(error)}`,
      };
    }
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: this.timeout(this.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'stockflow-signature': signPayload(
            this.secret,
            Math.floor(this.clock.now() / 1000),
            body,
          ),
          'stockflow-event-id': message.messageId,
          'idempotency-key': message.messageId,
          'user-agent': this.userAgent,
        },
      });
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `timed out after ${this.timeoutMs} ms`
          : describe(error);
      return { ok: false, retryable: true, status: null, error: reason };
    }
    const status = response.status;
    const text = await drain(response);
    if (status >= 200 && status < 300) return { ok: true, status };
    const snippet = text.length > 0 ? `: ${text.slice(0, ERROR_SNIPPET_CHARS)}` : '';
    return {
      ok: false,
      retryable: retryableStatus(status),
      status,
      error: `HTTP ${status}${snippet}`,
    };
  }
}

/**
 * Reads the body to its end (up to a limit) so undici can reuse the socket; a longer body is
 * cancelled. A body that fails mid-way changes nothing: the status already decided the outcome.
 */
async function drain(response: Response): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  // undici's body is bytes; @types/node types the global Response's body as ReadableStream<any>
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > DRAIN_LIMIT_BYTES) {
        await reader.cancel();
        break;
      }
      chunks.push(value);
    }
  } catch {
    return '';
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The error and its cause's code (ECONNREFUSED, ...): undici's own message is only "fetch failed". */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${error.message}: ${code ?? cause.message}`;
  }
  return error.message;
}
