import type { DeliveryOutcome, OutboxMessage, OutboxTransport } from '../../orders/index.ts';
import { streamLocation, type LocationPeers, type LocationPush } from '../location-push.ts';
import type { ShardRouter } from './shard-router.ts';

/**
 * A location's WebSockets when they land on several workers (docs/scaling.md, "Orders on
 * workers"). As with one worker, a location's messages go to its newest socket, and it may ack a
 * message on any of its sockets:
 * - every worker tells the others when the newest socket of a location there changes (when it
 *   opened; none), so each order service's outbox sends to the worker holding the newest one;
 *   there its LocationPush pushes and waits for the ack, and the outcome (acked, or retryable: no
 *   ack in time, the socket closed) comes back to the outbox, which retries as it always does;
 * - an ack of messages not waiting on the worker that took it is asked of the others.
 */

const NEWEST = 'locations.newest';
const DELIVER = 'locations.deliver';
const ACK = 'locations.ack';

/** Sends one location's messages to the worker that holds its newest socket. */
class RelayedTransport implements OutboxTransport {
  constructor(
    private readonly router: ShardRouter,
    private readonly worker: number,
    private readonly location: string,
  ) {}

  send(message: OutboxMessage): Promise<DeliveryOutcome> {
    return this.router.ask<DeliveryOutcome>(this.worker, DELIVER, [this.location, message]);
  }
}

export class LocationRelay implements LocationPeers {
  /** location → worker → when its newest socket of the location opened. */
  private readonly newestThere = new Map<string, Map<number, number>>();

  constructor(
    private readonly router: ShardRouter,
    private readonly push: LocationPush,
  ) {
    push.connect(this);
    router.handle(NEWEST, (peer, payload) => {
      const [location, at] = payload as [string, number | null];
      let workers = this.newestThere.get(location);
      if (at === null) {
        workers?.delete(peer);
        if (workers?.size === 0) this.newestThere.delete(location);
        return;
      }
      if (workers === undefined)
        this.newestThere.set(location, (workers = new Map<number, number>()));
      workers.set(peer, at);
    });
    router.handle(DELIVER, (_peer, payload, reply) => {
      if (reply === null) return;
      const [location, message] = payload as [string, OutboxMessage];
      push.deliver(location, message).then(reply, (error: unknown) => {
        reply({
          ok: false,
          retryable: true,
          status: null,
          error: String(error),
        } satisfies DeliveryOutcome);
      });
    });
    router.handle(ACK, (_peer, payload, reply) => {
      const [location, ids] = payload as [string, string[]];
      reply?.(push.ack(location, ids));
    });
  }

  /**
   * The transport of a `location:<id>` stream: this worker's push when the location's newest
   * socket is here, the worker holding it otherwise, null with none open anywhere.
   */
  transportFor(stream: string): OutboxTransport | null {
    const location = streamLocation(stream);
    if (location === null) return null;
    let best = this.push.newestAt(location);
    let worker = this.router.shard;
    for (const [w, at] of this.newestThere.get(location) ?? []) {
      if (best === null || at > best) {
        best = at;
        worker = w;
      }
    }
    if (best === null) return null;
    return worker === this.router.shard
      ? this.push.transportFor(stream)
      : new RelayedTransport(this.router, worker, location);
  }

  // ---- LocationPeers: this worker's push, telling and asking the others ----------------------

  newest(location: string, at: number | null): void {
    this.router.tellPeers(NEWEST, [location, at]);
  }

  async ack(location: string, messageIds: readonly string[]): Promise<number> {
    const there = await this.router.askPeers<number>(ACK, [location, messageIds]);
    return there.reduce((a, b) => a + b, 0);
  }
}
