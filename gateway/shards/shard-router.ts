import type { MessagePort } from 'node:worker_threads';
import type {
  Availability,
  AvailabilityDelta,
  Command,
  CommandResult,
  DeltaListener,
  Engine,
  EngineStats,
  EngineStorage,
  ErrorResult,
  LocationInput,
  PositionView,
  ProductInput,
  ReservationView,
  ResultSink,
  RulesDocument,
  SnapshotSummary,
  StockEngine,
  StockPort,
  WatchSnapshot,
} from '../../engine/index.ts';
import { ErrorCode, fail, PROMISE_SINK, Reason, topicOf, type Clock } from '../../engine/index.ts';
import { shardOf } from './layout.ts';
import { packAnswer, unpackAnswer } from './answer-codec.ts';
import { PeerLink, type CommandWaiter } from './peer-link.ts';
import { ReservationDirectory } from './reservation-directory.ts';

/**
 * The engine as one worker's gateway sees it when SKUs are sharded over workers (issue #12,
 * docs/scaling.md): the Engine interface over this worker's own shard (a StockEngine) and every
 * other shard (a PeerLink each). A command goes to the shard that owns its SKU, a release or
 * confirm to the shard that holds the reservation (ReservationDirectory); reads of another shard's
 * SKU answer as a promise; master data and rules are applied on every shard (each journals its
 * own copy, so every shard recovers on its own); deltas of a topic owned elsewhere come from its
 * owner, which pushes them to every worker that watches it.
 */

type Route = number;

/** The requests the router serves itself. */
const STOCK_KINDS: ReadonlySet<string> = new Set([
  'cmd',
  'settle',
  'durable',
  'availability',
  'skusAt',
  'watch',
  'unwatch',
  'deltas',
  'setRules',
  'upsertLocations',
  'upsertProducts',
  'replace',
]);
const UNKNOWN: Route = -1;

/** Waits for a forwarded command's answer and hands it to the sink it came with. */
class ForwardedCommand<T> implements CommandWaiter {
  constructor(
    private readonly router: ShardRouter,
    private readonly shard: number,
    readonly cmd: Command,
    private readonly sink: ResultSink<T>,
    private readonly tag: T,
  ) {}
  answered(value: unknown): void {
    this.settled(unpackAnswer(value, this.cmd));
  }
  settled(result: CommandResult): void {
    this.router.learn(this.cmd, result, this.shard);
    this.sink.deliver(result, this.tag, this.cmd);
  }
}

/** A release or confirm of a reservation no directory entry places: asked of every shard. */
class Broadcast<T> implements CommandWaiter {
  private left: number;
  private found: CommandResult | null = null;
  private notFound: CommandResult | null = null;
  constructor(
    readonly cmd: Command,
    private readonly sink: ResultSink<T>,
    private readonly tag: T,
    shards: number,
  ) {
    this.left = shards;
  }
  answered(value: unknown): void {
    this.settled(unpackAnswer(value, this.cmd));
  }
  settled(result: CommandResult): void {
    if (!result.ok && result.reason === Reason.UNKNOWN_RESERVATION) this.notFound ??= result;
    else this.found ??= result;
    if (--this.left === 0) {
      this.sink.deliver((this.found ?? this.notFound) as CommandResult, this.tag, this.cmd);
    }
  }
}

class LocalAnswer implements ResultSink<CommandWaiter> {
  deliver(result: CommandResult, waiter: CommandWaiter): void {
    waiter.settled(result);
  }
}
const LOCAL_ANSWER = new LocalAnswer();

/** Answers a command sent as msgpack (binary ones are answered by their PeerLink itself). */
class ReplySink implements ResultSink<(value: unknown) => void> {
  deliver(result: CommandResult, reply: (value: unknown) => void, command: Command): void {
    reply(packAnswer(result, command));
  }
}
const REPLY_SINK = new ReplySink();

/** Serves one kind of request (or push: `reply` null) from the worker `peer`. */
export type PeerHandler = (
  peer: number,
  payload: unknown,
  reply: ((value: unknown) => void) | null,
) => void;

interface WatchArgs {
  readonly channel: string;
  readonly sku: string;
  readonly location: string | null;
}

interface ReplaceArgs {
  readonly location: string;
  readonly asOf: number;
  readonly lines: { sku: string; onHand: number }[];
}

export class ShardRouter implements Engine {
  /** links[k] reaches worker k (null at this worker's own index); peerLinks, the others. */
  private readonly links: (PeerLink | null)[];
  private readonly peerLinks: PeerLink[];
  private readonly directory = new ReservationDirectory();
  /** Topics of other shards this worker's subscribers watch: topic → watches held at the owner. */
  private readonly remoteTopics = new Map<string, number>();
  /** Topics of this shard watched by other workers: topic → worker → watches it holds here. */
  private readonly watchedByPeers = new Map<string, Map<number, number>>();
  private readonly listeners = new Set<DeltaListener>();
  /** Requests beyond the stock path's own (orders, the location relay, stock reads for orders). */
  private readonly handlers = new Map<string, PeerHandler>();
  private readonly stopLocal: () => void;
  /** Commands forwarded to another shard (for the metrics). */
  forwarded = 0;

  constructor(
    private readonly local: StockEngine,
    readonly shard: number,
    readonly count: number,
    ports: readonly (MessagePort | null)[],
  ) {
    this.links = ports.map((port, k) =>
      port === null
        ? null
        : new PeerLink(
            k,
            port,
            (kind, payload, reply) => {
              this.serve(k, kind, payload, reply);
            },
            (cmd, link, id) => {
              this.serveCommand(cmd, link, id);
            },
          ),
    );
    this.peerLinks = this.links.filter((l): l is PeerLink => l !== null);
    this.stopLocal = local.onDeltas((deltas) => {
      this.emit(deltas);
      this.pushToPeers(deltas);
    });
  }

  get clock(): Clock {
    return this.local.clock;
  }

  get storage(): EngineStorage {
    return this.local.storage;
  }

  get stock(): StockPort {
    return this.local.stock;
  }

  // ---- commands ------------------------------------------------------------------------------

  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void {
    const shard = this.route(cmd);
    if (shard === this.shard) {
      this.local.submit(cmd, sink, tag);
    } else if (shard === UNKNOWN) {
      const all = new Broadcast(cmd, sink, tag, this.count);
      this.local.submit(cmd, LOCAL_ANSWER, all);
      for (const link of this.links) link?.requestCommand(all);
    } else {
      this.forwarded++;
      this.link(shard).requestCommand(new ForwardedCommand(this, shard, cmd, sink, tag));
    }
  }

  execute(cmd: Command): Promise<CommandResult> {
    return new Promise((resolve) => {
      this.submit(cmd, PROMISE_SINK, resolve);
    });
  }

  private route(cmd: Command): Route {
    switch (cmd.op) {
      case 'release':
      case 'confirm':
      case 'expire':
        if (typeof cmd.reservationId !== 'string') return this.shard;
        if (this.local.knowsReservation(cmd.reservationId)) return this.shard;
        // Of two shards, the one that does not hold it here is the only other place it can be.
        if (this.count === 2) return 1 - this.shard;
        return this.directory.get(cmd.reservationId) ?? UNKNOWN;
      default:
        // A command without a SKU is refused by the local engine's checks.
        return typeof cmd.sku === 'string' ? shardOf(cmd.sku, this.count) : this.shard;
    }
  }

  /** Keeps the reservation directory in step with a forwarded command's answer. */
  learn(cmd: Command, result: CommandResult, shard: number): void {
    // Two shards need no directory (route() sends what is not here to the other one).
    if (this.count === 2) return;
    if (cmd.op === 'reserve') {
      if (result.ok) this.directory.set(cmd.reservationId, shard);
    } else if (cmd.op === 'release' || cmd.op === 'confirm') {
      this.directory.delete(cmd.reservationId);
    }
  }

  settle(): Promise<void> {
    return this.everywhere('settle', () => this.local.settle());
  }

  durable(): Promise<void> {
    return this.everywhere('durable', () => this.local.durable());
  }

  private async everywhere(kind: string, here: () => Promise<void>): Promise<void> {
    await Promise.all([here(), ...this.peerLinks.map((l) => l.ask(kind, null))]);
  }

  // ---- reads ---------------------------------------------------------------------------------

  availability(
    channel: string,
    sku: string,
    location?: string | null,
  ): Availability | ErrorResult | Promise<Availability | ErrorResult> {
    const owner = shardOf(sku, this.count);
    if (owner === this.shard) return this.local.availability(channel, sku, location ?? null);
    const args: WatchArgs = { channel, sku, location: location ?? null };
    return this.link(owner).ask('availability', args);
  }

  /** This shard's positions only (no caller outside the engine's own tests reads others'). */
  position(sku: string, location: string): PositionView | null {
    return this.local.position(sku, location);
  }

  /** False for another shard's SKU: the row goes to its owner, which drops it if unchanged. */
  feedRowUnchanged(sku: string, location: string, onHand: number): boolean {
    return shardOf(sku, this.count) === this.shard
      ? this.local.feedRowUnchanged(sku, location, onHand)
      : false;
  }

  skusAt(location: string): Promise<string[]> {
    const here = this.local.skusAt(location);
    return Promise.all(this.peerLinks.map((l) => l.ask<string[]>('skusAt', location))).then(
      (lists) => here.concat(...lists),
    );
  }

  /** Reservations held on this shard only. */
  reservation(reservationId: string): ReservationView | null {
    return this.local.reservation(reservationId);
  }

  // ---- live availability ---------------------------------------------------------------------

  watch(
    channel: string,
    sku: string,
    location: string | null = null,
  ): WatchSnapshot | ErrorResult | Promise<WatchSnapshot | ErrorResult> {
    const owner = shardOf(sku, this.count);
    if (owner === this.shard) return this.local.watch(channel, sku, location);
    const topic = topicOf(channel, sku, location);
    this.remoteTopics.set(topic, (this.remoteTopics.get(topic) ?? 0) + 1);
    const args: WatchArgs = { channel, sku, location };
    return this.link(owner)
      .ask<WatchSnapshot | ErrorResult>('watch', args)
      .then((snap) => {
        // Refused (unknown SKU or channel): the owner holds no watch to end.
        if (!snap.ok) this.forget(topic);
        return snap;
      });
  }

  unwatch(channel: string, sku: string, location: string | null = null): void {
    const owner = shardOf(sku, this.count);
    if (owner === this.shard) {
      this.local.unwatch(channel, sku, location);
      return;
    }
    const topic = topicOf(channel, sku, location);
    if (!this.remoteTopics.has(topic)) return;
    // Every watch asked the owner once: every unwatch tells it once.
    this.link(owner).push('unwatch', { channel, sku, location } satisfies WatchArgs);
    this.forget(topic);
  }

  private forget(topic: string): void {
    const watches = this.remoteTopics.get(topic) ?? 0;
    if (watches <= 1) this.remoteTopics.delete(topic);
    else this.remoteTopics.set(topic, watches - 1);
  }

  onDeltas(listener: DeltaListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  flushDeltas(): void {
    this.local.flushDeltas();
  }

  private emit(deltas: readonly AvailabilityDelta[]): void {
    for (const listener of this.listeners) listener(deltas);
  }

  /** This shard's deltas, to every worker that watches their topics. */
  private pushToPeers(deltas: readonly AvailabilityDelta[]): void {
    if (this.watchedByPeers.size === 0) return;
    let out: Map<number, AvailabilityDelta[]> | null = null;
    for (const delta of deltas) {
      const peers = this.watchedByPeers.get(delta.topic);
      if (peers === undefined) continue;
      out ??= new Map();
      for (const peer of peers.keys()) {
        let list = out.get(peer);
        if (list === undefined) out.set(peer, (list = []));
        list.push(delta);
      }
    }
    if (out === null) return;
    for (const [peer, list] of out) this.links[peer]?.push('deltas', list);
  }

  // ---- rules and master data: every shard holds them -----------------------------------------

  setRules(input: Parameters<Engine['setRules']>[0]): void {
    this.local.setRules(input);
    for (const link of this.peerLinks) link.push('setRules', input);
  }

  rules(): RulesDocument {
    return this.local.rules();
  }

  upsertLocations(list: readonly LocationInput[]): number {
    const changed = this.local.upsertLocations(list);
    for (const link of this.peerLinks) link.push('upsertLocations', list);
    return changed;
  }

  upsertProducts(list: readonly ProductInput[]): number {
    const changed = this.local.upsertProducts(list);
    for (const link of this.peerLinks) link.push('upsertProducts', list);
    return changed;
  }

  location(id: string): LocationInput | null {
    return this.local.location(id);
  }

  locationList(): LocationInput[] {
    return this.local.locationList();
  }

  product(sku: string): ProductInput | null {
    return this.local.product(sku);
  }

  productList(): ProductInput[] {
    return this.local.productList();
  }

  /** Each shard applies the lines of its SKUs and zeroes its own positions the snapshot omits. */
  async replaceLocationStock(
    location: string,
    asOf: number,
    lines: Iterable<{ readonly sku: string; readonly onHand: number }>,
  ): Promise<SnapshotSummary> {
    const parts: { sku: string; onHand: number }[][] = Array.from({ length: this.count }, () => []);
    for (const line of lines) {
      (parts[shardOf(line.sku, this.count)] as { sku: string; onHand: number }[]).push({
        sku: line.sku,
        onHand: line.onHand,
      });
    }
    const summaries = await Promise.all(
      parts.map((part, k) =>
        k === this.shard
          ? this.local.replaceLocationStock(location, asOf, part)
          : this.link(k).ask<SnapshotSummary>('replace', {
              location,
              asOf,
              lines: part,
            } satisfies ReplaceArgs),
      ),
    );
    return {
      location,
      applied: sum(summaries, 'applied'),
      stale: sum(summaries, 'stale'),
      zeroed: sum(summaries, 'zeroed'),
      rejected: sum(summaries, 'rejected'),
      errors: summaries.flatMap((s) => s.errors).slice(0, 100),
    };
  }

  // ---- operations ----------------------------------------------------------------------------

  /** This shard's figures (the process's /metrics sums every worker's). */
  stats(): EngineStats {
    return this.local.stats();
  }

  async stop(): Promise<void> {
    this.stopLocal();
    await this.local.stop();
  }

  /** Closes the links to the other workers (once every worker has drained). */
  closeLinks(): void {
    for (const link of this.peerLinks) link.close();
  }

  /** Forwarding figures for the metrics: messages and commands sent to other workers. */
  linkStats(): { messages: number; items: number } {
    let messages = 0;
    let items = 0;
    for (const link of this.peerLinks) {
      messages += link.messagesSent;
      items += link.itemsSent;
    }
    return { messages, items };
  }

  // ---- what else travels between workers ------------------------------------------------------

  /** The shard that owns a SKU. */
  ownerOf(sku: string): number {
    return shardOf(sku, this.count);
  }

  /** Asks worker `shard` a request some `handle` there serves. */
  ask<T>(shard: number, kind: string, payload: unknown): Promise<T> {
    return this.link(shard).ask<T>(kind, payload);
  }

  /** Tells worker `shard` something, with no answer. */
  tell(shard: number, kind: string, payload: unknown): void {
    this.link(shard).push(kind, payload);
  }

  /** Tells every other worker something, with no answer. */
  tellPeers(kind: string, payload: unknown): void {
    for (const link of this.peerLinks) link.push(kind, payload);
  }

  /** Asks every other worker; their answers, in worker order. */
  askPeers<T>(kind: string, payload: unknown): Promise<T[]> {
    return Promise.all(this.peerLinks.map((link) => link.ask<T>(kind, payload)));
  }

  /** Serves requests of `kind` from the other workers (a kind of the stock path's own: refused). */
  handle(kind: string, handler: PeerHandler): void {
    if (STOCK_KINDS.has(kind) || this.handlers.has(kind)) {
      throw new Error(`a handler for ${kind} exists already`);
    }
    this.handlers.set(kind, handler);
  }

  // ---- serving the other workers -------------------------------------------------------------

  private serve(
    peer: number,
    kind: string,
    payload: unknown,
    reply: ((value: unknown) => void) | null,
  ): void {
    try {
      this.serveKind(peer, kind, payload, reply);
    } catch (error) {
      reply?.(fail(ErrorCode.INTERNAL, null, `shard ${this.shard}: ${String(error)}`));
    }
  }

  /** A command another worker forwarded in binary: the link answers it (ResultSink). */
  private serveCommand(cmd: Command, link: PeerLink, id: number): void {
    try {
      this.local.submit(cmd, link, id);
    } catch (error) {
      link.deliver(
        fail(ErrorCode.INTERNAL, null, `shard ${this.shard}: ${String(error)}`),
        id,
        cmd,
      );
    }
  }

  private serveKind(
    peer: number,
    kind: string,
    payload: unknown,
    reply: ((value: unknown) => void) | null,
  ): void {
    const answer = reply ?? (() => undefined);
    switch (kind) {
      case 'cmd':
        this.local.submit(payload as Command, REPLY_SINK, answer);
        return;
      case 'settle':
        void this.local.settle().then(() => {
          answer(null);
        });
        return;
      case 'durable':
        this.local.durable().then(
          () => {
            answer(null);
          },
          () => {
            answer(null);
          },
        );
        return;
      case 'availability': {
        const a = payload as WatchArgs;
        answer(this.local.availability(a.channel, a.sku, a.location));
        return;
      }
      case 'skusAt':
        answer(this.local.skusAt(payload as string));
        return;
      case 'watch': {
        const a = payload as WatchArgs;
        const snap = this.local.watch(a.channel, a.sku, a.location);
        if (snap.ok) {
          let peers = this.watchedByPeers.get(snap.topic);
          if (peers === undefined)
            this.watchedByPeers.set(snap.topic, (peers = new Map<number, number>()));
          peers.set(peer, (peers.get(peer) ?? 0) + 1);
        }
        answer(snap);
        return;
      }
      case 'unwatch': {
        const a = payload as WatchArgs;
        const topic = topicOf(a.channel, a.sku, a.location);
        const peers = this.watchedByPeers.get(topic);
        const held = peers?.get(peer) ?? 0;
        if (peers === undefined || held === 0) return;
        if (held > 1) peers.set(peer, held - 1);
        else if (peers.delete(peer) && peers.size === 0) this.watchedByPeers.delete(topic);
        this.local.unwatch(a.channel, a.sku, a.location);
        return;
      }
      case 'deltas':
        // After the microtasks of this message: a subscribe whose watch was answered in it has
        // added its topics by then, so these deltas reach it.
        setImmediate(() => {
          this.emit(payload as AvailabilityDelta[]);
        });
        return;
      case 'setRules':
        this.local.setRules(payload as Parameters<Engine['setRules']>[0]);
        return;
      case 'upsertLocations':
        this.local.upsertLocations(payload as LocationInput[]);
        return;
      case 'upsertProducts':
        this.local.upsertProducts(payload as ProductInput[]);
        return;
      case 'replace': {
        const a = payload as ReplaceArgs;
        this.local
          .replaceLocationStock(a.location, a.asOf, a.lines)
          .then(answer, (error: unknown) => {
            answer({
              location: a.location,
              applied: 0,
              stale: 0,
              zeroed: 0,
              rejected: a.lines.length,
              errors: [{ sku: '', code: ErrorCode.UNAVAILABLE, message: String(error) }],
            } satisfies SnapshotSummary);
          });
        return;
      }
      default: {
        const handler = this.handlers.get(kind);
        if (handler !== undefined) handler(peer, payload, reply);
        else answer(fail(ErrorCode.INTERNAL, null, `shard ${this.shard}: unknown request ${kind}`));
      }
    }
  }

  private link(shard: number): PeerLink {
    const link = this.links[shard];
    if (link === undefined || link === null) throw new Error(`no link to shard ${shard}`);
    return link;
  }
}

function sum(list: readonly SnapshotSummary[], key: 'applied' | 'stale' | 'zeroed' | 'rejected') {
  return list.reduce((n, s) => n + s[key], 0);
}
