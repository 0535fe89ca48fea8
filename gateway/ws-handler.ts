import type { Logger } from 'pino';
import type {
  HttpRequest,
  HttpResponse,
  us_socket_context_t,
  WebSocket,
  WebSocketBehavior,
} from 'uWebSockets.js';
import {
  ErrorCode,
  type CommandResult,
  type ReserveCommand,
  type Engine,
} from '../engine/index.ts';
import { chosenProtocol, presentedKey, type ApiKeyRing, type Principal } from './auth.ts';
import { BatchCollector, Connection, Pending, type SocketData } from './connection.ts';
import { RejectedFrame, type FrameCodec } from './frame-codec.ts';
import {
  batchedConfirm,
  batchedRelease,
  batchedReserve,
  batchMessage,
  confirmMessage,
  describeIssue,
  isRequestId,
  releaseMessage,
  reserveMessage,
  topicsMessage,
  type RequestId,
} from './message-schemas.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { GatewayOptions } from './options.ts';
import type { ReplyBatcher } from './reply-batcher.ts';
import { reservationAccess, reservationChannel } from './reservation-access.ts';
import type { RequestLog } from './request-log.ts';
import type { SubscriptionHub } from './subscriptions.ts';
import type { OrderOp, WsOrders } from './ws-orders.ts';
import { BatchReply, commandReply, ErrorReply, type ReplyOp } from './ws-protocol.ts';

/** What the WebSocket side needs to know about the gateway around it. */
export interface GatewayState {
  readonly closing: boolean;
}

const STATUS_401 = '401 Unauthorized';
const STATUS_403 = '403 Forbidden';
const STATUS_503 = '503 Service Unavailable';

function text(buffer: ArrayBuffer): string {
  return Buffer.from(buffer).toString('utf8');
}

/**
 * The WebSocket endpoint: authentication in the upgrade, then one handler per message. Every
 * frame is answered (a reply or an error reply carrying the request's id) or, for a frame uWS
 * itself refuses (too large, invalid UTF-8 text), the connection is closed.
 */
export class WsHandler {
  private nextId = 1;
  private readonly open = new Set<Connection>();

  constructor(
    private readonly engine: Engine,
    private readonly options: Readonly<GatewayOptions>,
    private readonly keys: ApiKeyRing,
    private readonly codec: FrameCodec,
    private readonly hub: SubscriptionHub,
    private readonly batcher: ReplyBatcher,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly requests: RequestLog,
    private readonly state: GatewayState,
    /** The order ops and location connections; null when the gateway has no order service. */
    private readonly orders: WsOrders | null,
  ) {}

  behavior(): WebSocketBehavior<SocketData> {
    return {
      maxPayloadLength: this.options.maxPayloadBytes,
      maxBackpressure: this.options.maxBackpressureBytes,
      closeOnBackpressureLimit: 1,
      idleTimeout: this.options.idleTimeoutSec,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        this.upgrade(res, req, context);
      },
      open: (ws) => {
        this.opened(ws);
      },
      message: (ws, message, isBinary) => {
        this.message(ws, message, isBinary);
      },
      dropped: (ws) => {
        ws.getUserData().conn.backpressured = true;
      },
      close: (ws, code, message) => {
        this.closed(ws, code, message);
      },
    };
  }

  /** Connections currently open. */
  get connections(): ReadonlySet<Connection> {
    return this.open;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    // HttpRequest is only valid now: read everything before answering.
    const secKey = req.getHeader('sec-websocket-key');
    const protocols = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const origin = req.getHeader('origin');
    const key = presentedKey({
      authorization: req.getHeader('authorization'),
      xApiKey: req.getHeader('x-api-key'),
      queryKey: req.getQuery('apiKey') ?? '',
      protocols,
    });
    const remote = text(res.getRemoteAddressAsText());
    try {
      const refusal = this.refuse(origin, key);
      if (typeof refusal === 'string') {
        this.metrics.upgradesRefused.inc({ code: refusal });
        this.log.warn({ remote, code: refusal, origin }, 'websocket upgrade refused');
        const status =
          refusal === ErrorCode.UNAUTHORIZED
            ? STATUS_401
            : refusal === ErrorCode.FORBIDDEN
              ? STATUS_403
              : STATUS_503;
        res
          .writeStatus(status)
          .writeHeader('content-type', 'application/json')
          .end(JSON.stringify({ code: refusal, message: REFUSAL_MESSAGES[refusal] }));
        return;
      }
      const conn = new Connection(this.nextId++, refusal, remote, Date.now(), this, this.batcher);
      res.upgrade<SocketData>({ conn }, secKey, chosenProtocol(protocols), extensions, context);
    } catch (error) {
      this.log.error({ err: error, remote }, 'websocket upgrade failed');
      res.writeStatus('500 Internal Server Error').end();
    }
  }

  private refuse(origin: string, key: string): Principal | Refusal {
    if (this.state.closing) return ErrorCode.UNAVAILABLE;
    const origins = this.options.allowedOrigins;
    if (origins.length > 0 && origin.length > 0 && !origins.includes(origin)) {
      return ErrorCode.FORBIDDEN;
    }
    const principal = this.keys.verify(key);
    if (principal === null) return ErrorCode.UNAUTHORIZED;
    // A location key's WebSocket carries its fulfilments (pushed, acked, answered): without an
    // order service there is nothing on it for the key.
    if (principal.role === 'location' && this.orders === null) return ErrorCode.FORBIDDEN;
    return principal;
  }

  private opened(ws: WebSocket<SocketData>): void {
    const conn = ws.getUserData().conn;
    conn.ws = ws;
    this.open.add(conn);
    try {
      this.orders?.opened(conn);
      this.metrics.connections.inc();
      this.metrics.connectionsOpened.inc();
      this.log.info(
        { conn: conn.id, key: conn.principal.name, role: conn.principal.role, remote: conn.remote },
        'websocket open',
      );
    } catch (error) {
      this.log.error({ err: error, conn: conn.id }, 'websocket open handler failed');
    }
  }

  private closed(ws: WebSocket<SocketData>, code: number, message: ArrayBuffer): void {
    const conn = ws.getUserData().conn;
    conn.closed = true;
    try {
      this.open.delete(conn);
      this.hub.dropAll(conn);
      this.orders?.closed(conn);
      this.metrics.connections.dec();
      this.metrics.connectionsClosed.inc();
      if (conn.backpressured) this.metrics.backpressureDisconnects.inc();
      this.log.info(
        {
          conn: conn.id,
          key: conn.principal.name,
          remote: conn.remote,
          code,
          reason: text(message).slice(0, 120),
          backpressure: conn.backpressured,
          frames: conn.frames,
          ms: Date.now() - conn.openedAt,
        },
        'websocket close',
      );
    } catch (error) {
      this.log.error({ err: error, conn: conn.id }, 'websocket close handler failed');
    }
  }

  /** Ends every open connection (shutdown); each one's close handler runs at once. */
  endAll(code: number, reason: string): void {
    for (const conn of [...this.open]) {
      if (conn.closed || conn.ws === null) continue;
      try {
        conn.ws.end(code, reason);
      } catch (error) {
        this.log.warn({ err: error, conn: conn.id }, 'ending a websocket failed');
      }
    }
  }

  // ---- messages -------------------------------------------------------------------------------

  private message(ws: WebSocket<SocketData>, frame: ArrayBuffer, binary: boolean): void {
    const conn = ws.getUserData().conn;
    const t0 = performance.now();
    conn.frames++;
    conn.binary = binary;
    try {
      this.handle(conn, frame, binary, t0);
    } catch (error) {
      this.log.error({ err: error, conn: conn.id }, 'websocket message handler failed');
      this.reply(conn, binary, new ErrorReply(null, ErrorCode.INTERNAL, 'internal error'));
    }
  }

  private handle(conn: Connection, frame: ArrayBuffer, binary: boolean, t0: number): void {
    // Every frame costs a token, whatever it holds (a batch costs one more per extra operation).
    const admitted = conn.principal.bucket.take(1);
    const value = this.codec.decode(frame, binary);
    if (!admitted) {
      const msg =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
      this.rateLimited(conn, binary, opLabel(msg.op), isRequestId(msg.id) ? msg.id : null, t0);
      return;
    }
    if (value instanceof RejectedFrame) {
      this.metrics.frameRejected(value.reason);
      this.invalid(conn, binary, null, value.message, t0);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.metrics.frameRejected('schema');
      this.invalid(conn, binary, null, 'a message is an object with op and id', t0);
      return;
    }
    const msg = value as Record<string, unknown>;
    const id = isRequestId(msg.id) ? msg.id : null;
    if (id === null) {
      this.metrics.frameRejected('schema');
      this.invalid(
        conn,
        binary,
        null,
        'id must be a string (at most 128 characters) or a number',
        t0,
      );
      return;
    }
    if (this.state.closing) {
      this.error(
        conn,
        binary,
        opLabel(msg.op),
        new ErrorReply(id, ErrorCode.UNAVAILABLE, 'the gateway is shutting down'),
        t0,
      );
      return;
    }
    switch (msg.op) {
      case 'reserve':
        this.reserve(conn, msg, id, binary, t0);
        return;
      case 'release':
      case 'confirm':
        this.releaseOrConfirm(conn, msg, id, binary, t0);
        return;
      case 'subscribe':
      case 'unsubscribe':
        this.topics(conn, msg, id, binary, t0);
        return;
      case 'batch':
        this.batch(conn, msg, id, binary, t0);
        return;
      case 'placeOrder':
      case 'cancelOrder':
      case 'fulfilmentAnswer':
      case 'ack':
        if (this.orders === null) {
          const reply = new ErrorReply(
            id,
            ErrorCode.NOT_FOUND,
            `op ${msg.op} needs the order service, which this gateway does not run`,
          );
          this.error(conn, binary, msg.op, reply, t0);
          return;
        }
        this.orders.handle(conn, msg.op, msg, id, binary, t0);
        return;
      default:
        this.metrics.frameRejected('schema');
        this.invalid(
          conn,
          binary,
          id,
          `unknown op ${describeOp(msg.op)}; expected subscribe, unsubscribe, reserve, release, confirm, batch, placeOrder, cancelOrder, fulfilmentAnswer or ack`,
          t0,
        );
    }
  }

  private reserve(
    conn: Connection,
    msg: unknown,
    id: RequestId,
    binary: boolean,
    t0: number,
  ): void {
    const parsed = reserveMessage.safeParse(msg);
    if (!parsed.success) {
      this.error(conn, binary, 'reserve', badRequest(id, describeIssue(parsed.error)), t0);
      return;
    }
    const m = parsed.data;
    if (!conn.principal.mayUseChannel(m.channel)) {
      this.error(conn, binary, 'reserve', forbiddenChannel(id, conn.principal, m.channel), t0);
      return;
    }
    this.engine.submit(toReserve(m), conn, new Pending(id, 'reserve', binary, t0, null, 0));
  }

  private releaseOrConfirm(
    conn: Connection,
    msg: { op?: unknown },
    id: RequestId,
    binary: boolean,
    t0: number,
  ): void {
    const op = msg.op === 'confirm' ? 'confirm' : 'release';
    const parsed = op === 'confirm' ? confirmMessage.safeParse(msg) : releaseMessage.safeParse(msg);
    if (!parsed.success) {
      this.error(conn, binary, op, badRequest(id, describeIssue(parsed.error)), t0);
      return;
    }
    const m = parsed.data;
    const refusal = this.mayTouchReservation(conn.principal, id);
    if (refusal !== null) {
      this.error(conn, binary, op, refusal, t0);
      return;
    }
    const pending = new Pending(id, op, binary, t0, null, 0);
    const channel = reservationChannel(conn.principal);
    if (m.op === 'confirm') {
      this.engine.submit(
        { op: 'confirm', reservationId: m.reservationId, orderId: m.orderId, channel },
        conn,
        pending,
      );
    } else {
      this.engine.submit({ op: 'release', reservationId: m.reservationId, channel }, conn, pending);
    }
  }

  private topics(conn: Connection, msg: unknown, id: RequestId, binary: boolean, t0: number): void {
    const parsed = topicsMessage.safeParse(msg);
    if (!parsed.success) {
      const op = (msg as { op: 'subscribe' | 'unsubscribe' }).op;
      this.error(conn, binary, op, badRequest(id, describeIssue(parsed.error)), t0);
      return;
    }
    const m = parsed.data;
    const reply =
      m.op === 'subscribe'
        ? this.hub.subscribe(conn, id, m.topics, binary)
        : this.hub.unsubscribe(conn, id, m.topics);
    this.metrics.op(
      'ws',
      m.op,
      reply instanceof ErrorReply ? reply.code : 'ok',
      performance.now() - t0,
    );
    this.reply(conn, binary, reply);
  }

  private batch(conn: Connection, msg: unknown, id: RequestId, binary: boolean, t0: number): void {
    const parsed = batchMessage.safeParse(msg);
    if (!parsed.success) {
      this.error(conn, binary, 'batch', badRequest(id, describeIssue(parsed.error)), t0);
      return;
    }
    const ops = parsed.data.ops;
    if (ops.length > 1 && !conn.principal.bucket.take(ops.length - 1)) {
      this.rateLimited(conn, binary, 'batch', id, t0);
      return;
    }
    const batch = new BatchCollector(id, binary, t0, ops.length);
    // Validation failures are answered in place; the rest go to the engine.
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
    const op =
      typeof item === 'object' && item !== null ? (item as { op?: unknown }).op : undefined;
    const itemId =
      typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
    const id = isRequestId(itemId) ? itemId : null;
    switch (op) {
      case 'reserve': {
        const parsed = batchedReserve.safeParse(item);
        if (!parsed.success)
          return this.counted('reserve', badRequest(id, describeIssue(parsed.error)), t0);
        const m = parsed.data;
        if (!conn.principal.mayUseChannel(m.channel)) {
          return this.counted('reserve', forbiddenChannel(id, conn.principal, m.channel), t0);
        }
        this.engine.submit(
          toReserve(m),
          conn,
          new Pending(id, 'reserve', binary, t0, batch, index),
        );
        return null;
      }
      case 'release':
      case 'confirm': {
        const parsed =
          op === 'confirm' ? batchedConfirm.safeParse(item) : batchedRelease.safeParse(item);
        if (!parsed.success)
          return this.counted(op, badRequest(id, describeIssue(parsed.error)), t0);
        const m = parsed.data;
        const refusal = this.mayTouchReservation(conn.principal, id);
        if (refusal !== null) return this.counted(op, refusal, t0);
        const pending = new Pending(id, op, binary, t0, batch, index);
        const channel = reservationChannel(conn.principal);
        if (m.op === 'confirm') {
          this.engine.submit(
            { op: 'confirm', reservationId: m.reservationId, orderId: m.orderId, channel },
            conn,
            pending,
          );
        } else {
          this.engine.submit(
            { op: 'release', reservationId: m.reservationId, channel },
            conn,
            pending,
          );
        }
        return null;
      }
      default:
        return this.counted(
          'invalid',
          badRequest(
            id,
            `unknown op ${describeOp(op)} in batch; expected reserve, release or confirm`,
          ),
          t0,
        );
    }
  }

  private counted(
    op: 'reserve' | 'release' | 'confirm' | 'invalid',
    reply: ErrorReply,
    t0: number,
  ): ErrorReply {
    this.metrics.op('ws', op, reply.code, performance.now() - t0);
    return reply;
  }

  /** ResultSink path: an engine result for one of this connection's commands. */
  delivered(conn: Connection, result: CommandResult, tag: Pending): void {
    this.metrics.op('ws', tag.op, result.ok ? 'ok' : result.code, performance.now() - tag.t0);
    if (tag.batch !== null) {
      this.settleBatchItem(conn, tag.batch, tag.index, commandReply(tag.op, tag.id, result));
      return;
    }
    if (this.requests.sample()) {
      this.requests.write({
        conn: conn.id,
        key: conn.principal.name,
        op: tag.op,
        id: tag.id,
        result: result.ok ? 'ok' : result.code,
        ms: performance.now() - tag.t0,
      });
    }
    conn.push(this.codec.result(tag.op, tag.id, result, tag.binary));
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
    this.metrics.op('ws', 'batch', 'ok', performance.now() - batch.t0);
    conn.push(this.codec.encode(new BatchReply(batch.id, results), batch.binary));
  }

  // ---- checks and replies ---------------------------------------------------------------------

  private mayTouchReservation(principal: Principal, id: RequestId | null): ErrorReply | null {
    const refusal = reservationAccess(principal);
    return refusal === null
      ? null
      : new ErrorReply(id, refusal.code, refusal.message, refusal.reason);
  }

  /** Answers RATE_LIMITED: the key's token bucket is empty. */
  private rateLimited(
    conn: Connection,
    binary: boolean,
    op: RateOp | 'invalid',
    id: RequestId | null,
    t0: number,
  ): void {
    this.metrics.rateLimited.inc({ transport: 'ws' });
    this.error(
      conn,
      binary,
      op,
      new ErrorReply(
        id,
        ErrorCode.RATE_LIMITED,
        `key ${conn.principal.name} is over its rate limit; retry shortly`,
      ),
      t0,
    );
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
    op: RateOp | 'invalid',
    reply: ErrorReply,
    t0: number,
  ): void {
    this.metrics.op('ws', op, reply.code, performance.now() - t0);
    this.reply(conn, binary, reply);
  }

  private reply(conn: Connection, binary: boolean, reply: object): void {
    conn.push(this.codec.encode(reply, binary));
  }
}

type RateOp = ReplyOp | OrderOp | 'subscribe' | 'unsubscribe' | 'batch';
type Refusal =
  typeof ErrorCode.UNAUTHORIZED | typeof ErrorCode.FORBIDDEN | typeof ErrorCode.UNAVAILABLE;

const REFUSAL_MESSAGES: Record<Refusal, string> = {
  UNAUTHORIZED:
    'a valid API key is required (Authorization: Bearer, x-api-key, ?apiKey= or the key.<key> subprotocol)',
  FORBIDDEN:
    'this key or origin may not open a WebSocket here (location keys need the order service)',
  UNAVAILABLE: 'the gateway is shutting down',
};

function badRequest(id: RequestId | null, message: string): ErrorReply {
  return new ErrorReply(id, ErrorCode.BAD_REQUEST, message);
}

function forbiddenChannel(id: RequestId | null, principal: Principal, channel: string): ErrorReply {
  return new ErrorReply(
    id,
    ErrorCode.FORBIDDEN,
    `key ${principal.name} may not use channel ${channel}`,
  );
}

const RATE_OPS: ReadonlySet<unknown> = new Set<RateOp>([
  'reserve',
  'release',
  'confirm',
  'subscribe',
  'unsubscribe',
  'batch',
  'placeOrder',
  'cancelOrder',
  'fulfilmentAnswer',
  'ack',
]);

function opLabel(op: unknown): RateOp | 'invalid' {
  return RATE_OPS.has(op) ? (op as RateOp) : 'invalid';
}

function describeOp(op: unknown): string {
  return typeof op === 'string' ? JSON.stringify(op.slice(0, 40)) : typeof op;
}

function toReserve(m: {
  reservationId: string;
  channel: string;
  sku: string;
  qty: number;
  location?: string | undefined;
  ttlMs?: number | undefined;
}): ReserveCommand {
  return {
    op: 'reserve',
    reservationId: m.reservationId,
    channel: m.channel,
    sku: m.sku,
    qty: m.qty,
    location: m.location,
    ttlMs: m.ttlMs,
  };
}
