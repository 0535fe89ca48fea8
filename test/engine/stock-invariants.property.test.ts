import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  StockEngine,
  type Command,
  type CommandResult,
  type RulesInput,
} from '../../engine/index.ts';
import {
  batchCmdArb,
  CHANNELS,
  GROUPS,
  LOCATIONS,
  NUM_RUNS,
  rulesArb,
  SKUS,
  START,
  stepArb,
  TOMBSTONE_TTL,
  type Step,
} from './stock-arbitraries.ts';
import { StockModel, type ModelAnswer } from './stock-model.ts';

function answerOf(r: CommandResult): ModelAnswer {
  return r.ok
    ? {
        ok: true,
        code: 'OK',
        applied: r.applied,
        duplicate: r.duplicate,
        available: null,
        lines: r.reservation === null ? null : r.reservation.lines.map((l) => [l.location, l.qty]),
      }
    : {
        ok: false,
        code: r.code,
        applied: false,
        duplicate: false,
        available: r.code === 'INSUFFICIENT_STOCK' ? r.available : null,
        lines: null,
      };
}

/** Checks the engine against itself: counters equal what its reservations and orders add up to. */
function checkConservation(engine: StockEngine): void {
  const state = engine.storage.exportState();
  for (const s of state.skus) {
    const reserved = new Map<string, number>();
    for (const r of s.reservations) {
      expect(r.lines.reduce((n, [, q]) => n + q, 0)).toBe(r.qty);
      if (r.state !== 'held') continue;
      for (const [loc, q] of r.lines) reserved.set(loc, (reserved.get(loc) ?? 0) + q);
    }
    for (const p of s.positions) {
      const view = engine.position(s.sku, p.location);
      expect(view?.reserved).toBe(reserved.get(p.location) ?? 0);
      expect(view?.allocated).toBe(p.orders.reduce((n, [, q]) => n + q, 0));
      expect(view?.reserved).toBeGreaterThanOrEqual(0);
      expect(view?.allocated).toBeGreaterThanOrEqual(0);
    }
  }
}

interface Run {
  readonly engine: StockEngine;
  readonly clock: ManualClock;
  readonly model: StockModel;
}

function expectSameAnswer(command: Command, actual: ModelAnswer, expected: ModelAnswer): void {
  if (command.op !== 'reserve') expect({ ...actual, lines: null }).toEqual(expected);
  else expect(actual).toEqual(expected);
}

async function runStep(run: Run, step: Step): Promise<void> {
  const { engine, clock, model } = run;
  if (step.kind === 'advance') {
    clock.advance(step.ms);
    model.advance(step.ms);
    await engine.settle();
  } else if (step.kind === 'rules') {
    engine.setRules(step.rules);
    model.rules = step.rules;
  } else {
    // A batch is submitted inside one event-loop turn, so its commands reach the partition actors
    // together; the model applies them in submission order.
    const cmds = step.kind === 'cmd' ? [step.cmd] : step.cmds;
    const pending = cmds.map((c) => engine.execute(c));
    const actual = (await Promise.all(pending)).map(answerOf);
    cmds.forEach((c, i) => {
      expectSameAnswer(c, actual[i] as ModelAnswer, model.apply(c));
    });
    cmds.forEach((c, i) => {
      const a = actual[i] as ModelAnswer;
      if (c.op !== 'reserve' || !a.applied) return;
      // A feed later in the same batch may lower onHand below what was granted (stock was lost);
      // the invariant is about the moment of the grant.
      const fedLater = cmds
        .slice(i + 1)
        .some((l) => (l.op === 'setOnHand' || l.op === 'adjust') && l.sku === c.sku);
      if (fedLater) return;
      for (const [loc] of a.lines ?? []) {
        const p = engine.position(c.sku, loc);
        expect(p !== null && p.reserved + p.allocated <= p.onHand).toBe(true);
      }
    });
  }
  for (const s of SKUS) {
    for (const l of LOCATIONS) {
      const p = engine.position(s, l.id);
      const m = model.position(s, l.id);
      expect(
        p === null ? null : { onHand: p.onHand, reserved: p.reserved, allocated: p.allocated },
      ).toEqual(m);
    }
    for (const c of CHANNELS) {
      const net = engine.availability(c.id, s);
      expect(net.ok && net.available).toBe(model.network(c.id, s));
      for (const l of LOCATIONS) {
        const at = engine.availability(c.id, s, l.id);
        expect(at.ok && at.available).toBe(model.atLocation(c.id, s, l.id));
      }
    }
  }
  checkConservation(engine);
}

async function runHistory(initialRules: RulesInput, steps: readonly Step[]): Promise<void> {
  const clock = new ManualClock(START);
  const engine = new StockEngine({
    rules: initialRules,
    locations: LOCATIONS,
    products: SKUS.map((s) => ({ sku: s, group: GROUPS[s] })),
    clock,
    partitions: 2,
    tombstoneTtlMs: TOMBSTONE_TTL,
  });
  const model = new StockModel(LOCATIONS, GROUPS, initialRules, clock.now(), TOMBSTONE_TTL);
  try {
    for (const step of steps) await runStep({ engine, clock, model }, step);
  } finally {
    await engine.stop();
  }
}

describe('stock invariants (model-based, fast-check)', () => {
  it('matches a plain reference model over random histories, never granting beyond onHand', async () => {
    await fc.assert(
      fc.asyncProperty(
        rulesArb,
        fc.array(stepArb, { minLength: 1, maxLength: 40, size: 'max' }),
        runHistory,
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('gives the same answers when many commands arrive in one turn across partitions', async () => {
    const batchStep: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .array(batchCmdArb, { minLength: 1, maxLength: 8, size: 'max' })
          .map((cmds) => ({ kind: 'batch' as const, cmds })),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.constantFrom(5_000, 600_000, 1_800_000),
        }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        rulesArb,
        fc.array(batchStep, { minLength: 1, maxLength: 20, size: 'max' }),
        runHistory,
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
