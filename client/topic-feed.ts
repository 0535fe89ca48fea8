/** A value the application sees for a topic. */
export interface AvailabilityValue {
  readonly topic: string;
  readonly available: number;
  /** The topic's sequence on the server this value came from. */
  readonly seq: number;
  /**
   * True when the value came from a fresh snapshot the client fetched by itself: after a
   * reconnect (the server may have restarted, so seq may start over) or a gap in seq.
   */
  readonly resynced: boolean;
}

/** Something that receives a feed's values. */
export interface FeedListener {
  deliver(value: AvailabilityValue): void;
}

/** Deltas kept while a snapshot is awaited; more than this and the oldest go (a gap follows). */
const MAX_BUFFERED = 256;

interface Delta {
  readonly available: number;
  readonly seq: number;
}

/**
 * One topic's state on the client: the last value and seq, and whether a snapshot is awaited.
 * It decides what the application may see: a snapshot, then the deltas with seq one above the
 * last; deltas at or below it are dropped (the snapshot already holds them); a delta beyond it
 * is a gap, and the feed asks for a fresh snapshot (`delta` answers `'resync'`) and shows
 * nothing until it comes. Deltas that arrive while a snapshot is awaited (a delta may overtake
 * its subscribe reply) wait, and those newer than the snapshot follow it.
 */
export class TopicFeed {
  private value: AvailabilityValue | null = null;
  private awaiting = true;
  private resyncing = false;
  private buffered: Delta[] = [];
  /** Listeners that have seen the feed's value and get every change. */
  private readonly primed = new Set<FeedListener>();

  constructor(readonly topic: string) {}

  get current(): AvailabilityValue | null {
    return this.value;
  }

  /** True while a snapshot is awaited (nothing is shown until it comes). */
  get pending(): boolean {
    return this.awaiting;
  }

  get listenerCount(): number {
    return this.primed.size;
  }

  /**
   * A fresh snapshot is on its way (after a reconnect or a gap): deltas wait for it, and the
   * values shown from it on carry `resynced`. Deltas buffered so far belong to a connection that
   * is gone or to the stretch before the gap, and are forgotten.
   */
  expectSnapshot(): void {
    this.awaiting = true;
    this.resyncing = this.value !== null;
    this.buffered = [];
  }

  /**
   * A subscribe reply's snapshot. Awaited: taken whatever its seq (a restarted server counts
   * from the start again), then the buffered deltas newer than it. Not awaited (a second
   * subscription to a held topic): taken only when newer than what the feed has.
   * Answers 'resync' when the buffered deltas show a gap.
   */
  snapshot(available: number, seq: number): 'ok' | 'resync' {
    if (!this.awaiting) {
      if (this.value !== null && seq <= this.value.seq) return 'ok';
      this.show(available, seq, false);
      return 'ok';
    }
    this.awaiting = false;
    const resynced = this.resyncing;
    this.resyncing = false;
    this.show(available, seq, resynced);
    const buffered = this.buffered.sort((a, b) => a.seq - b.seq);
    this.buffered = [];
    for (const d of buffered) {
      if (this.delta(d.available, d.seq) === 'resync') return 'resync';
    }
    return 'ok';
  }

  /** A live delta. Answers 'resync' when it shows a gap (the feed now awaits a snapshot). */
  delta(available: number, seq: number): 'ok' | 'resync' {
    if (this.awaiting) {
      if (this.buffered.length >= MAX_BUFFERED) this.buffered.shift();
      this.buffered.push({ available, seq });
      return 'ok';
    }
    const last = this.value?.seq ?? -1;
    if (seq <= last) return 'ok';
    if (seq > last + 1) {
      this.expectSnapshot();
      return 'resync';
    }
    this.show(available, seq, false);
    return 'ok';
  }

  /** Adds a listener and hands it the current value (if the feed has one yet). */
  prime(listener: FeedListener): void {
    if (this.primed.has(listener)) return;
    this.primed.add(listener);
    if (this.value !== null && !this.awaiting) listener.deliver(this.value);
  }

  /** Adds a listener that is to see the next snapshot as its first value. */
  attach(listener: FeedListener): void {
    this.primed.add(listener);
  }

  hasListener(listener: FeedListener): boolean {
    return this.primed.has(listener);
  }

  detach(listener: FeedListener): void {
    this.primed.delete(listener);
  }

  private show(available: number, seq: number, resynced: boolean): void {
    const value: AvailabilityValue = { topic: this.topic, available, seq, resynced };
    this.value = value;
    for (const listener of this.primed) listener.deliver(value);
  }
}
