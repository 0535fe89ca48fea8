import {
  ManualClock,
  StockEngine,
  type Command,
  type CommandResult,
  type EngineOptions,
  type OkResult,
  type ErrorResult,
  type RulesInput,
  type SnapshotItem,
} from '../../engine/index.ts';
import { STATE_FORMAT, type StateFormat } from '../../engine/engine-state.ts';

export const LOCATIONS = [
  { id: 'S1', type: 'store' },
  { id: 'S2', type: 'store' },
  { id: 'DC1', type: 'dc' },
] as const;

export const RULES: RulesInput = {
  channels: [
    { id: 'web', priority: 1 },
    { id: 'kiosk', priority: 2, reservationTtlMs: 60_000 },
    { id: 'mkt', priority: 3 },
  ],
};

export interface Harness {
  readonly engine: StockEngine;
  readonly clock: ManualClock;
  run(cmd: Command): Promise<CommandResult>;
  ok(cmd: Command): Promise<OkResult>;
  fails(cmd: Command): Promise<ErrorResult>;
}

export function harness(options: Partial<EngineOptions> = {}): Harness {
  const clock = new ManualClock();
  const engine = new StockEngine({
    rules: RULES,
    locations: LOCATIONS,
    products: [{ sku: 'A', group: 'shoes' }, { sku: 'B', group: 'shoes' }, { sku: 'C' }],
    clock,
    partitions: 4,
    ...options,
  });
  const run = (cmd: Command): Promise<CommandResult> => engine.execute(cmd);
  return {
    engine,
    clock,
    run,
    async ok(cmd) {
      const r = await run(cmd);
      if (!r.ok) throw new Error(`expected ok for ${cmd.op}, got ${r.code}: ${r.message}`);
      return r;
    },
    async fails(cmd) {
      const r = await run(cmd);
      if (r.ok) throw new Error(`expected an error for ${cmd.op}, got ok`);
      return r;
    },
  };
}

/** Sets stock at several locations of a SKU (asOf 1). */
export async function stock(
  h: Harness,
  sku: string,
  levels: Record<string, number>,
): Promise<void> {
  for (const [location, onHand] of Object.entries(levels)) {
    await h.ok({ op: 'setOnHand', sku, location, onHand, asOf: 1 });
  }
}

export function available(
  h: Harness,
  channel: string,
  sku: string,
  location: string | null = null,
): number {
  const r = h.engine.availability(channel, sku, location);
  if (!r.ok) throw new Error(`availability failed: ${r.code}`);
  return r.available;
}

/** A fresh engine holding what snapshot `chunks` of `h`'s engine say, loaded chunk by chunk as
 * recovery loads them (as written in `format`). */
export function loadedFrom(
  chunks: readonly SnapshotItem[][],
  h: Harness,
  format: StateFormat = STATE_FORMAT,
): StockEngine {
  const other = new StockEngine({ rules: RULES, locations: LOCATIONS, clock: h.clock });
  other.storage.beginImport({
    format,
    rules: RULES,
    locations: h.engine.locationList(),
    metaLsn: 0,
  });
  for (const chunk of chunks) other.storage.importChunk(chunk);
  return other;
}
