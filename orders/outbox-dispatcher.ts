import { DueQueue, type Clock, type HeapItem } from '../engine/index.ts';

/** One outbound message of an order, already journaled by the order service before it gets here. */
export interface OutboxMessage {
  /** Stable across retries and restarts: receivers drop duplicates by it. */
  readonly messageId: string;
  readonly orderId: string;
  /**
   * Who receives it: `customer`, `location:<id>`, or an ERP settlement sink (`erp:webhook`,
   * `erp:redis`). Ordering holds per (orderId, stream).
   */
  readonly stream: string;
  /** e.g. `order.confirmed`, `fulfilment.requested`. */
  readonly type: string;
  /** JSON-serialisable payload. */
  readonly body: unknown;
  /** Epoch ms. */
  readonly createdAt: number;
}

export type DeliveryOutcome =
  | { readonly ok: true; readonly status: number | null }
  | {
      readonly ok: false;
      readonly retryable: boolean;
      readonly status: number | null;
      readonly error: string;
    };

/** Carries one message to its receiver. Expected failures are outcomes; a throw counts as a retryable one. */
export interface OutboxTransport {
  send(message: OutboxMessage): Promise<DeliveryOutcome>;
}

export interface OutboxOptions {
  readonly clock: Clock;
  /** The transport for a stream, or null when nothing can carry it right now (retry later). */
  transportFor(stream: string): OutboxTransport | null;
  /** Sends in progress at once, over all streams. */
  readonly maxInFlight: number;
  /** The first retry's delay before jitter; each further failure doubles it. */
  readonly backoffBaseMs: number;
  /** The cap on a retry's delay before jitter. */
  readonly backoffMaxMs: number;
  /** Called once per message when it was delivered (batched is fine). */
  delivered(message: OutboxMessage): void;
  /** A non-retryable failure: the message is given up (dead-lettered) after this call, and the stream moves on. */
  deadLettered(message: OutboxMessage, outcome: DeliveryOutcome): void;
  /** Deterministic jitter source in [0,1) (tests pass a seeded one); default Math.random. */
  readonly random?: () => number;
}

interface OutboxStats {
  /** Accepted and not yet sent: waiting behind an earlier message, for a slot, or for a retry. */
  queued: number;
  inFlight: number;
  delivered: number;
  /** Failed attempts that were rescheduled (a stream with no transport counts too). */
  retries: number;
  deadLettered: number;
  /** How long the oldest message not yet delivered or dead-lettered has been here (0 when none). */
  oldestQueuedAgeMs: number;
}

/** One accepted message: a link in its lane's FIFO and in the dispatcher-wide age list. */
class Entry {
  /** The next message of the same (orderId, stream). */
  next: Entry | null = null;
  older: Entry | null = null;
  newer: Entry | null = null;
  /** Failed attempts so far; the backoff grows with it. */
  attempts = 0;

  constructor(
    readonly message: OutboxMessage,
    readonly enqueuedAt: number,
  ) {}
}

/**
 * ready: in the ready queue; waiting: in the backoff heap; sending: its head is in flight;
 * gone: emptied or forgotten (a gone lane left in the ready queue is skipped when popped).
 */
type LaneState = 'ready' | 'waiting' | 'sending' | 'gone';

/** The messages of one (orderId, stream), oldest first. Only its head is ever sent. */
class Lane implements HeapItem {
  head: Entry;
  tail: Entry;
  state: LaneState = 'gone';
  /** When its head is due for a retry (while waiting). */
  dueAt = 0;
  heapIndex = -1;
  nextReady: Lane | null = null;

  constructor(
    readonly orderId: string,
    readonly stream: string,
    first: Entry,
  ) {
    this.head = first;
    this.tail = first;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Sends an order's outbound messages at least once and in order per (orderId, stream): a lane's
 * next message leaves only after the one before it was delivered or dead-lettered, while other
 * lanes go on. Ready lanes take turns through one linked FIFO, so a busy order cannot starve a
 * quiet one; lanes waiting for a retry sit in one heap behind one clock timer, so a hundred
 * thousand failing messages cost one timer, not a hundred thousand. Nothing here is durable: the
 * order service journals each message before `enqueue` and each `delivered` callback, and after a
 * restart enqueues again whatever was not acknowledged.
 */
export class OutboxDispatcher {
  private readonly options: OutboxOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  /** Every accepted message not yet delivered, dead-lettered or released, by id: the duplicate check. */
  private readonly byId = new Map<string, Entry>();
  /** How many of `byId` belong to each stream (a gauge per stream costs no walk). */
  private readonly pendingByStream = new Map<string, number>();
  /** orderId → stream → lane; `forget` drops an order's lanes in one lookup. */
  private readonly lanes = new Map<string, Map<string, Lane>>();
  /** Lanes in the backoff heap, by stream, so `wake` finds them without a scan. */
  private readonly waitingByStream = new Map<string, Set<Lane>>();
  /** Lanes waiting out their backoff; one timer for all of them. */
  private readonly backoff: DueQueue<Lane>;
  private readyHead: Lane | null = null;
  private readyTail: Lane | null = null;
  /** Oldest accepted entry still pending; the head of a list in acceptance order. */
  private oldest: Entry | null = null;
  private newest: Entry | null = null;
  private pumping = false;
  private stopped = false;
  private stopWaiter: (() => void) | null = null;
  private stopPromise: Promise<void> | null = null;
  private inFlight = 0;
  private deliveredCount = 0;
  private retryCount = 0;
  private deadLetterCount = 0;

  constructor(options: OutboxOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
    }
    if (!(options.backoffBaseMs > 0) || !(options.backoffMaxMs >= options.backoffBaseMs)) {
      throw new RangeError(
        `need 0 < backoffBaseMs <= backoffMaxMs, got ${options.backoffBaseMs} and ${options.backoffMaxMs}`,
      );
    }
    this.options = options;
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
    this.backoff = new DueQueue<Lane>(
      this.clock,
      (lane) => {
        this.unmarkWaiting(lane);
        this.pushReady(lane);
      },
      () => {
        this.pump();
      },
    );
  }

  /**
   * Adds a message; it goes out after every earlier message of the same (orderId, stream).
   * Enqueueing a messageId already queued or in flight is a no-op. Sending may start inside this
   * call. After `stop` nothing is accepted: the journal still holds the message for the restart.
   */
  enqueue(message: OutboxMessage): void {
    if (this.stopped || this.byId.has(message.messageId)) return;
    const entry = new Entry(message, this.clock.now());
    this.byId.set(message.messageId, entry);
    this.pendingByStream.set(message.stream, (this.pendingByStream.get(message.stream) ?? 0) + 1);
    this.appendAge(entry);
    let streams = this.lanes.get(message.orderId);
    if (streams === undefined) {
      streams = new Map();
      this.lanes.set(message.orderId, streams);
    }
    const lane = streams.get(message.stream);
    if (lane !== undefined) {
      lane.tail.next = entry;
      lane.tail = entry;
      return;
    }
    const created = new Lane(message.orderId, message.stream, entry);
    streams.set(message.stream, created);
    this.pushReady(created);
    this.pump();
  }

  /** A stream's transport became available (a location connected): retry its waiting messages now instead of at their backoff time. */
  wake(stream: string): void {
    const waiting = this.waitingByStream.get(stream);
    if (waiting === undefined) return;
    this.waitingByStream.delete(stream);
    for (const lane of waiting) {
      this.backoff.remove(lane);
      this.pushReady(lane);
    }
    this.pump();
  }

  /**
   * Drops every queued message of an order (the order was purged). A send already in flight is
   * not cancelled, but its outcome is not reported and it is not retried: after this call no
   * callback names the order's messages again.
   */
  forget(orderId: string): void {
    const streams = this.lanes.get(orderId);
    if (streams === undefined) return;
    this.lanes.delete(orderId);
    for (const lane of streams.values()) {
      const inFlight = lane.state === 'sending';
      for (let entry = inFlight ? lane.head.next : lane.head; entry !== null; entry = entry.next) {
        this.release(entry);
      }
      if (lane.state === 'waiting') {
        this.backoff.remove(lane);
        this.unmarkWaiting(lane);
      }
      lane.head.next = null;
      lane.tail = lane.head;
      // A sending lane stays 'sending' so the slot is freed when its send settles; `settle` sees
      // that the lane is no longer in `lanes` and reports nothing.
      if (!inFlight) lane.state = 'gone';
    }
  }

  /** Messages of these streams accepted and not yet delivered, dead-lettered or forgotten. */
  pendingIn(streams: readonly string[]): number {
    let n = 0;
    for (const stream of streams) n += this.pendingByStream.get(stream) ?? 0;
    return n;
  }

  stats(): OutboxStats {
    const oldest = this.oldest;
    return {
      queued: this.byId.size - this.inFlight,
      inFlight: this.inFlight,
      delivered: this.deliveredCount,
      retries: this.retryCount,
      deadLettered: this.deadLetterCount,
      oldestQueuedAgeMs: oldest === null ? 0 : Math.max(0, this.clock.now() - oldest.enqueuedAt),
    };
  }

  /**
   * Stops sending; resolves when in-flight sends settle (their outcomes are still reported, so a
   * delivery that completes during shutdown is acknowledged). Queued messages stay unsent (they
   * are re-enqueued from the journal on restart).
   */
  stop(): Promise<void> {
    this.stopped = true;
    this.backoff.stop();
    if (this.inFlight === 0) return Promise.resolve();
    this.stopPromise ??= new Promise<void>((resolve) => {
      this.stopWaiter = resolve;
    });
    return this.stopPromise;
  }

  /** Starts sends from the ready queue until the in-flight limit; safe against re-entry from transports and callbacks. */
  private pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      while (this.inFlight < this.options.maxInFlight) {
        const lane = this.popReady();
        if (lane === null) break;
        const transport = this.options.transportFor(lane.stream);
        if (transport === null) {
          this.retryLater(lane);
          continue;
        }
        lane.state = 'sending';
        this.inFlight++;
        void this.send(lane, lane.head, transport);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async send(lane: Lane, entry: Entry, transport: OutboxTransport): Promise<void> {
    let outcome: DeliveryOutcome;
    try {
      outcome = await transport.send(entry.message);
    } catch (error) {
      outcome = { ok: false, retryable: true, status: null, error: describeError(error) };
    }
    this.inFlight--;
    try {
      this.settle(lane, entry, outcome);
    } finally {
      if (this.inFlight === 0 && this.stopWaiter !== null) {
        this.stopWaiter();
        this.stopWaiter = null;
      }
      this.pump();
    }
  }

  /** State first, callback last: a callback that enqueues the order's next message sees a consistent dispatcher. */
  private settle(lane: Lane, entry: Entry, outcome: DeliveryOutcome): void {
    if (this.lanes.get(lane.orderId)?.get(lane.stream) !== lane) {
      // forgotten while in flight
      lane.state = 'gone';
      this.release(entry);
      return;
    }
    if (outcome.ok) {
      this.deliveredCount++;
      this.advance(lane, entry);
      this.options.delivered(entry.message);
    } else if (outcome.retryable) {
      this.retryLater(lane);
    } else {
      this.deadLetterCount++;
      this.advance(lane, entry);
      this.options.deadLettered(entry.message, outcome);
    }
  }

  /** The lane's head is settled: the next message becomes ready, or the lane goes. */
  private advance(lane: Lane, head: Entry): void {
    this.release(head);
    const next = head.next;
    if (next !== null) {
      lane.head = next;
      this.pushReady(lane);
      return;
    }
    lane.state = 'gone';
    const streams = this.lanes.get(lane.orderId);
    if (streams === undefined) return;
    streams.delete(lane.stream);
    if (streams.size === 0) this.lanes.delete(lane.orderId);
  }

  /** Equal jitter: half the exponential delay is fixed, half random, so retries spread out but never come early. */
  private retryLater(lane: Lane): void {
    const head = lane.head;
    head.attempts++;
    this.retryCount++;
    const { backoffBaseMs, backoffMaxMs } = this.options;
    const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (head.attempts - 1));
    lane.dueAt = this.clock.now() + ceiling * (0.5 + this.random() / 2);
    lane.state = 'waiting';
    this.backoff.schedule(lane);
    let waiting = this.waitingByStream.get(lane.stream);
    if (waiting === undefined) {
      waiting = new Set();
      this.waitingByStream.set(lane.stream, waiting);
    }
    waiting.add(lane);
  }

  private unmarkWaiting(lane: Lane): void {
    const waiting = this.waitingByStream.get(lane.stream);
    if (waiting === undefined) return;
    waiting.delete(lane);
    if (waiting.size === 0) this.waitingByStream.delete(lane.stream);
  }

  private pushReady(lane: Lane): void {
    lane.state = 'ready';
    lane.nextReady = null;
    if (this.readyTail === null) this.readyHead = lane;
    else this.readyTail.nextReady = lane;
    this.readyTail = lane;
  }

  private popReady(): Lane | null {
    for (let lane = this.readyHead; lane !== null; lane = this.readyHead) {
      this.readyHead = lane.nextReady;
      if (this.readyHead === null) this.readyTail = null;
      lane.nextReady = null;
      if (lane.state === 'ready') return lane;
    }
    return null;
  }

  private appendAge(entry: Entry): void {
    entry.older = this.newest;
    if (this.newest === null) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
  }

  /** Takes a settled or dropped message out of the duplicate check and the age list. */
  private release(entry: Entry): void {
    if (this.byId.get(entry.message.messageId) === entry) {
      this.byId.delete(entry.message.messageId);
      const stream = entry.message.stream;
      const left = (this.pendingByStream.get(stream) ?? 1) - 1;
      if (left === 0) this.pendingByStream.delete(stream);
      else this.pendingByStream.set(stream, left);
    }
    const { older, newer } = entry;
    if (older === null) {
      if (this.oldest === entry) this.oldest = newer;
    } else older.newer = newer;
    if (newer === null) {
      if (this.newest === entry) this.newest = older;
    } else newer.older = older;
    entry.older = null;
    entry.newer = null;
  }
}
