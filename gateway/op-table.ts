import type { z } from 'zod';
import {
  ErrorCode,
  Reason,
  type ConfirmCommand,
  type ReleaseCommand,
  type ReserveCommand,
} from '../engine/index.ts';
import type { Principal } from './auth.ts';
import {
  checkConfirm,
  checkRelease,
  checkReserve,
  ShapeProblem,
  type ConfirmInput,
  type ReleaseInput,
  type ReserveInput,
} from './hot-shapes.ts';
import {
  ackMessage,
  batchMessage,
  cancelOrderMessage,
  fulfilmentAnswerMessage,
  placeOrderMessage,
  topicsMessage,
} from './message-schemas.ts';
import { AccessRefusal, reservationAccess, reservationChannel } from './reservation-access.ts';
import {
  receiveReturnMessage,
  refundReturnMessage,
  requestReturnMessage,
  resolveReturnHoldMessage,
} from './return-messages.ts';
import type { OrderOp } from './ws-orders.ts';
import type { ReplyOp } from './ws-protocol.ts';

/**
 * The gateway's operations, each written once (as Fastify's route records are): its schema, who
 * may call it, the engine command it builds, whether a `batch` may carry it and what it costs in
 * rate-limit tokens. The WebSocket handler, the batch path and the HTTP reservation routes all
 * read these records, so an op, its checks and its messages cannot drift apart per transport.
 */

/** Longest id field a request may carry (the engine's own limit: 1-128 characters). */
export const MAX_ID_LENGTH = 128;

/** An op's check failed before anything ran: answered as this code, reason and message. */
export class OpRefusal {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
    readonly reason: Reason | null,
  ) {}
}

function badRequest(message: string): OpRefusal {
  return new OpRefusal(ErrorCode.BAD_REQUEST, message, null);
}

/**
 * Every id field is length-checked here, before access is decided: a 10,000-character channel is
 * a malformed request (BAD_REQUEST), not a foreign channel (FORBIDDEN). What an id may contain is
 * the engine's line (engine/command-validation.ts), which answers with reason INVALID_ID.
 */
export function checkIdFields<I>(
  input: I,
  fields: readonly (keyof I & string)[],
): OpRefusal | null {
  for (const field of fields) {
    const value = input[field];
    if (value === undefined) continue;
    const length = (value as string).length;
    if (length === 0 || length > MAX_ID_LENGTH) {
      return idLengthRefusal(field, length);
    }
  }
  return null;
}

/** The refusal of an id field outside 1..MAX_ID_LENGTH characters. */
export function idLengthRefusal(field: string, length: number): OpRefusal {
  return new OpRefusal(
    ErrorCode.BAD_REQUEST,
    `${field}: expected 1-${MAX_ID_LENGTH} characters, got ${length}`,
    Reason.INVALID_ID,
  );
}

/** The one wording of a channel the key may not use (WebSocket and HTTP alike). */
export function channelRefusal(
  principal: Principal,
  channel: string,
  verb: 'use' | 'read' = 'use',
): OpRefusal {
  return new OpRefusal(
    ErrorCode.FORBIDDEN,
    `key ${principal.name} may not ${verb} channel ${channel}`,
    null,
  );
}

function fromAccess(refusal: AccessRefusal | null): OpRefusal | null {
  return refusal === null ? null : new OpRefusal(refusal.code, refusal.message, refusal.reason);
}

type EngineCommand = ReserveCommand | ReleaseCommand | ConfirmCommand;

/** How a reservation op is written: the parts of its record. */
interface CommandSpec<I> {
  readonly name: ReplyOp;
  /**
   * The shape check of a frame of its own (`idRequired`), or of one operation of a `batch` (its
   * own id optional: results are positional). Hand-written (hot-shapes.ts), held to the zod
   * schemas in message-schemas.ts by a property test.
   */
  readonly shape: (value: unknown, idRequired: boolean) => I | ShapeProblem;
  /** The id fields, length-checked before access. */
  readonly idFields: readonly (keyof I & string)[];
  /** Who may: null when the principal may run it with this input. */
  readonly access: (principal: Principal, input: I) => OpRefusal | null;
  /** The engine command; release and confirm carry the storefront's channel. */
  readonly command: (input: I, principal: Principal) => EngineCommand;
  readonly rateCost: number;
}

/**
 * A reservation op (reserve, release, confirm): an engine command, batchable. Each transport
 * enters it where its input is: a frame, a batch item, or an HTTP request already shaped.
 */
export class CommandOp<I> {
  readonly kind = 'command';
  readonly batchable = true;
  readonly name: ReplyOp;
  readonly rateCost: number;

  constructor(private readonly spec: CommandSpec<I>) {
    this.name = spec.name;
    this.rateCost = spec.rateCost;
  }

  /** A WebSocket frame: its shape, id lengths, access; then the command. */
  fromFrame(value: unknown, principal: Principal): EngineCommand | OpRefusal {
    return this.shaped(this.spec.shape(value, true), principal);
  }

  /** One operation of a batch. */
  fromBatch(value: unknown, principal: Principal): EngineCommand | OpRefusal {
    return this.shaped(this.spec.shape(value, false), principal);
  }

  /** An input whose shape is known (an HTTP body, a path parameter): id lengths, access. */
  fromInput(input: I, principal: Principal): EngineCommand | OpRefusal {
    const tooLong = checkIdFields(input, this.spec.idFields);
    if (tooLong !== null) return tooLong;
    return this.spec.access(principal, input) ?? this.spec.command(input, principal);
  }

  private shaped(input: I | ShapeProblem, principal: Principal): EngineCommand | OpRefusal {
    if (input instanceof ShapeProblem) return badRequest(input.message);
    return this.fromInput(input, principal);
  }
}

/** subscribe and unsubscribe: answered by the subscription hub. */
interface TopicsOp {
  readonly kind: 'topics';
  readonly name: 'subscribe' | 'unsubscribe';
  readonly frame: typeof topicsMessage;
  readonly batchable: false;
  readonly rateCost: number;
}

/** A batch of command ops; it costs `rateCost` per operation it carries. */
interface BatchOp {
  readonly kind: 'batch';
  readonly name: 'batch';
  readonly frame: typeof batchMessage;
  readonly batchable: false;
  readonly rateCost: number;
}

/** The order ops: answered by the order service (ws-orders.ts), when the gateway runs one. */
interface OrderOpRecord {
  readonly kind: 'order';
  readonly name: OrderOp;
  readonly frame: z.ZodType;
  readonly batchable: false;
  readonly rateCost: number;
}

export type OpRecord = CommandOp<ReserveInput> | CommandOp<ReleaseInput> | CommandOp<ConfirmInput>;
export type WsOpRecord = OpRecord | TopicsOp | BatchOp | OrderOpRecord;
export type WsOpName = WsOpRecord['name'];

export const RESERVE = new CommandOp<ReserveInput>({
  name: 'reserve',
  shape: checkReserve,
  idFields: ['reservationId', 'channel', 'sku', 'location'],
  access: (principal, m) =>
    principal.mayUseChannel(m.channel) ? null : channelRefusal(principal, m.channel),
  command: (m) => ({
    op: 'reserve',
    reservationId: m.reservationId,
    channel: m.channel,
    sku: m.sku,
    qty: m.qty,
    location: m.location,
    ttlMs: m.ttlMs,
  }),
  rateCost: 1,
});

export const RELEASE = new CommandOp<ReleaseInput>({
  name: 'release',
  shape: checkRelease,
  idFields: ['reservationId'],
  access: (principal) => fromAccess(reservationAccess(principal)),
  command: (m, principal) => ({
    op: 'release',
    reservationId: m.reservationId,
    channel: reservationChannel(principal),
  }),
  rateCost: 1,
});

export const CONFIRM = new CommandOp<ConfirmInput>({
  name: 'confirm',
  shape: checkConfirm,
  idFields: ['reservationId', 'orderId'],
  access: (principal) => fromAccess(reservationAccess(principal)),
  command: (m, principal) => ({
    op: 'confirm',
    reservationId: m.reservationId,
    orderId: m.orderId,
    channel: reservationChannel(principal),
  }),
  rateCost: 1,
});

const RECORDS: readonly WsOpRecord[] = [
  { kind: 'topics', name: 'subscribe', frame: topicsMessage, batchable: false, rateCost: 1 },
  { kind: 'topics', name: 'unsubscribe', frame: topicsMessage, batchable: false, rateCost: 1 },
  RESERVE,
  RELEASE,
  CONFIRM,
  { kind: 'batch', name: 'batch', frame: batchMessage, batchable: false, rateCost: 1 },
  { kind: 'order', name: 'placeOrder', frame: placeOrderMessage, batchable: false, rateCost: 1 },
  { kind: 'order', name: 'cancelOrder', frame: cancelOrderMessage, batchable: false, rateCost: 1 },
  {
    kind: 'order',
    name: 'fulfilmentAnswer',
    frame: fulfilmentAnswerMessage,
    batchable: false,
    rateCost: 1,
  },
  { kind: 'order', name: 'ack', frame: ackMessage, batchable: false, rateCost: 1 },
  // Returns (docs/returns.md): answered by the order service like the order ops.
  {
    kind: 'order',
    name: 'requestReturn',
    frame: requestReturnMessage,
    batchable: false,
    rateCost: 1,
  },
  {
    kind: 'order',
    name: 'receiveReturn',
    frame: receiveReturnMessage,
    batchable: false,
    rateCost: 1,
  },
  {
    kind: 'order',
    name: 'resolveReturnHold',
    frame: resolveReturnHoldMessage,
    batchable: false,
    rateCost: 1,
  },
  {
    kind: 'order',
    name: 'refundReturn',
    frame: refundReturnMessage,
    batchable: false,
    rateCost: 1,
  },
];

const BY_NAME = new Map<unknown, WsOpRecord>(RECORDS.map((r) => [r.name, r]));

/** The record of a WebSocket op, or undefined for anything else (not only strings). */
export function wsOp(op: unknown): WsOpRecord | undefined {
  return BY_NAME.get(op);
}

/** The record of an op a batch may carry, or undefined. */
export function batchableOp(op: unknown): OpRecord | undefined {
  const record = BY_NAME.get(op);
  return record?.batchable === true ? record : undefined;
}

function listed(names: readonly string[]): string {
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`;
}

const WS_NAMES = listed(RECORDS.map((r) => r.name));
const BATCH_NAMES = listed(RECORDS.filter((r) => r.batchable).map((r) => r.name));

function describeOp(op: unknown): string {
  return typeof op === 'string' ? JSON.stringify(op.slice(0, 40)) : typeof op;
}

/** The answer to an op name no record has. */
export function unknownOp(op: unknown): string {
  return `unknown op ${describeOp(op)}; expected ${WS_NAMES}`;
}

/** The answer to an op a batch may not carry. */
export function unknownBatchOp(op: unknown): string {
  return `unknown op ${describeOp(op)} in batch; expected ${BATCH_NAMES}`;
}
