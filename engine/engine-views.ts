import type { RulesInput } from './channel-rules.ts';

// What the engine's reads answer (see engine.ts).

export interface Availability {
  readonly ok: true;
  readonly channel: string;
  readonly sku: string;
  readonly location: string | null;
  readonly available: number;
}

export interface WatchSnapshot {
  readonly ok: true;
  readonly topic: string;
  readonly available: number;
  /** The topic's sequence now; the next delta carries seq + 1. */
  readonly seq: number;
}

export interface EngineStats {
  readonly skus: number;
  readonly positions: number;
  readonly locations: number;
  readonly reservations: number;
  readonly partitions: number;
  readonly queued: number;
  readonly watchedTopics: number;
  readonly staleFeeds: number;
  /** Absolute feed rows whose count was corrected for changes recorded after their as-of. */
  readonly compensatedFeeds: number;
  /** Absolute feed rows applied with an as-of that is not an epoch-ms time (a sequence, seconds):
   * applied as they are, since they cannot be compared with the times of shipments. */
  readonly uncompensableFeeds: number;
  readonly busyRejections: number;
  readonly actorFailures: number;
  readonly deltasPublished: number;
  readonly deltasConflated: number;
}

/** The result of a location's full stock snapshot. */
export interface SnapshotSummary {
  readonly location: string;
  readonly applied: number;
  readonly stale: number;
  readonly zeroed: number;
  readonly rejected: number;
  /** The first few rejected lines with their reason (at most 100). */
  readonly errors: readonly {
    readonly sku: string;
    readonly code: string;
    readonly message: string;
  }[];
}

/** The channel rules in force and their version (bumped by every change). */
export interface RulesDocument {
  readonly rules: RulesInput;
  readonly version: number;
}
