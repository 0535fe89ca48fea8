import type { TemplatedApp } from 'uWebSockets.js';
import {
  ErrorCode,
  type AvailabilityDelta,
  type Engine,
  type ErrorResult,
  type WatchSnapshot,
} from '../engine/index.ts';
import { Subscription, type Connection } from './connection.ts';
import type { FrameCodec } from './frame-codec.ts';
import type { RequestId } from './message-schemas.ts';
import type { GatewayMetrics } from './metrics.ts';
import { binaryTopic, parseTopic, type TopicName } from './topics.ts';
import {
  AvailabilityMessage,
  ErrorReply,
  SubscribeReply,
  TopicSnapshot,
  UnsubscribeReply,
} from './ws-protocol.ts';

/** A topic with subscribers somewhere in this gateway, counted per encoding. */
class TopicEntry {
  json = 0;
  binary = 0;
  readonly binaryName: string;

  constructor(readonly topic: string) {
    this.binaryName = binaryTopic(topic);
  }
}

/**
 * Live availability topics. Each connection watches a topic in the engine once, however often
 * it subscribes (engine.watch per topic per connection, engine.unwatch when it unsubscribes or
 * closes); deltas from engine.onDeltas are encoded once per encoding with subscribers and handed
 * to uWS's publish, which fans them out. JSON subscribers are on the topic name, msgpack ones on
 * `bin|` + the name: the encoding is the one of the frame that subscribed.
 */
export class SubscriptionHub {
  private readonly topics = new Map<string, TopicEntry>();
  private count = 0;

  constructor(
    private readonly engine: Engine,
    private readonly app: TemplatedApp,
    private readonly codec: FrameCodec,
    private readonly metrics: GatewayMetrics,
    private readonly maxPerConnection: number,
  ) {}

  subscribe(
    conn: Connection,
    id: RequestId,
    topics: readonly string[],
    binary: boolean,
  ): SubscribeReply | ErrorReply | Promise<SubscribeReply | ErrorReply> {
    const names: TopicName[] = [];
    const fresh = new Set<string>();
    for (const topic of topics) {
      const name = parseTopic(topic);
      if (name === null) {
        return new ErrorReply(
          id,
          ErrorCode.BAD_REQUEST,
          `not a topic: ${topic.slice(0, 200)} (availability:{channel}:{sku}[@{location}])`,
        );
      }
      if (!conn.principal.mayUseChannel(name.channel)) {
        return new ErrorReply(
          id,
          ErrorCode.FORBIDDEN,
          `key ${conn.principal.name} may not read channel ${name.channel}`,
        );
      }
      if (!conn.subscriptions.has(topic)) fresh.add(topic);
      names.push(name);
    }
    if (conn.subscriptions.size + fresh.size > this.maxPerConnection) {
      return new ErrorReply(
        id,
        ErrorCode.BAD_REQUEST,
        `at most ${this.maxPerConnection} subscriptions per connection`,
      );
    }
    const added = new Set<string>();
    // Each topic is added as soon as its watch answers (at once here, or when another worker's
    // shard answers), so no delta published after the watch misses the connection.
    const watched = names.map((name) => {
      const held = conn.subscriptions.has(name.topic);
      const settle = (snap: WatchSnapshot | ErrorResult): WatchSnapshot | ErrorResult => {
        if (!snap.ok) return snap;
        if (held || conn.closed) {
          // Already watched by this connection: the watch above only read the current value.
          this.engine.unwatch(name.channel, name.sku, name.location);
        } else {
          this.add(conn, name, binary);
          added.add(name.topic);
        }
        return snap;
      };
      const snap = this.engine.watch(name.channel, name.sku, name.location);
      return snap instanceof Promise ? snap.then(settle) : settle(snap);
    });
    const reply = (
      snaps: readonly (WatchSnapshot | ErrorResult)[],
    ): SubscribeReply | ErrorReply => {
      const failed = snaps.findIndex((snap) => !snap.ok);
      if (failed !== -1) {
        for (const topic of added) this.drop(conn, topic);
        const snap = snaps[failed] as ErrorResult;
        const topic = (names[failed] as TopicName).topic;
        return new ErrorReply(id, snap.code, `${topic}: ${snap.message}`, snap.reason);
      }
      return new SubscribeReply(
        id,
        snaps.map((snap, i) => {
          const ok = snap as WatchSnapshot;
          return new TopicSnapshot((names[i] as TopicName).topic, ok.available, ok.seq);
        }),
      );
    };
    if (watched.some((w) => w instanceof Promise)) {
      return Promise.all(watched.map((w) => Promise.resolve(w))).then(reply);
    }
    return reply(watched as (WatchSnapshot | ErrorResult)[]);
  }

  unsubscribe(conn: Connection, id: RequestId, topics: readonly string[]): UnsubscribeReply {
    const removed: string[] = [];
    for (const topic of topics) {
      if (this.drop(conn, topic)) removed.push(topic);
    }
    return new UnsubscribeReply(id, removed);
  }

  /** Ends every subscription of a closed connection (uWS has already unsubscribed its socket). */
  dropAll(conn: Connection): void {
    for (const topic of [...conn.subscriptions.keys()]) this.drop(conn, topic);
  }

  get subscriptionCount(): number {
    return this.count;
  }

  /** engine.onDeltas listener. */
  publish(deltas: readonly AvailabilityDelta[]): void {
    for (const delta of deltas) {
      const entry = this.topics.get(delta.topic);
      if (entry === undefined) continue;
      const message = new AvailabilityMessage(delta.topic, delta.available, delta.seq);
      if (entry.json > 0) {
        this.app.publish(delta.topic, JSON.stringify(message), false);
        this.metrics.deltasSent++;
      }
      if (entry.binary > 0) {
        this.app.publish(entry.binaryName, this.codec.pack(message), true);
        this.metrics.deltasSent++;
      }
    }
  }

  private add(conn: Connection, name: TopicName, binary: boolean): void {
    let entry = this.topics.get(name.topic);
    if (entry === undefined) {
      entry = new TopicEntry(name.topic);
      this.topics.set(name.topic, entry);
      this.metrics.topics.set(this.topics.size);
    }
    if (binary) entry.binary++;
    else entry.json++;
    conn.subscriptions.set(name.topic, new Subscription(name, binary));
    if (!conn.closed && conn.ws !== null) {
      conn.ws.subscribe(binary ? entry.binaryName : name.topic);
    }
    this.count++;
    this.metrics.subscriptions.set(this.count);
  }

  private drop(conn: Connection, topic: string): boolean {
    const sub = conn.subscriptions.get(topic);
    if (sub === undefined) return false;
    conn.subscriptions.delete(topic);
    this.engine.unwatch(sub.name.channel, sub.name.sku, sub.name.location);
    const entry = this.topics.get(topic);
    if (entry !== undefined) {
      if (sub.binary) entry.binary--;
      else entry.json--;
      if (!conn.closed && conn.ws !== null) {
        conn.ws.unsubscribe(sub.binary ? entry.binaryName : topic);
      }
      if (entry.json <= 0 && entry.binary <= 0) {
        this.topics.delete(topic);
        this.metrics.topics.set(this.topics.size);
      }
    }
    this.count--;
    this.metrics.subscriptions.set(this.count);
    return true;
  }
}
