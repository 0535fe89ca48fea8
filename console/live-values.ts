import type { AvailabilityValue, StockflowClient, Subscription } from '../client/index.ts';

/** A cell's value as the grid shows it. */
export interface LiveValue {
  readonly available: number;
  /** How many times it changed since first shown: the cell is re-made (and flashes) on each. */
  readonly changes: number;
}

/**
 * The availability values a view shows, kept live through the client: `watch(topics)` follows
 * exactly those topics (the rows in view), subscribing the new set before dropping the old one
 * so shared topics never blink. Listeners hear of changes at most once per animation frame.
 */
export class LiveValues {
  private readonly values = new Map<string, LiveValue>();
  private subscription: Subscription | null = null;
  private watched = '';
  private readonly listeners = new Set<() => void>();
  private frame: number | null = null;
  /** A subscribe refused (FORBIDDEN, NOT_FOUND): shown to the operator. */
  error: string | null = null;

  constructor(private readonly client: StockflowClient) {}

  get(topic: string): LiveValue | undefined {
    return this.values.get(topic);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  watch(topics: readonly string[]): void {
    const key = topics.join('\n');
    if (key === this.watched) return;
    this.watched = key;
    const previous = this.subscription;
    this.subscription =
      topics.length === 0
        ? null
        : this.client.subscribe(topics, (v) => {
            this.received(v);
          });
    this.subscription?.ready.then(
      () => {
        this.error = null;
      },
      (error: unknown) => {
        this.error = String(error);
        this.changed();
      },
    );
    previous?.unsubscribe();
    const keep = new Set(topics);
    for (const topic of this.values.keys()) if (!keep.has(topic)) this.values.delete(topic);
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.watched = '';
    if (this.frame !== null) cancelAnimationFrame(this.frame);
  }

  private received(v: AvailabilityValue): void {
    const before = this.values.get(v.topic);
    if (before?.available === v.available) return;
    this.values.set(v.topic, {
      available: v.available,
      changes: before === undefined ? 0 : before.changes + 1,
    });
    this.changed();
  }

  private changed(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      for (const listener of this.listeners) listener();
    });
  }
}

/** The topic of a channel's availability of a SKU, network-wide or at one location. */
export function topicOf(channel: string, sku: string, location: string | null = null): string {
  return location === null
    ? `availability:${channel}:${sku}`
    : `availability:${channel}:${sku}@${location}`;
}
