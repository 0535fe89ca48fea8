import { StockEngine } from '../engine/index.ts';
import { RULES } from './engine-workloads.ts';
import { MapBaseline } from './map-baseline.ts';
import type { StockTarget } from './stock-target.ts';
import { NactPerPosition } from './nact-per-position.ts';

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
