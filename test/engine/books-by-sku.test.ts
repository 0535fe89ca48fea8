import { describe, expect, it } from 'vitest';
import { ManualClock, StockEngine, type CommandResult } from '../../engine/index.ts';
import { LOCATIONS, RULES } from './fixtures.ts';
import { MemoryJournal } from './memory-journal.ts';

function reserve(engine: StockEngine, sku: string, id: string): Promise<CommandResult> {
  return engine.execute({ op: 'reserve', reservationId: id, channel: 'web', sku, qty: 1 });
}

/** The refusal's reason, else its code ('ok' when granted). */
function reason(result: CommandResult): string {
  return result.ok ? 'ok' : (result.reason ?? result.code);
}

/**
 * A command finds its book through a table by SKU kept beside the engine's books (IdTable): it
 * must follow every change of the books, or a command would reach a book that is gone.
 */
describe('books by SKU', () => {
  it('follows products added, taken back by a failed write, and replaced by an import', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const engine = new StockEngine({ rules: RULES, locations: LOCATIONS, clock, partitions: 2 });
    const journal = new MemoryJournal(['ok', 'fail']);
    engine.storage.attachJournal(journal, 0);
    try {
      engine.upsertProducts(Array.from({ length: 500 }, (_, i) => ({ sku: `S${i}` })));
      await engine.durable();
      expect(reason(await reserve(engine, 'S499', 'r1'))).toBe('INSUFFICIENT_STOCK');
      // A product whose write fails is taken back out: its book is gone from the table too.
      engine.upsertProducts([{ sku: 'LATE' }]);
      await expect(engine.durable()).rejects.toThrow();
      await journalBack(engine, clock);
      expect(reason(await reserve(engine, 'LATE', 'r2'))).toBe('UNKNOWN_SKU');
      // An import replaces every book: what it does not hold is not found any more.
      const state = engine.storage.exportState();
      const other = new StockEngine({
        rules: RULES,
        locations: LOCATIONS,
        products: [{ sku: 'S7' }, { sku: 'S8' }],
        clock,
        partitions: 2,
      });
      other.storage.importState({ ...state, skus: state.skus.filter((s) => s.sku === 'S7') });
      expect(reason(await reserve(other, 'S8', 'r3'))).toBe('UNKNOWN_SKU');
      expect(reason(await reserve(other, 'S7', 'r4'))).toBe('INSUFFICIENT_STOCK');
      await other.stop();
    } finally {
      await engine.stop();
    }
  });
});

/** Moves time on until the engine has resynced with its journal after a failed write. */
async function journalBack(engine: StockEngine, clock: ManualClock): Promise<void> {
  for (let i = 0; i < 200 && !engine.storage.journal().available; i++) {
    clock.advance(1_000);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(engine.storage.journal().available).toBe(true);
}
