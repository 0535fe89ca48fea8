import type { DeliveryOutcome, OutboxMessage, OutboxTransport } from '../orders/index.ts';
import { FulfilmentPush } from './ws-protocol.ts';

export interface LocationPushOptions {
  /**
   * How long a pushed message waits for the location's ack before the send counts as failed
   * (the outbox retries it, with the same messageId). Default 10 s.
   */
  readonly ackTimeoutMs?: number | undefined;
}

/** The other workers' location pushes, as one worker's sees them (location-relay.ts). */
export interface LocationPeers {
  /** The newest socket of a location here opened at `at` (null: none is open here now). */
  newest(location: string, at: number | null): void;
  /** Acks messages the other workers pushed; answers how many were waiting there. */
  ack(location: string, messageIds: readonly string[]): Promise<number>;
}

/** A location key's open WebSocket, as the push sees it. */
export interface LocationSocket {
  readonly location: string;
  /** Queues a push on the socket; false when the socket is closed already. */
  send(message: FulfilmentPush): boolean;
}

const DEFAULT_ACK_TIMEOUT_MS = 10_000;
const STREAM_PREFIX = 'location:';

/** The location of a `location:<id>` stream, or null for another stream. */
export function streamLocation(stream: string): string | null {
  return stream.startsWith(STREAM_PREFIX) ? stream.slice(STREAM_PREFIX.length) : null;
}

/** The outbox stream of a location's messages. */
export function locationStream(location: string): string {
  return STREAM_PREFIX + location;
}

/** One pushed message waiting for its ack. */
class AwaitingAck {
  constructor(
    readonly location: string,
    readonly socket: LocationSocket,
    readonly resolve: (outcome: DeliveryOutcome) => void,
    readonly timer: NodeJS.Timeout,
  ) {}
}

/** The transport of one location: sends on its newest socket at the time of sending. */
class LocationTransport implements OutboxTransport {
  constructor(
    private readonly push: LocationPush,
    private readonly location: string,
  ) {}

  send(message: OutboxMessage): Promise<DeliveryOutcome> {
    return this.push.deliver(this.location, message);
  }
}

const DELIVERED: DeliveryOutcome = Object.freeze({ ok: true, status: null });

function retryable(error: string): DeliveryOutcome {
  return { ok: false, retryable: true, status: null, error };
}

/**
 * Live delivery of the order service's location messages over the locations' own WebSockets:
 * the `OutboxTransport` of every `location:<id>` stream whose location has a socket open. A
 * message counts as delivered when the location acknowledges it (`{op:"ack", messageIds}`), not
 * when it was written: a socket can die with the message still in a kernel buffer. No ack in
 * time, or the socket closing first, is a retryable failure, and the outbox sends it again with
 * the same messageId (at least once: the location drops repeats by id).
 *
 * It stands alone so that it can exist before the order service, whose `transportFor` consults
 * it; the gateway gets it in `extras.locationPush`, registers location sockets here as they open
 * and close, and routes their acks here. Several sockets of one location may be open; messages
 * go to the newest.
 */
export class LocationPush {
  private readonly ackTimeoutMs: number;
  /** location -> its open sockets, oldest first. */
  private readonly sockets = new Map<string, LocationSocket[]>();
  /** location -> its transport while it has a socket (one object per location, not per message). */
  private readonly transports = new Map<string, LocationTransport>();
  /** messageId -> the push waiting for its ack (at most the outbox's in-flight limit). */
  private readonly awaiting = new Map<string, AwaitingAck>();
  /** When each open socket opened (ms, comparable across threads): the newest gets pushes. */
  private readonly openedAt = new WeakMap<LocationSocket, number>();
  private peers: LocationPeers | null = null;

  constructor(options: LocationPushOptions = {}) {
    const timeout = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new RangeError(`ackTimeoutMs must be a whole number >= 1, got ${String(timeout)}`);
    }
    this.ackTimeoutMs = timeout;
  }

  /**
   * The transport for an outbox stream: for `location:<id>` with a socket open, one that pushes
   * on it; otherwise null (nothing can carry the stream now: the outbox retries later, or at
   * once when the location connects and the gateway wakes the stream).
   */
  transportFor(stream: string): OutboxTransport | null {
    const location = streamLocation(stream);
    return location === null ? null : (this.transports.get(location) ?? null);
  }

  /**
   * With worker threads (gateway/shards/location-relay.ts): the other workers, told when the
   * newest socket of a location here changes, and asked about acks of messages not sent here.
   */
  connect(peers: LocationPeers): void {
    this.peers = peers;
  }

  /** When the newest open socket of a location here opened, or null with none open. */
  newestAt(location: string): number | null {
    const socket = this.sockets.get(location)?.at(-1);
    return socket === undefined ? null : (this.openedAt.get(socket) ?? null);
  }

  /** @internal The gateway: a location's socket opened. */
  add(socket: LocationSocket): void {
    this.openedAt.set(socket, performance.timeOrigin + performance.now());
    const list = this.sockets.get(socket.location);
    if (list === undefined) {
      this.sockets.set(socket.location, [socket]);
      this.transports.set(socket.location, new LocationTransport(this, socket.location));
    } else {
      list.push(socket);
    }
    this.peers?.newest(socket.location, this.newestAt(socket.location));
  }

  /** @internal The gateway: a location's socket closed; what waits for its ack is retried. */
  remove(socket: LocationSocket): void {
    const list = this.sockets.get(socket.location);
    if (list !== undefined) {
      const at = list.indexOf(socket);
      if (at !== -1) list.splice(at, 1);
      if (list.length === 0) {
        this.sockets.delete(socket.location);
        this.transports.delete(socket.location);
      }
      this.peers?.newest(socket.location, this.newestAt(socket.location));
    }
    // Bounded by the outbox's in-flight limit, so a scan beats a second index.
    for (const [messageId, waiting] of this.awaiting) {
      if (waiting.socket !== socket) continue;
      this.settle(
        messageId,
        waiting,
        retryable('the connection closed before the message was acknowledged'),
      );
    }
  }

  /**
   * @internal The gateway: a location acknowledged messages. Returns how many were waiting for
   * it; ids of other locations, repeats and unknown ids are ignored.
   */
  ack(location: string, messageIds: readonly string[]): number {
    return this.ackHere(location, messageIds, null);
  }

  /**
   * @internal The gateway: `ack`, and with worker threads the ids not waiting here are asked of
   * the other workers (a location may ack on any of its sockets, whichever worker pushed).
   */
  ackAnywhere(location: string, messageIds: readonly string[]): number | Promise<number> {
    const elsewhere: string[] = [];
    const acked = this.ackHere(location, messageIds, elsewhere);
    if (elsewhere.length === 0 || this.peers === null) return acked;
    return this.peers.ack(location, elsewhere).then((there) => acked + there);
  }

  /** Settles the messages waiting here for the location's acks; the others go to `missed`. */
  private ackHere(location: string, messageIds: readonly string[], missed: string[] | null) {
    let acked = 0;
    for (const messageId of messageIds) {
      const waiting = this.awaiting.get(messageId);
      if (waiting?.location !== location) {
        missed?.push(messageId);
        continue;
      }
      this.settle(messageId, waiting, DELIVERED);
      acked++;
    }
    return acked;
  }

  /** @internal A location's transport: pushes one message and waits for its ack. */
  deliver(location: string, message: OutboxMessage): Promise<DeliveryOutcome> {
    const socket = this.sockets.get(location)?.at(-1);
    if (socket === undefined) {
      return Promise.resolve(retryable(`location ${location} has no connection open`));
    }
    // The outbox sends a message once at a time; a leftover wait (cannot happen) is retried.
    const previous = this.awaiting.get(message.messageId);
    if (previous !== undefined) {
      this.settle(message.messageId, previous, retryable('sent again'));
    }
    if (!socket.send(new FulfilmentPush(message))) {
      return Promise.resolve(retryable('the connection closed before the message was sent'));
    }
    return new Promise<DeliveryOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const waiting = this.awaiting.get(message.messageId);
        if (waiting?.timer !== timer) return;
        this.settle(message.messageId, waiting, retryable(`no ack within ${this.ackTimeoutMs} ms`));
      }, this.ackTimeoutMs);
      // I/O timeout, not business time (the injected clock does not drive sockets).
      timer.unref();
      this.awaiting.set(message.messageId, new AwaitingAck(location, socket, resolve, timer));
    });
  }

  private settle(messageId: string, waiting: AwaitingAck, outcome: DeliveryOutcome): void {
    clearTimeout(waiting.timer);
    this.awaiting.delete(messageId);
    waiting.resolve(outcome);
  }
}
