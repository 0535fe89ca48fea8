import type { Logger } from 'pino';
import { ErrorCode, StockflowError } from '../engine/index.ts';
import type { OrderResult } from '../orders/index.ts';
import type { OrderApi } from './order-api.ts';
import type { Connection } from './connection.ts';
import type { FrameCodec } from './frame-codec.ts';
import { locationStream, type LocationPush, type LocationSocket } from './location-push.ts';
import {
  ackMessage,
  cancelOrderMessage,
  describeIssue,
  fulfilmentAnswerMessage,
  placeOrderMessage,
  type RequestId,
} from './message-schemas.ts';
import type { GatewayMetrics, ResultLabel } from './metrics.ts';
import { fulfilmentLocation, orderChannel } from './order-access.ts';
import { AccessRefusal } from './reservation-access.ts';
import type { ReturnOp, ReturnReply } from './return-messages.ts';
import { returnCall } from './ws-returns.ts';
import {
  AckReply,
  ErrorReply,
  FulfilmentAnswerReply,
  FulfilmentErrorReply,
  OrderErrorReply,
  OrderReply,
  type FulfilmentPush,
} from './ws-protocol.ts';

export type OrderOp = 'placeOrder' | 'cancelOrder' | 'fulfilmentAnswer' | 'ack' | ReturnOp;

/** A location key's connection, as LocationPush sees it: pushes go out in its encoding. */
class LocationLink implements LocationSocket {
  readonly location: string;

  constructor(
    private readonly conn: Connection,
    private readonly codec: FrameCodec,
    location: string,
  ) {
    this.location = location;
  }

  send(message: FulfilmentPush): boolean {
    if (this.conn.closed) return false;
    this.conn.push(this.codec.encode(message, this.conn.binary));
    return true;
  }
}

/**
 * The order side of the WebSocket (docs/api.md, "Orders over the WebSocket"): placeOrder and
 * cancelOrder for storefronts, fulfilmentAnswer and ack for locations (admin keys may do all but
 * ack), and the location connections LocationPush pushes on. Replies use the codec's generic
 * encoder (these are not hot paths), JSON or msgpack like the frame they answer.
 */
export class WsOrders {
  private readonly links = new Map<Connection, LocationLink>();

  constructor(
    private readonly orders: OrderApi,
    private readonly push: LocationPush,
    private readonly codec: FrameCodec,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** A connection opened: a location key's now receives its location's messages. */
  opened(conn: Connection): void {
    const location = conn.principal.location;
    if (conn.principal.role !== 'location' || location === null) return;
    const link = new LocationLink(conn, this.codec, location);
    this.links.set(conn, link);
    this.push.add(link);
    // What waited for this location (it was offline, or its last socket died) goes out now.
    this.orders.wake(locationStream(location));
  }

  closed(conn: Connection): void {
    const link = this.links.get(conn);
    if (link === undefined) return;
    this.links.delete(conn);
    this.push.remove(link);
  }

  handle(
    conn: Connection,
    op: OrderOp,
    msg: unknown,
    id: RequestId,
    binary: boolean,
    t0: number,
  ): void {
    switch (op) {
      case 'placeOrder':
        this.place(conn, msg, id, binary, t0);
        return;
      case 'cancelOrder':
        this.cancel(conn, msg, id, binary, t0);
        return;
      case 'fulfilmentAnswer':
        this.answer(conn, msg, id, binary, t0);
        return;
      case 'ack':
        this.ack(conn, msg, id, binary, t0);
        return;
      case 'requestReturn':
      case 'receiveReturn':
      case 'resolveReturnHold':
      case 'refundReturn': {
        const c = returnCall(this.orders, op, msg, conn.principal, id);
        if (c instanceof ErrorReply) {
          this.send(conn, binary, op, c.code, c, t0);
          return;
        }
        this.settle(conn, binary, op, id, t0, c.call, c.reply);
        return;
      }
    }
  }

  private place(conn: Connection, msg: unknown, id: RequestId, binary: boolean, t0: number): void {
    const parsed = placeOrderMessage.safeParse(msg);
    if (!parsed.success) {
      this.badRequest(conn, binary, 'placeOrder', id, describeIssue(parsed.error), t0);
      return;
    }
    const channel = orderChannel(conn.principal);
    if (channel instanceof AccessRefusal) {
      this.refused(conn, binary, 'placeOrder', id, channel, t0);
      return;
    }
    const m = parsed.data;
    this.settle(
      conn,
      binary,
      'placeOrder',
      id,
      t0,
      () => this.orders.place(m.order, m.idempotencyKey ?? null, channel),
      (r) =>
        r.ok
          ? new OrderReply('placeOrder', id, r.order, r.duplicate)
          : new OrderErrorReply(id, r, r.order),
    );
  }

  private cancel(conn: Connection, msg: unknown, id: RequestId, binary: boolean, t0: number): void {
    const parsed = cancelOrderMessage.safeParse(msg);
    if (!parsed.success) {
      this.badRequest(conn, binary, 'cancelOrder', id, describeIssue(parsed.error), t0);
      return;
    }
    const channel = orderChannel(conn.principal);
    if (channel instanceof AccessRefusal) {
      this.refused(conn, binary, 'cancelOrder', id, channel, t0);
      return;
    }
    const m = parsed.data;
    this.settle(
      conn,
      binary,
      'cancelOrder',
      id,
      t0,
      () => this.orders.cancel(m.orderId, { lines: m.lines, reason: m.reason }, channel),
      (r) =>
        r.ok
          ? new OrderReply('cancelOrder', id, r.order, r.duplicate)
          : new OrderErrorReply(id, r, r.order),
    );
  }

  private answer(conn: Connection, msg: unknown, id: RequestId, binary: boolean, t0: number): void {
    const parsed = fulfilmentAnswerMessage.safeParse(msg);
    if (!parsed.success) {
      this.badRequest(conn, binary, 'fulfilmentAnswer', id, describeIssue(parsed.error), t0);
      return;
    }
    const location = fulfilmentLocation(conn.principal);
    if (location instanceof AccessRefusal) {
      this.refused(conn, binary, 'fulfilmentAnswer', id, location, t0);
      return;
    }
    const m = parsed.data;
    this.settle(
      conn,
      binary,
      'fulfilmentAnswer',
      id,
      t0,
      () => this.orders.fulfilmentAnswer(m.fulfilmentId, m.answer, location),
      (r) => {
        const x = r.order?.fulfilments.find((f) => f.fulfilmentId === m.fulfilmentId) ?? null;
        return r.ok
          ? new FulfilmentAnswerReply(id, r.order.orderId, x, r.duplicate)
          : new FulfilmentErrorReply(id, r, r.order?.orderId ?? null, x);
      },
    );
  }

  private ack(conn: Connection, msg: unknown, id: RequestId, binary: boolean, t0: number): void {
    const parsed = ackMessage.safeParse(msg);
    if (!parsed.success) {
      this.badRequest(conn, binary, 'ack', id, describeIssue(parsed.error), t0);
      return;
    }
    const location = conn.principal.location;
    if (conn.principal.role !== 'location' || location === null) {
      const message = `key ${conn.principal.name} receives no pushed messages to acknowledge`;
      const reply = new ErrorReply(id, ErrorCode.FORBIDDEN, message);
      this.send(conn, binary, 'ack', ErrorCode.FORBIDDEN, reply, t0);
      return;
    }
    const acked = this.push.ackAnywhere(location, parsed.data.messageIds);
    if (typeof acked === 'number') {
      this.send(conn, binary, 'ack', 'ok', new AckReply(id, acked), t0);
      return;
    }
    acked.then(
      (n) => {
        this.send(conn, binary, 'ack', 'ok', new AckReply(id, n), t0);
      },
      (error: unknown) => {
        this.log.error({ err: error }, 'acknowledging on the other workers failed');
        const reply = new ErrorReply(id, ErrorCode.INTERNAL, 'acknowledging failed');
        this.send(conn, binary, 'ack', ErrorCode.INTERNAL, reply, t0);
      },
    );
  }

  /** Answers an order service call when it settles; a rejection is answered with its code. */
  private settle(
    conn: Connection,
    binary: boolean,
    op: OrderOp,
    id: RequestId,
    t0: number,
    call: () => Promise<OrderResult>,
    reply: (
      result: OrderResult,
    ) =>
      | OrderReply
      | OrderErrorReply
      | FulfilmentAnswerReply
      | FulfilmentErrorReply
      | ReturnReply
      | ErrorReply,
  ): void {
    let pending: Promise<OrderResult>;
    try {
      pending = call();
    } catch (error) {
      pending = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    pending
      .then((result) => {
        this.send(conn, binary, op, result.ok ? 'ok' : result.code, reply(result), t0);
      })
      .catch((error: unknown) => {
        if (error instanceof StockflowError) {
          const answer = new ErrorReply(id, error.code, error.message, error.reason);
          this.send(conn, binary, op, error.code, answer, t0);
          return;
        }
        this.log.error({ err: error, conn: conn.id, op }, 'order operation failed');
        const answer = new ErrorReply(id, ErrorCode.INTERNAL, 'internal error');
        this.send(conn, binary, op, ErrorCode.INTERNAL, answer, t0);
      })
      .catch((error: unknown) => {
        this.log.error({ err: error, conn: conn.id, op }, 'answering an order operation failed');
      });
  }

  private badRequest(
    conn: Connection,
    binary: boolean,
    op: OrderOp,
    id: RequestId,
    message: string,
    t0: number,
  ): void {
    const reply = new ErrorReply(id, ErrorCode.BAD_REQUEST, message);
    this.send(conn, binary, op, ErrorCode.BAD_REQUEST, reply, t0);
  }

  private refused(
    conn: Connection,
    binary: boolean,
    op: OrderOp,
    id: RequestId,
    refusal: AccessRefusal,
    t0: number,
  ): void {
    const reply = new ErrorReply(id, refusal.code, refusal.message, refusal.reason);
    this.send(conn, binary, op, refusal.code, reply, t0);
  }

  /** Counts the answer (op, result, latency) and queues it for this turn's flush. */
  private send(
    conn: Connection,
    binary: boolean,
    op: OrderOp,
    result: ResultLabel,
    reply: object,
    t0: number,
  ): void {
    this.metrics.op('ws', op, result, performance.now() - t0);
    conn.push(this.codec.encode(reply, binary));
  }
}
