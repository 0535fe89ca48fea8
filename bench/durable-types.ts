/** The durable benchmark's shared shapes (durable-suite.ts runs it, durable-report.ts renders it). */
import type { StoreKind } from './durable-server.ts';

export interface Plan {
  readonly mode: 'quick' | 'full';
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  readonly window: number;
  readonly luaCallers: number;
  /** Whether the Redis-Lua baseline runs (a narrowed run may leave it out). */
  readonly lua: boolean;
  /** Reservations held before the cases of the `held` group. */
  readonly held: number;
  readonly stores: readonly StoreKind[];
  readonly groups: readonly Group[];
}

export interface Group {
  readonly held: boolean;
  readonly cases: readonly CaseName[];
}

export interface CaseResult {
  readonly system: System;
  readonly case: CaseName;
  /** The server's group: fresh (only the warm-up's reservations held) or preloaded. */
  readonly group: 'fresh' | 'held';
  /** Reservations held when the measured window started (preload, warm-up, earlier cases). */
  readonly held: number;
  readonly expected: 'granted' | 'INSUFFICIENT_STOCK';
  /** Replies that were not the expected outcome (0 when the case is clean). */
  readonly unexpected: number;
  readonly outcomes: Record<string, number>;
  readonly seconds: number;
  /** Expected outcomes a second: granted reserves, or refusals for the refusal case. */
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** The Stockflow server process (for redis-lua: redis-server), per expected outcome. */
  readonly serverCpuUsPerOp: number;
  readonly serverCores: number;
  /** redis-server behind a Stockflow server on the Redis store, per expected outcome. */
  readonly redisCpuUsPerOp: number | null;
  /** GC time (nodejs_gc_duration_seconds_sum) over the server's CPU time in the run. */
  readonly gcShare: number | null;
  /** Journal records per group commit over the window (file and Redis stores). */
  readonly recordsPerCommit: number | null;
  readonly serverRssMiB: number;
  readonly serverPeakRssMiB: number;
  readonly heapUsedMiB: number | null;
  readonly generatorCores: number;
  /** CPU used by everything else on the machine during the run, in cores. */
  readonly othersCores: number;
  /** For one-SKU cases on Stockflow: whether the server's availability afterwards adds up. */
  readonly stockCheck: string | null;
}

export interface PreloadRecord {
  readonly system: System;
  readonly reservations: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly outcomes: Record<string, number>;
  readonly serverRssMiB: number;
  readonly heapUsedMiB: number | null;
}

export interface Report {
  readonly date: string;
  readonly plan: Plan;
  readonly machine: Record<string, unknown>;
  readonly cases: readonly CaseResult[];
  readonly preloads: readonly PreloadRecord[];
  readonly wallSeconds: number;
}

export type System = StoreKind | 'redis-lua';
export type CaseName = 'refusal' | 'hot' | 'spread10k' | 'spread100k';
