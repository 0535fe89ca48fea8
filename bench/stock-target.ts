import type { Command, LocationInput, ProductInput, ResultSink } from '../engine/index.ts';

/**
 * What the benchmark drives: the engine's own command interface (master data, then commands in
 * and results out through a sink), which both baselines implement as well.
 */
export interface StockTarget {
  upsertLocations(list: readonly LocationInput[]): void;
  upsertProducts(list: readonly ProductInput[]): void;
  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void;
  stop(): Promise<void>;
}
