import type { WebSocket } from 'uWebSockets.js';
import { RefillList, type Command, type CommandResult, type ResultSink } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { RequestId } from './message-schemas.ts';
import type { ReplyBatcher, ReplyTarget } from './reply-batcher.ts';
import type { TopicName } from './topics.ts';
import type { ErrorReply, ReplyOp, ReservationReply } from './ws-protocol.ts';

/** The results of one `batch` frame, gathered in order until the last one arrives. */
export class BatchCollector {
  readonly results: (ReservationReply | ErrorReply | null)[];
  remaining: number;

  constructor(
    readonly id: RequestId,
    readonly binary: boolean,
    readonly t0: number,
    size: number,
  ) {
    this.results = new Array<ReservationReply | ErrorReply | null>(size).fill(null);
    this.remaining = size;
  }
}

/** What a command carries through the engine so its result finds its way back (the sink tag). */
export class Pending {
  constructor(
    readonly id: RequestId | null,
    readonly op: ReplyOp,
    readonly binary: boolean,
    readonly t0: number,
    readonly batch: BatchCollector | null,
    readonly index: number,
  ) {}
}

/** One topic a connection is subscribed to, in the encoding it subscribed with. */
export class Subscription {
  constructor(
    readonly name: TopicName,
    readonly binary: boolean,
  ) {}
}

/**
 * The uWS user data of a socket. uWS copies the user data's own properties onto its socket
 * object (prototype methods are lost), so the socket carries a reference to the Connection
 * rather than being one.
 */
export interface SocketData {
  readonly conn: Connection;
}

/** Turns engine results into replies; the gateway's WebSocket handler. */
export interface ResultHandler {
  delivered(conn: Connection, result: CommandResult, tag: Pending): void;
}

/**
 * One WebSocket connection: its principal, subscriptions and queue of encoded replies. It is the
 * engine's ResultSink for every command the connection sends (one sink per connection, the tag
 * says which request).
 */
export class Connection implements ResultSink<Pending>, ReplyTarget {
  ws: WebSocket<SocketData> | null = null;
  /** Set by the close handler; uWS throws on a closed socket, so nothing is written after. */
  closed = false;
  queued = false;
  /** Cut off by uWS for not reading (a message was dropped at the backpressure limit). */
  backpressured = false;
  frames = 0;
  /** The encoding of the last frame received: pushes that answer no frame go out in it. */
  binary = false;
  readonly subscriptions = new Map<string, Subscription>();
  /** Replies waiting for this turn's flush (their bytes point into shared slabs: cleared once
   * written, so none is kept alive). */
  private readonly out = new RefillList<string | Uint8Array>();
  private readonly writeAll = (): void => {
    const ws = this.ws as WebSocket<SocketData>;
    const out = this.out;
    for (let i = 0; i < out.length && !this.closed; i++) {
      const message = out.at(i);
      ws.send(message, typeof message !== 'string');
    }
  };

  constructor(
    readonly id: number,
    readonly principal: Principal,
    readonly remote: string,
    readonly openedAt: number,
    private readonly handler: ResultHandler,
    private readonly batcher: ReplyBatcher,
  ) {}

  deliver(result: CommandResult, tag: Pending, _command: Command): void {
    this.handler.delivered(this, result, tag);
  }

  /** Queues an encoded reply for this turn's flush. */
  push(message: string | Uint8Array): void {
    if (this.closed) return;
    this.out.push(message);
    this.batcher.mark(this);
  }

  writeQueued(): void {
    if (this.closed || this.ws === null) {
      this.out.clear();
      return;
    }
    try {
      this.ws.cork(this.writeAll);
    } catch {
      // uWS throws only on a socket that is already closed; its close handler has run or runs now.
      this.closed = true;
    } finally {
      this.out.clear();
    }
  }
}
