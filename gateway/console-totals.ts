import type { EngineStorage } from '../engine/index.ts';
import type { GatewayMetrics } from './metrics.ts';

/** What the console's rates count, in one gateway and its engine (one worker's share). */
export interface ConsoleTotals {
  readonly reserves: Record<string, number>;
  readonly journal: { readonly commits: number; readonly records: number };
}

/** This gateway's counts (none before it exists: `metrics` null) and its engine's journal. */
export function consoleTotals(
  metrics: GatewayMetrics | null,
  storage: EngineStorage,
): ConsoleTotals {
  const journal = storage.journalStats;
  return {
    reserves: metrics?.resultsOf('reserve') ?? {},
    journal: { commits: journal.commits, records: journal.records },
  };
}

/** Adds other workers' totals to this one's (worker threads: the console sees the process). */
export function addTotals(here: ConsoleTotals, others: readonly ConsoleTotals[]): ConsoleTotals {
  const reserves: Record<string, number> = { ...here.reserves };
  let { commits, records } = here.journal;
  for (const t of others) {
    for (const [result, n] of Object.entries(t.reserves)) {
      reserves[result] = (reserves[result] ?? 0) + n;
    }
    commits += t.journal.commits;
    records += t.journal.records;
  }
  return { reserves, journal: { commits, records } };
}
