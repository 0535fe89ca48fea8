import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  StockEngine,
  type CommandResult,
  type EngineState,
} from '../../engine/index.ts';
import { MemoryJournal, type AppendOutcome } from './memory-journal.ts';
import {
  batchCmdArb,
  GROUPS,
  LOCATIONS,
  NUM_RUNS,
  rulesArb,
  SKUS,
  START,
  TOMBSTONE_TTL,
} from './stock-arbitraries.ts';
import type { LocationRanker, PositionView, RulesInput } from '../../engine/index.ts';

/** Takes the locations in reverse id order: not what the engine does without a ranker, so a
 * replay that split a journaled network reserve again instead of reading its lines would differ. */
const REVERSED: LocationRanker = {
  rank: (_channel, _sku, _qty, choices) =>
    choices.map((c) => c.location).sort((a, b) => (a < b ? 1 : -1)),
};

/** What the export leaves out because it is derived (reserved, allocated, each channel's view):
 * a replay must derive the same. */
function derived(engine: StockEngine): {
  positions: (PositionView | null)[];
  available: number[];
} {
  const positions: (PositionView | null)[] = [];
  const available: number[] = [];
  for (const sku of SKUS) {
    for (const l of LOCATIONS) positions.push(engine.position(sku, l.id));
    for (const c of engine.rules().rules.channels) {
      for (const location of [null, ...LOCATIONS.map((l) => l.id)]) {
        const a = engine.availability(c.id, sku, location);
        available.push(a.ok ? a.available : -1);
      }
    }
  }
  return { positions, available };
}

function engineWith(rules: RulesInput, clock: ManualClock): StockEngine {
  return new StockEngine({
    rules,
    locations: LOCATIONS,
    products: SKUS.map((s) => ({ sku: s, group: GROUPS[s] })),
    clock,
    partitions: 2,
    tombstoneTtlMs: TOMBSTONE_TTL,
  });
}

/** The state as a restart would see it: everything but the time it was taken, and reservations
 * in id order (an undone purge puts a reservation back at the end of its book's map). */
function comparable(state: EngineState): Omit<EngineState, 'takenAt'> {
  return {
    format: state.format,
    metaLsn: state.metaLsn,
    rules: state.rules,
    locations: state.locations,
    skus: state.skus.map((s) => ({
      ...s,
      reservations: [...s.reservations].sort((a, b) => (a.id < b.id ? -1 : 1)),
    })),
  };
}

describe('journal: acknowledged means durable, and failed writes leave nothing behind', () => {
  it('keeps memory equal to a replay of what the journal holds, through failed and ghost writes', async () => {
    const step = fc.oneof(
      {
        weight: 5,
        arbitrary: fc
          .array(batchCmdArb, { minLength: 1, maxLength: 6 })
          .map((cmds) => ({ kind: 'batch' as const, cmds })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(600_000, 1_800_000)
          .map((ms) => ({ kind: 'advance' as const, ms })),
      },
      { weight: 1, arbitrary: rulesArb.map((rules) => ({ kind: 'rules' as const, rules })) },
    );
    const outcome = fc.constantFrom<AppendOutcome>('ok', 'ok', 'ok', 'fail', 'ghost');
    await fc.assert(
      fc.asyncProperty(
        rulesArb,
        fc.array(step, { minLength: 1, maxLength: 20, size: 'max' }),
        fc.array(outcome, { maxLength: 40, size: 'max' }),
        fc.boolean(),
        async (rules, steps, plan, ranked) => {
          const clock = new ManualClock(START);
          const journal = new MemoryJournal([...plan]);
          const engine = engineWith(rules, clock);
          if (ranked) engine.stock.rankNetworkReservations(REVERSED);
          engine.storage.attachJournal(journal, 0);
          const acknowledged: string[] = [];
          try {
            for (const s of steps) {
              if (s.kind === 'advance') clock.advance(s.ms);
              else if (s.kind === 'rules') engine.setRules(s.rules);
              else {
                const results: CommandResult[] = await Promise.all(
                  s.cmds.map((c) => engine.execute(c)),
                );
                s.cmds.forEach((c, i) => {
                  const r = results[i];
                  if (c.op === 'reserve' && r?.ok === true) acknowledged.push(c.reservationId);
                  // While the journal is down nothing is acknowledged.
                  if (!engine.storage.journal().available) expect(r?.ok).toBe(false);
                });
              }
              await engine.settle();
              await engine.durable().catch(() => undefined);
              // Memory always equals a replay of what the store durably holds; records past that
              // (a ghost write that reached the store after all) are applied when it is back.
              const durable = journal.records.filter(
                (r) => r.seq <= engine.storage.journal().durableSeq,
              );
              const replayed = engineWith(rules, new ManualClock(clock.now()));
              replayed.storage.replay(durable);
              expect(comparable(engine.storage.exportState())).toEqual(
                comparable(replayed.storage.exportState()),
              );
              expect(derived(replayed)).toEqual(derived(engine));
              await replayed.stop();
              for (let tries = 0; !engine.storage.journal().available && tries < 10; tries++) {
                // Let the engine find the store again (its resync timer runs on the clock).
                clock.advance(10_000);
                await new Promise<void>((resolve) => setImmediate(resolve));
                await engine.settle();
                await engine.durable().catch(() => undefined);
              }
              expect(engine.storage.journal().available).toBe(true);
              for (const id of acknowledged) {
                // An acknowledged reservation is in the journal (it may have ended since).
                expect(
                  journal.records.some(
                    (r) =>
                      r.entry.type === 'command' &&
                      r.entry.cmd.op === 'reserve' &&
                      r.entry.cmd.reservationId === id,
                  ),
                ).toBe(true);
              }
              await replayed.stop();
            }
          } finally {
            await engine.stop();
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
