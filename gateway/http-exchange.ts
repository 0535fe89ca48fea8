import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import type { JsonGuard } from './json-guard.ts';
import type { GatewayMetrics, OpLabel, ResultLabel } from './metrics.ts';

const STATUS_LINES: Readonly<Record<number, string>> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  409: '409 Conflict',
  413: '413 Content Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

/** A path parameter, percent-decoded; null when it is not valid percent-encoding. */
export function decodeParam(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/** HTTP status of each error code (docs/api.md, "Errors"). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BAD_REQUEST:
      return 400;
    case ErrorCode.UNAUTHORIZED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.NOT_FOUND:
      return 404;
    case ErrorCode.CONFLICT:
    case ErrorCode.INSUFFICIENT_STOCK:
      return 409;
    case ErrorCode.RATE_LIMITED:
      return 429;
    case ErrorCode.BUSY:
    case ErrorCode.UNAVAILABLE:
      return 503;
    case ErrorCode.INTERNAL:
      return 500;
  }
}

/** What every exchange reports to: metrics, the in-flight count (for a graceful close), logs. */
export interface ExchangeContext {
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  started(): void;
  finished(): void;
}

/**
 * One HTTP request and its response. uWS rules kept here in one place: an abort handler is
 * attached before anything asynchronous, writes are corked, and nothing touches the response
 * after it was aborted or ended.
 */
export class HttpExchange {
  aborted = false;
  /** A response has been written (or the request aborted): nothing more may be sent. */
  done = false;
  private readonly abortListeners: (() => void)[] = [];

  constructor(
    readonly res: HttpResponse,
    readonly op: OpLabel,
    readonly t0: number,
    private readonly ctx: ExchangeContext,
  ) {
    ctx.started();
    res.onAborted(() => {
      this.aborted = true;
      if (!this.done) {
        this.done = true;
        this.ctx.finished();
      }
      for (const listener of this.abortListeners) listener();
    });
  }

  /**
   * The route's first path parameter, percent-decoded; null after answering 400 when it is not
   * valid percent-encoding or empty (`what` names it in the message).
   */
  pathParam(req: HttpRequest, what: string): string | null {
    const value = decodeParam(req.getParameter(0));
    if (value === null || value.length === 0) {
      this.error(ErrorCode.BAD_REQUEST, `${what} is not valid percent-encoding`);
      return null;
    }
    return value;
  }

  onAbort(listener: () => void): void {
    this.abortListeners.push(listener);
  }

  json(
    status: number,
    value: unknown,
    result: ResultLabel = 'ok',
    headers?: Record<string, string>,
  ): void {
    this.send(status, 'application/json', JSON.stringify(value), result, headers);
  }

  /** An error reply: `{code, message, reason, available, ...details}` with the code's status. */
  error(
    code: ErrorCode,
    message: string,
    details: { reason?: string | null; available?: number | null; [key: string]: unknown } = {},
    options: { status?: number; retryAfterSec?: number; close?: boolean } = {},
  ): void {
    const status = options.status ?? httpStatusOf(code);
    const headers: Record<string, string> = {};
    if (code === ErrorCode.BUSY || code === ErrorCode.RATE_LIMITED) {
      headers['retry-after'] = String(options.retryAfterSec ?? 1);
    }
    const body = { code, message, reason: null, available: null, ...details };
    this.send(
      status,
      'application/json',
      JSON.stringify(body),
      code,
      headers,
      options.close === true,
    );
  }

  send(
    status: number,
    contentType: string,
    body: string,
    result: ResultLabel,
    headers?: Record<string, string>,
    closeConnection = false,
  ): void {
    if (this.done) return;
    this.done = true;
    this.ctx.metrics.op('http', this.op, result, performance.now() - this.t0);
    this.res.cork(() => {
      this.res.writeStatus(STATUS_LINES[status] ?? `${status} Status`);
      this.res.writeHeader('content-type', contentType);
      if (headers !== undefined) {
        for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
      }
      this.res.end(body, closeConnection);
    });
    this.ctx.finished();
  }

  /**
   * Reads the body as it arrives, chunk by chunk, up to `limit` bytes; beyond that the request
   * is answered 413 and the connection closed. `onChunk` gets a view that is only valid during
   * the call; it may return false to stop reading (it has answered).
   */
  readBody(limit: number, onChunk: (chunk: Uint8Array, isLast: boolean) => boolean): void {
    let size = 0;
    this.res.onData((chunk, isLast) => {
      if (this.done) return;
      size += chunk.byteLength;
      if (size > limit) {
        this.error(
          ErrorCode.BAD_REQUEST,
          `body exceeds ${limit} bytes`,
          { limit },
          { status: 413, close: true },
        );
        return;
      }
      try {
        onChunk(new Uint8Array(chunk), isLast);
      } catch (error) {
        this.fail(error);
      }
    });
  }

  /**
   * Reads a whole JSON body (bounded) and hands over the parsed value, or answers 400. An empty
   * body is handed over as `whenEmpty` when one is given (a body that is all optional fields).
   */
  readJson(
    limit: number,
    guard: JsonGuard,
    then: (value: unknown) => void,
    whenEmpty?: unknown,
  ): void {
    const parts: Buffer[] = [];
    let size = 0;
    this.readBody(limit, (chunk, isLast) => {
      parts.push(Buffer.from(chunk)); // copies: uWS neuters the chunk after this call
      size += chunk.byteLength;
      if (!isLast) return true;
      if (size === 0 && whenEmpty !== undefined) {
        then(whenEmpty);
        return true;
      }
      const bytes = Buffer.concat(parts, size);
      const verdict = guard.scan(bytes);
      if (verdict !== null) {
        this.error(ErrorCode.BAD_REQUEST, `body refused: ${verdict.replace(/_/g, ' ')}`);
        return false;
      }
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        this.error(ErrorCode.BAD_REQUEST, 'body is not valid JSON');
        return false;
      }
      if (guard.hasForbiddenKey(value)) {
        this.error(
          ErrorCode.BAD_REQUEST,
          'keys __proto__, constructor and prototype are not accepted',
        );
        return false;
      }
      then(value);
      return true;
    });
  }

  /** Logs a bug and answers 500. */
  fail(error: unknown): void {
    this.ctx.log.error({ err: error, op: this.op }, 'http handler failed');
    this.error(ErrorCode.INTERNAL, 'internal error');
  }
}
