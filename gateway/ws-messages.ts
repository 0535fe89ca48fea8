import { ErrorCode, type CommandResult } from '../engine/index.ts';
import { BatchCollector, Pending, type Connection, type ResultHandler } from './connection.ts';
import type { GatewayContext } from './context.ts';
import { RejectedFrame } from './frame-codec.ts';
import {
  describeIssue,
  isRequestId,
  type batchMessage,
  type RequestId,
  type topicsMessage,
} from './message-schemas.ts';
import {
  batchableOp,
  OpRefusal,
  unknownBatchOp,
  unknownOp,
  wsOp,
  type OpRecord,
  type WsOpName,
} from './op-table.ts';
import {
  BatchReply,
  commandReply,
  ErrorReply,
  type SubscribeReply,
  type UnsubscribeReply,
} from './ws-protocol.ts';

type OpLabel = WsOpName | 'invalid';

/**
 * The WebSocket's messages: every frame is decoded, charged to the key's rate limit, looked up in
 * the op table (op-table.ts) and answered, a reply or an error reply carrying the request's id.
 * Reservation ops go to the engine, whose results come back through `delivered`.
 */
export class WsMessages implements ResultHandler {
  constructor(private readonly ctx: GatewayContext) {}

  /** One frame (valid only during this call). */
  handle(conn: Connection, frame: ArrayBuffer, binary: boolean, t0: number): void {
    // Every frame costs a token, whatever it holds (a batch costs more per extra operation).
    const admitted = conn.principal.bucket.take(1);
    const value = this.ctx.codec.decode(frame, binary);
    if (!admitted) {
      const msg =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
      this.rateLimited(conn, binary, opLabel(msg.op), isRequestId(msg.id) ? msg.id : null, t0);
      return;
    }
    if (value instanceof RejectedFrame) {
      this.ctx.metrics.frameRejected(value.reason);
      this.invalid(conn, binary, null, value.message, t0);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.ctx.metrics.frameRejected('schema');
      this.invalid(conn, binary, null, 'a message is an object with op and id', t0);
      return;
    }
    const msg = value as Record<string, unknown>;
    const id = isRequestId(msg.id) ? msg.id : null;
    if (id === null) {
      this.ctx.metrics.frameRejected('schema');
      const message = 'id must be a string (at most 128 characters) or a number';
      this.invalid(conn, binary, null, message, t0);
      return;
    }
    if (this.ctx.state.closing) {
      const reply = new ErrorReply(id, ErrorCode.UNAVAILABLE, 'the gateway is shutting down');
      this.error(conn, binary, opLabel(msg.op), reply, t0);
      return;
    }
    const record = wsOp(msg.op);
    if (record === undefined) {
      this.ctx.metrics.frameRejected('schema');
      this.invalid(conn, binary, id, unknownOp(msg.op), t0);
      return;
    }
    switch (record.kind) {
      case 'command':
        this.command(conn, record, msg, id, binary, t0);
        return;
      case 'topics':
        this.topics(conn, record.frame, msg, id, binary, t0);
        return;
      case 'batch':
        this.batch(conn, record.frame, msg, id, binary, t0);
        return;
      case 'order': {
        const orders = this.ctx.wsOrders;
        if (orders === null) {
          const reply = new ErrorReply(
            id,
            ErrorCode.NOT_FOUND,
            `op ${record.name} needs the order service, which this gateway does not run`,
          );
          this.error(conn, binary, record.name, reply, t0);
          return;
        }
        orders.handle(conn, record.name, msg, id, binary, t0);
        return;
      }
    }
  }

  private command(
    conn: Connection,
    record: OpRecord,
    msg: unknown,
    id: RequestId,
    binary: boolean,
    t0: number,
  ): void {
    const command = record.fromFrame(msg, conn.principal);
    if (command instanceof OpRefusal) {
      this.error(conn, binary, record.name, refused(id, command), t0);
      return;
    }
    this.ctx.engine.submit(command, conn, new Pending(id, record.name, binary, t0, null, 0));
  }

  private topics(
    conn: Connection,
    schema: typeof topicsMessage,
    msg: Record<string, unknown>,
    id: RequestId,
    binary: boolean,
    t0: number,
  ): void {
    const parsed = schema.safeParse(msg);
    if (!parsed.success) {
      const op = msg.op as 'subscribe' | 'unsubscribe';
      this.error(conn, binary, op, badRequest(id, describeIssue(parsed.error)), t0);
      return;
    }
    const m = parsed.data;
    const hub = this.ctx.hub;
    const reply =
      m.op === 'subscribe'
        ? hub.subscribe(conn, id, m.topics, binary)
        : hub.unsubscribe(conn, id, m.topics);
    if (reply instanceof Promise) {
      void reply.then((r) => {
        this.topicsAnswered(conn, m.op, r, binary, t0);
      });
    } else {
      this.topicsAnswered(conn, m.op, reply, binary, t0);
    }
  }

  private topicsAnswered(
    conn: Connection,
    op: 'subscribe' | 'unsubscribe',
    reply: SubscribeReply | UnsubscribeReply | ErrorReply,
    binary: boolean,
    t0: number,
  ): void {
    const result = reply instanceof ErrorReply ? reply.code : 'ok';
    this.ctx.metrics.op('ws', op, result, performance.now() - t0);
    conn.push(this.ctx.codec.encode(reply, binary));
  }

  private batch(
    conn: Connection,
    schema: typeof batchMessage,
    msg: unknown,
    id: RequestId,
    binary: boolean,
    t0: number,
  ): void {
    const parsed = schema.safeParse(msg);
    if (!parsed.success) {
      this.error(conn, binary, 'batch', badRequest(id, describeIssue(parsed.error)), t0);
      return;
    }
    const ops = parsed.data.ops;
    // The frame paid one token; each operation costs its record's tokens (unknown ones, one).
    let cost = -1;
    for (const item of ops) cost += batchableOp(opOf(item))?.rateCost ?? 1;
    if (cost > 0 && !conn.principal.bucket.take(cost)) {
      this.rateLimited(conn, binary, 'batch', id, t0);
      return;
    }
    const batch = new BatchCollector(id, binary, t0, ops.length);
    // Refusals are answered in place; the rest go to the engine.
    ops.forEach((item, index) => {
      const answer = this.batchItem(conn, item, batch, index, binary, t0);
      if (answer !== null) this.settleBatchItem(conn, batch, index, answer);
    });
  }

  /** Submits one operation of a batch; returns an error reply instead when it cannot go. */
  private batchItem(
    conn: Connection,
    item: unknown,
    batch: BatchCollector,
    index: number,
    binary: boolean,
    t0: number,
  ): ErrorReply | null {
    const op = opOf(item);
    const itemId =
      typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
    const id = isRequestId(itemId) ? itemId : null;
    const record = batchableOp(op);
    if (record === undefined) {
      return this.counted('invalid', badRequest(id, unknownBatchOp(op)), t0);
    }
    const command = record.fromBatch(item, conn.principal);
    if (command instanceof OpRefusal) return this.counted(record.name, refused(id, command), t0);
    this.ctx.engine.submit(command, conn, new Pending(id, record.name, binary, t0, batch, index));
    return null;
  }

  private counted(op: OpLabel, reply: ErrorReply, t0: number): ErrorReply {
    this.ctx.metrics.op('ws', op, reply.code, performance.now() - t0);
    return reply;
  }

  /** ResultSink path: an engine result for one of this connection's commands. */
  delivered(conn: Connection, result: CommandResult, tag: Pending): void {
    const ctx = this.ctx;
    ctx.metrics.op('ws', tag.op, result.ok ? 'ok' : result.code, performance.now() - tag.t0);
    if (tag.batch !== null) {
      this.settleBatchItem(conn, tag.batch, tag.index, commandReply(tag.op, tag.id, result));
      return;
    }
    if (ctx.requests.sample()) {
      ctx.requests.write({
        conn: conn.id,
        key: conn.principal.name,
        op: tag.op,
        id: tag.id,
        result: result.ok ? 'ok' : result.code,
        ms: performance.now() - tag.t0,
      });
    }
    conn.push(ctx.codec.result(tag.op, tag.id, result, tag.binary));
  }

  private settleBatchItem(
    conn: Connection,
    batch: BatchCollector,
    index: number,
    reply: BatchReply['results'][number],
  ): void {
    batch.results[index] = reply;
    batch.remaining--;
    if (batch.remaining > 0) return;
    const results = batch.results as BatchReply['results'];
    this.ctx.metrics.op('ws', 'batch', 'ok', performance.now() - batch.t0);
    conn.push(this.ctx.codec.encode(new BatchReply(batch.id, results), batch.binary));
  }

  /** Answers an unexpected failure of the handler (a bug): INTERNAL, without the request id. */
  failed(conn: Connection, binary: boolean): void {
    this.reply(conn, binary, new ErrorReply(null, ErrorCode.INTERNAL, 'internal error'));
  }

  // ---- replies --------------------------------------------------------------------------------

  /** Answers RATE_LIMITED: the key's token bucket is empty. */
  private rateLimited(
    conn: Connection,
    binary: boolean,
    op: OpLabel,
    id: RequestId | null,
    t0: number,
  ): void {
    this.ctx.metrics.rateLimited.inc({ transport: 'ws' });
    const message = `key ${conn.principal.name} is over its rate limit; retry shortly`;
    this.error(conn, binary, op, new ErrorReply(id, ErrorCode.RATE_LIMITED, message), t0);
  }

  private invalid(
    conn: Connection,
    binary: boolean,
    id: RequestId | null,
    message: string,
    t0: number,
  ): void {
    this.error(conn, binary, 'invalid', badRequest(id, message), t0);
  }

  private error(
    conn: Connection,
    binary: boolean,
    op: OpLabel,
    reply: ErrorReply,
    t0: number,
  ): void {
    this.ctx.metrics.op('ws', op, reply.code, performance.now() - t0);
    this.reply(conn, binary, reply);
  }

  private reply(conn: Connection, binary: boolean, reply: object): void {
    conn.push(this.ctx.codec.encode(reply, binary));
  }
}

function badRequest(id: RequestId | null, message: string): ErrorReply {
  return new ErrorReply(id, ErrorCode.BAD_REQUEST, message);
}

function refused(id: RequestId | null, refusal: OpRefusal): ErrorReply {
  return new ErrorReply(id, refusal.code, refusal.message, refusal.reason);
}

function opOf(item: unknown): unknown {
  return typeof item === 'object' && item !== null ? (item as { op?: unknown }).op : undefined;
}

function opLabel(op: unknown): OpLabel {
  return wsOp(op)?.name ?? 'invalid';
}
