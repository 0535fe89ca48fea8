import type {
  HttpRequest,
  HttpResponse,
  us_socket_context_t,
  WebSocket,
  WebSocketBehavior,
} from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import { chosenProtocol, presentedKey, type Principal } from './auth.ts';
import { Connection, type SocketData } from './connection.ts';
import type { GatewayContext } from './context.ts';
import { WsMessages } from './ws-messages.ts';

const STATUS_401 = '401 Unauthorized';
const STATUS_403 = '403 Forbidden';
const STATUS_503 = '503 Service Unavailable';

/** RFC 6455 close code: a message too big to process. */
const CLOSE_TOO_BIG = 1009;

/**
 * What uWS itself accepts: four times the configured limit, within its 32-bit field. A frame
 * between the two is read, then refused with 1009; a larger one uWS refuses at its header.
 */
function uwsPayloadLimit(maxPayloadBytes: number): number {
  return Math.min(maxPayloadBytes * 4, 0xffff_ffff);
}

function text(buffer: ArrayBuffer): string {
  return Buffer.from(buffer).toString('utf8');
}

/**
 * The WebSocket endpoint: authentication in the upgrade, then one handler per message. Every
 * frame is answered (a reply or an error reply carrying the request's id), or closes the
 * connection: with 1009 when over maxPayloadBytes; without a close frame when uWS refuses it
 * before we see it (over four times that, or a text frame that is not UTF-8).
 */
export class WsHandler {
  private nextId = 1;
  private readonly open = new Set<Connection>();
  private readonly messages: WsMessages;

  constructor(private readonly ctx: GatewayContext) {
    this.messages = new WsMessages(ctx);
  }

  behavior(): WebSocketBehavior<SocketData> {
    return {
      // uWS drops the connection without a close frame on a frame over its own limit; with room
      // above the configured one, the gateway sees the frame and closes with 1009 as documented.
      maxPayloadLength: uwsPayloadLimit(this.ctx.server.maxPayloadBytes),
      maxBackpressure: this.ctx.server.maxBackpressureBytes,
      closeOnBackpressureLimit: 1,
      idleTimeout: this.ctx.server.idleTimeoutSec,
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

  /** Bytes uWS buffers for each open connection that has not read them yet. */
  *bufferedAmounts(): Generator<number> {
    for (const conn of this.open) {
      if (!conn.closed && conn.ws !== null) yield conn.ws.getBufferedAmount();
    }
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
        this.ctx.metrics.upgradesRefused.inc({ code: refusal });
        this.ctx.log.warn({ remote, code: refusal, origin }, 'websocket upgrade refused');
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
      const conn = new Connection(
        this.nextId++,
        refusal,
        remote,
        Date.now(),
        this.messages,
        this.ctx.batcher,
      );
      res.upgrade<SocketData>({ conn }, secKey, chosenProtocol(protocols), extensions, context);
    } catch (error) {
      this.ctx.log.error({ err: error, remote }, 'websocket upgrade failed');
      res.writeStatus('500 Internal Server Error').end();
    }
  }

  private refuse(origin: string, key: string): Principal | Refusal {
    if (this.ctx.state.closing) return ErrorCode.UNAVAILABLE;
    const origins = this.ctx.server.allowedOrigins;
    if (origins.length > 0 && origin.length > 0 && !origins.includes(origin)) {
      return ErrorCode.FORBIDDEN;
    }
    const principal = this.ctx.keys.verify(key);
    if (principal === null) return ErrorCode.UNAUTHORIZED;
    // A location key's WebSocket carries its fulfilments (pushed, acked, answered): without an
    // order service there is nothing on it for the key.
    if (principal.role === 'location' && this.ctx.wsOrders === null) return ErrorCode.FORBIDDEN;
    return principal;
  }

  private opened(ws: WebSocket<SocketData>): void {
    const conn = ws.getUserData().conn;
    conn.ws = ws;
    this.open.add(conn);
    try {
      this.ctx.wsOrders?.opened(conn);
      this.ctx.metrics.connections.inc();
      this.ctx.metrics.connectionsOpened.inc();
      this.ctx.log.info(
        { conn: conn.id, key: conn.principal.name, role: conn.principal.role, remote: conn.remote },
        'websocket open',
      );
    } catch (error) {
      this.ctx.log.error({ err: error, conn: conn.id }, 'websocket open handler failed');
    }
  }

  private closed(ws: WebSocket<SocketData>, code: number, message: ArrayBuffer): void {
    const conn = ws.getUserData().conn;
    conn.closed = true;
    try {
      this.open.delete(conn);
      this.ctx.hub.dropAll(conn);
      this.ctx.wsOrders?.closed(conn);
      this.ctx.metrics.connections.dec();
      this.ctx.metrics.connectionsClosed.inc();
      if (conn.backpressured) this.ctx.metrics.backpressureDisconnects.inc();
      this.ctx.log.info(
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
      this.ctx.log.error({ err: error, conn: conn.id }, 'websocket close handler failed');
    }
  }

  /** Ends every open connection (shutdown); each one's close handler runs at once. */
  endAll(code: number, reason: string): void {
    for (const conn of [...this.open]) {
      if (conn.closed || conn.ws === null) continue;
      try {
        conn.ws.end(code, reason);
      } catch (error) {
        this.ctx.log.warn({ err: error, conn: conn.id }, 'ending a websocket failed');
      }
    }
  }

  // ---- messages -------------------------------------------------------------------------------

  private message(ws: WebSocket<SocketData>, frame: ArrayBuffer, binary: boolean): void {
    const conn = ws.getUserData().conn;
    const t0 = performance.now();
    conn.frames++;
    conn.binary = binary;
    const limit = this.ctx.server.maxPayloadBytes;
    if (frame.byteLength > limit) {
      this.ctx.metrics.frameRejected('oversized');
      ws.end(CLOSE_TOO_BIG, `frame larger than ${limit} bytes`);
      return;
    }
    try {
      this.messages.handle(conn, frame, binary, t0);
    } catch (error) {
      this.ctx.log.error({ err: error, conn: conn.id }, 'websocket message handler failed');
      this.messages.failed(conn, binary);
    }
  }
}

type Refusal =
  typeof ErrorCode.UNAUTHORIZED | typeof ErrorCode.FORBIDDEN | typeof ErrorCode.UNAVAILABLE;

const REFUSAL_MESSAGES: Record<Refusal, string> = {
  UNAUTHORIZED:
    'a valid API key is required (Authorization: Bearer, x-api-key, ?apiKey= or the key.<key> subprotocol)',
  FORBIDDEN:
    'this key or origin may not open a WebSocket here (location keys need the order service)',
  UNAVAILABLE: 'the gateway is shutting down',
};
