import {
  StockEngine,
  type Command,
  type LocationInput,
  type ProductInput,
  type ResultSink,
} from '../engine/index.ts';
import { RULES } from './engine-workloads.ts';
import { MapBaseline } from './map-baseline.ts';
import { NactPerPosition } from './nact-per-position.ts';

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

export type TargetSpec =
  | { readonly kind: 'engine'; readonly partitions: number; readonly maxQueuedPerSku?: number }
  | { readonly kind: 'map' }
  | { readonly kind: 'nact' };

export function targetName(spec: TargetSpec): string {
  return spec.kind === 'engine' ? `engine-p${spec.partitions}` : spec.kind;
}

export function createTarget(spec: TargetSpec): StockTarget {
  switch (spec.kind) {
    case 'engine':
      return new StockEngine({
        rules: RULES,
        partitions: spec.partitions,
        maxQueuedPerSku: spec.maxQueuedPerSku,
      });
    case 'map':
      return new MapBaseline();
    case 'nact':
      return new NactPerPosition();
  }
}
