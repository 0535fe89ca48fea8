import { isRequestId, type RequestId } from './message-schemas.ts';

/**
 * Hand-written shape checks for the three hot ops (reserve, release, confirm) on the WebSocket.
 * They accept and refuse exactly what their zod schemas in message-schemas.ts do (reserveMessage,
 * batchedReserve, ...), give the same value, and word the first problem the same way
 * (`path: message`, as describeIssue does), which test/gateway/hot-shapes.test.ts checks against
 * the schemas on random frames. zod stays the description of every other shape; here it cost a
 * few hundred nanoseconds per frame on the path every reserve takes.
 *
 * Each check returns the message's fields in one object shape (absent optional fields are
 * `undefined`), or a ShapeProblem.
 */

/** What a reserve carries, from a frame, a batch item or an HTTP body alike. */
export interface ReserveInput {
  readonly reservationId: string;
  readonly channel: string;
  readonly sku: string;
  readonly qty: number;
  readonly location?: string | undefined;
  readonly ttlMs?: number | undefined;
}

export interface ReleaseInput {
  readonly reservationId: string;
}

export interface ConfirmInput {
  readonly reservationId: string;
  readonly orderId: string;
}

/** What is wrong with a frame: the first problem, in the words describeIssue gives zod's. */
export class ShapeProblem {
  constructor(readonly message: string) {}
}

export interface ReserveFrame extends ReserveInput {
  readonly id: RequestId | undefined;
  readonly op: 'reserve';
}

export interface ReleaseFrame extends ReleaseInput {
  readonly id: RequestId | undefined;
  readonly op: 'release';
}

export interface ConfirmFrame extends ConfirmInput {
  readonly id: RequestId | undefined;
  readonly op: 'confirm';
}

const ID_PROBLEM = 'id: id must be a string or a number';

/** zod's name for what it was given (core/util.js parsedType, as its English messages show it). */
function received(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? 'number' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'array';
      const ctor: unknown = (value as { constructor?: unknown }).constructor;
      if (Object.getPrototypeOf(value) !== Object.prototype && 'constructor' in value && ctor) {
        return String((ctor as { name?: unknown }).name);
      }
      return 'object';
    }
    default:
      return typeof value;
  }
}

function wrongType(path: string, expected: string, value: unknown): ShapeProblem {
  const message = `Invalid input: expected ${expected}, received ${received(value)}`;
  return new ShapeProblem(path === '' ? message : `${path}: ${message}`);
}

/** The object itself, or the problem; zod's z.object takes any non-array object. */
function asObject(value: unknown): Record<string, unknown> | ShapeProblem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return wrongType('', 'object', value);
  }
  return value as Record<string, unknown>;
}

function idProblem(id: unknown, required: boolean): ShapeProblem | null {
  if (id === undefined && !required) return null;
  return isRequestId(id) ? null : new ShapeProblem(ID_PROBLEM);
}

function opProblem(op: unknown, expected: string): ShapeProblem | null {
  return op === expected ? null : new ShapeProblem(`op: Invalid input: expected "${expected}"`);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A reserve frame (`idRequired`) or a reserve inside a batch. */
export function checkReserve(value: unknown, idRequired: boolean): ReserveFrame | ShapeProblem {
  const m = asObject(value);
  if (m instanceof ShapeProblem) return m;
  const { id, op, reservationId, channel, sku, qty, location, ttlMs } = m;
  const problem = idProblem(id, idRequired) ?? opProblem(op, 'reserve');
  if (problem !== null) return problem;
  if (typeof reservationId !== 'string') return wrongType('reservationId', 'string', reservationId);
  if (typeof channel !== 'string') return wrongType('channel', 'string', channel);
  if (typeof sku !== 'string') return wrongType('sku', 'string', sku);
  if (!isNumber(qty)) return wrongType('qty', 'number', qty);
  if (location !== undefined && typeof location !== 'string') {
    return wrongType('location', 'string', location);
  }
  if (ttlMs !== undefined && !isNumber(ttlMs)) return wrongType('ttlMs', 'number', ttlMs);
  return {
    id: id as RequestId | undefined,
    op: 'reserve',
    reservationId,
    channel,
    sku,
    qty,
    location,
    ttlMs,
  };
}

/** A release frame (`idRequired`) or a release inside a batch. */
export function checkRelease(value: unknown, idRequired: boolean): ReleaseFrame | ShapeProblem {
  const m = asObject(value);
  if (m instanceof ShapeProblem) return m;
  const { id, op, reservationId } = m;
  const problem = idProblem(id, idRequired) ?? opProblem(op, 'release');
  if (problem !== null) return problem;
  if (typeof reservationId !== 'string') return wrongType('reservationId', 'string', reservationId);
  return { id: id as RequestId | undefined, op: 'release', reservationId };
}

/** A confirm frame (`idRequired`) or a confirm inside a batch. */
export function checkConfirm(value: unknown, idRequired: boolean): ConfirmFrame | ShapeProblem {
  const m = asObject(value);
  if (m instanceof ShapeProblem) return m;
  const { id, op, reservationId, orderId } = m;
  const problem = idProblem(id, idRequired) ?? opProblem(op, 'confirm');
  if (problem !== null) return problem;
  if (typeof reservationId !== 'string') return wrongType('reservationId', 'string', reservationId);
  if (typeof orderId !== 'string') return wrongType('orderId', 'string', orderId);
  return { id: id as RequestId | undefined, op: 'confirm', reservationId, orderId };
}
