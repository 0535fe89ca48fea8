import type { Clock, TimerHandle } from './clock.ts';
import type { ChannelRules } from './channel-rules.ts';
import type { SkuBook } from './sku-book.ts';

/** A change of a number a channel sees, as published on its topic. */
export interface AvailabilityDelta {
  readonly topic: string;
  readonly channel: string;
  readonly sku: string;
  /** null for the network (all locations serving the channel) */
  readonly location: string | null;
  readonly available: number;
  /** Per-topic sequence, +1 for every delta on the topic, so a subscriber can tell a gap. */
  readonly seq: number;
}

export type DeltaListener = (deltas: readonly AvailabilityDelta[]) => void;

/**
 * The conflation stage. Books with watched topics that changed are queued; every `intervalMs`
 * each queued book's watched values are computed once and compared with what was last published,
 * and only the changed ones go out. However often a hot SKU changes inside the interval, each
 * topic carries at most one delta per interval: the latest value.
 */
export class DeltaConflation {
  private queue: SkuBook[] = [];
  private timer: TimerHandle | null = null;
  private readonly listeners: DeltaListener[] = [];
  private readonly tick = (): void => {
    this.timer = null;
    this.flush();
  };
  published = 0;
  conflated = 0;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly rules: () => ChannelRules,
  ) {}

  addListener(listener: DeltaListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i !== -1) this.listeners.splice(i, 1);
    };
  }

  /** A watched book changed. */
  enqueue(book: SkuBook): void {
    if (book.queued) {
      this.conflated++;
      return;
    }
    book.queued = true;
    this.queue.push(book);
    this.timer ??= this.clock.schedule(this.clock.now() + this.intervalMs, this.tick);
  }

  /** Publishes what changed now (also called on a rule change and at shutdown). */
  flush(): void {
    if (this.timer !== null) {
      this.clock.cancel(this.timer);
      this.timer = null;
    }
    const books = this.queue;
    if (books.length === 0) return;
    this.queue = [];
    const rules = this.rules();
    const out: AvailabilityDelta[] = [];
    for (const book of books) {
      book.queued = false;
      if (book.watches === null) continue;
      for (const watch of book.watches.values()) {
        const available = book.value(watch.channel, watch.location, rules);
        if (available === watch.last) continue;
        watch.last = available;
        watch.seq++;
        out.push({
          topic: watch.topic,
          channel: watch.channel,
          sku: book.sku,
          location: watch.location,
          available,
          seq: watch.seq,
        });
      }
    }
    if (out.length === 0) return;
    this.published += out.length;
    for (const listener of this.listeners) listener(out);
  }

  stop(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
  }
}

/** Topic names as the gateway publishes them: `availability:{channel}:{sku}[@{location}]`. */
export function topicOf(channel: string, sku: string, location: string | null): string {
  return location === null
    ? `availability:${channel}:${sku}`
    : `availability:${channel}:${sku}@${location}`;
}
