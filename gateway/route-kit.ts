import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Principal } from './auth.ts';
import type { HttpExchange } from './http-exchange.ts';
import type { OpLabel } from './metrics.ts';
import type { Answer } from './order-api.ts';

export type RouteHandler = (ex: HttpExchange, req: HttpRequest, principal: Principal) => void;

/** What every group of HTTP routes uses of the router: its guard for every route and helpers. */
export interface RouteKit {
  /** Exchange, key, rate limit, shutdown check, sampled log, catch-all; then `handler`. */
  route(res: HttpResponse, req: HttpRequest, op: OpLabel, handler: RouteHandler): void;
  /** Runs `then` with the value; a rejection answers the exchange (StockflowError: its code). */
  after<T>(ex: HttpExchange, pending: Promise<T>, then: (value: T) => void): void;
  /** Runs `then` with a read's answer: at once when it is here, as `after` when it is a promise. */
  answered<T>(ex: HttpExchange, answer: Answer<T>, then: (value: T) => void): void;
  /** Reads the JSON body within the body limit and guards (400 otherwise). */
  readJson(ex: HttpExchange, then: (value: unknown) => void, whenEmpty?: unknown): void;
  /** Answers a thrown error: a StockflowError with its code's status, anything else 500. */
  answerThrown(ex: HttpExchange, error: unknown): void;
}
