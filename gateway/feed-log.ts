import type { Clock, SnapshotSummary } from '../engine/index.ts';

/** One stock feed (a location's full snapshot) as the gateway answered it. */
export interface FeedRecord {
  /** When it was answered (ISO 8601, the engine's clock). */
  readonly at: string;
  readonly location: string;
  readonly asOf: number;
  readonly format: string;
  /** Lines parsed from the body. */
  readonly lines: number;
  /** `ok`, or the error code it was answered with. */
  readonly result: string;
  /** The engine's summary when applied, else null. */
  readonly summary: SnapshotSummary | null;
  /** Why it was refused, else null. */
  readonly error: string | null;
}

/** How many feeds are kept per location. */
export const FEEDS_PER_LOCATION = 20;
/** How many locations' feeds are kept at most (the oldest-fed location is forgotten first). */
const MAX_LOCATIONS = 10_000;

/**
 * The last stock feeds of each location with their results, in memory, for the operators'
 * console (GET /v1/inventory/snapshots). A small ring per location; nothing is persisted: after
 * a restart the list starts empty.
 */
export class FeedLog {
  private readonly byLocation = new Map<string, FeedRecord[]>();
  private shared: ((record: FeedRecord) => void) | null = null;

  constructor(private readonly clock: Clock) {}

  /**
   * With worker threads (gateway/shards/feed-share.ts): every feed recorded here is also told to
   * the other workers, which `keep` it, so the console sees every feed whichever worker took it.
   */
  share(tell: (record: FeedRecord) => void): void {
    this.shared = tell;
  }

  record(feed: Omit<FeedRecord, 'at'>): void {
    const record: FeedRecord = { at: new Date(this.clock.now()).toISOString(), ...feed };
    this.keep(record);
    this.shared?.(record);
  }

  /** Keeps a feed as recorded (here, or by another worker). */
  keep(record: FeedRecord): void {
    let ring = this.byLocation.get(record.location);
    if (ring === undefined) {
      if (this.byLocation.size >= MAX_LOCATIONS) {
        const oldest = this.byLocation.keys().next();
        if (oldest.done !== true) this.byLocation.delete(oldest.value);
      }
      ring = [];
    } else {
      // Re-inserted last, so the map's first key is the location fed longest ago.
      this.byLocation.delete(record.location);
    }
    this.byLocation.set(record.location, ring);
    ring.push(record);
    if (ring.length > FEEDS_PER_LOCATION) ring.splice(0, ring.length - FEEDS_PER_LOCATION);
  }

  /** A location's last feeds, newest first. */
  of(location: string): FeedRecord[] {
    return [...(this.byLocation.get(location) ?? [])].reverse();
  }
}
