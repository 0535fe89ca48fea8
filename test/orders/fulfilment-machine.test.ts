import { describe, expect, it } from 'vitest';
import {
  FULFILMENT_TRANSITIONS,
  type Fulfilment,
  type FulfilmentStatus,
} from '../../orders/fulfilment-machine.ts';
import type { FulfilmentEvent, FulfilmentUpdate } from '../../orders/order-events.ts';

const STATES: readonly FulfilmentStatus[] = [
  'requested',
  'accepted',
  'picked',
  'shipped',
  'delivered',
  'rejected',
  'short_picked',
  'timed_out',
  'cancelled',
];
const UPDATES: readonly FulfilmentUpdate[] = [
  'accepted',
  'rejected',
  'short_picked',
  'picked',
  'shipped',
  'delivered',
  'problem',
  'timed_out',
];

/**
 * The machine written out by hand, one row per state, one letter per update in UPDATES order:
 * the state it moves to (a = accepted, r = rejected, s = short_picked, p = picked, S = shipped,
 * d = delivered, t = timed_out, = : applies and stays), D for a duplicate, . for refused.
 * A short pick that keeps some units moves to picked; `s` is the one that keeps none.
 */
const EXPECTED: Readonly<Record<FulfilmentStatus, string>> = {
  //          a r s p S d ! t
  requested: 'a r s p S . . t',
  accepted: 'D r s p S . . .',
  picked: 'D . . D S . . .',
  shipped: 'D . . D D d = .',
  delivered: 'D . . D D D . .',
  rejected: '. D . . . . . .',
  short_picked: '. . D . . . . .',
  timed_out: '. . . . . . . .',
  cancelled: '. . . . . . . .',
};

const LETTER: Readonly<Record<string, FulfilmentStatus>> = {
  a: 'accepted',
  r: 'rejected',
  s: 'short_picked',
  p: 'picked',
  S: 'shipped',
  d: 'delivered',
  t: 'timed_out',
};

function fulfilment(status: FulfilmentStatus): Fulfilment {
  return {
    fulfilmentId: 'o-1-F1',
    location: 'paris',
    lines: [
      { sku: 'A', qty: 2 },
      { sku: 'B', qty: 1 },
    ],
    status,
    attempt: 1,
    requestedAt: 1_000,
    dueBy: 61_000,
    updatedAt: 1_000,
    carrier: status === 'shipped' || status === 'delivered' ? 'DHL' : null,
    tracking: status === 'shipped' || status === 'delivered' ? 'T-1' : null,
    reason: null,
  };
}

function event(update: FulfilmentUpdate, picked: FulfilmentEvent['picked'] = []): FulfilmentEvent {
  return {
    kind: 'fulfilment',
    orderId: 'o-1',
    version: 3,
    at: 5_000,
    messages: [],
    fulfilmentId: 'o-1-F1',
    update,
    picked: update === 'short_picked' ? picked : null,
    carrier: update === 'shipped' ? 'DHL' : null,
    tracking: update === 'shipped' ? 'T-1' : null,
    reason: update === 'problem' ? 'parcel damaged' : null,
  };
}

describe('the fulfilment state machine', () => {
  it('has a cell for every state and update, and each cell does what the hand-written table says', () => {
    expect(Object.keys(FULFILMENT_TRANSITIONS).sort()).toEqual([...STATES].sort());
    for (const state of STATES) {
      const row = EXPECTED[state].split(' ');
      expect(Object.keys(FULFILMENT_TRANSITIONS[state]).sort()).toEqual([...UPDATES].sort());
      UPDATES.forEach((update, i) => {
        const cell = FULFILMENT_TRANSITIONS[state][update];
        const x = fulfilment(state);
        const verdict = cell.guard(x, x.tracking ?? 'T-1');
        const want = row[i] as string;
        const where = `${state} + ${update}`;
        if (want === '.') {
          expect(verdict, where).toHaveProperty('refuse');
          expect(cell.effect, where).toBeNull();
          return;
        }
        if (want === 'D') {
          expect(verdict, where).toBe('duplicate');
          expect(cell.effect, where).toBeNull();
          return;
        }
        expect(verdict, where).toBe('apply');
        expect(cell.effect, where).not.toBeNull();
        const { next } = (cell.effect as NonNullable<typeof cell.effect>)(x, event(update));
        expect(next.status, where).toBe(want === '=' ? state : LETTER[want]);
        expect(next.updatedAt, where).toBe(5_000);
        expect(next.fulfilmentId, where).toBe(x.fulfilmentId);
      });
    }
  });

  it('excludes the location (and so re-sources) exactly on rejected, short_picked and timed_out', () => {
    for (const state of STATES) {
      for (const update of UPDATES) {
        const effect = FULFILMENT_TRANSITIONS[state][update].effect;
        if (effect === null) continue;
        const { exclude } = effect(fulfilment(state), event(update));
        const want =
          update === 'rejected'
            ? 'rejected o-1-F1'
            : update === 'short_picked'
              ? 'short-picked o-1-F1'
              : update === 'timed_out'
                ? 'did not answer o-1-F1'
                : null;
        expect(exclude, `${state} + ${update}`).toBe(want);
      }
    }
  });

  it('refuses with a message that names the fulfilment and its state', () => {
    const rejected = fulfilment('rejected');
    expect(FULFILMENT_TRANSITIONS.rejected.accepted.guard(rejected, null)).toEqual({
      refuse: 'fulfilment o-1-F1 is rejected',
    });
    const picked = fulfilment('picked');
    expect(FULFILMENT_TRANSITIONS.picked.problem.guard(picked, null)).toEqual({
      refuse: 'a delivery problem needs a shipped fulfilment; fulfilment o-1-F1 is picked',
    });
  });

  it('takes a repeated shipment as a duplicate only with the same tracking number', () => {
    for (const state of ['shipped', 'delivered'] as const) {
      const x = fulfilment(state);
      const cell = FULFILMENT_TRANSITIONS[state].shipped;
      expect(cell.guard(x, 'T-1')).toBe('duplicate');
      expect(cell.guard(x, 'T-2')).toEqual({
        refuse: 'fulfilment o-1-F1 shipped with tracking T-1',
      });
      expect(cell.guard(x, null)).toHaveProperty('refuse');
    }
  });

  it('keeps the picked units of a short pick, or none', () => {
    const effect = FULFILMENT_TRANSITIONS.accepted.short_picked.effect;
    if (effect === null) throw new Error('accepted + short_picked must apply');
    const some = effect(fulfilment('accepted'), event('short_picked', [['A', 1]])).next;
    expect(some).toMatchObject({ status: 'picked', lines: [{ sku: 'A', qty: 1 }] });
    const none = effect(fulfilment('accepted'), event('short_picked', [])).next;
    expect(none.status).toBe('short_picked');
    expect(none.lines).toEqual(fulfilment('accepted').lines);
  });

  it('records a delivery problem as the reason and ships with the carrier and tracking given', () => {
    const problem = FULFILMENT_TRANSITIONS.shipped.problem.effect;
    const ship = FULFILMENT_TRANSITIONS.picked.shipped.effect;
    if (problem === null || ship === null) throw new Error('both must apply');
    expect(problem(fulfilment('shipped'), event('problem')).next).toMatchObject({
      status: 'shipped',
      reason: 'parcel damaged',
    });
    expect(ship(fulfilment('picked'), event('shipped')).next).toMatchObject({
      status: 'shipped',
      carrier: 'DHL',
      tracking: 'T-1',
    });
  });
});
