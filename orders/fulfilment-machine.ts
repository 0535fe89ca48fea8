import type { FulfilmentEvent, FulfilmentUpdate } from './order-events.ts';

/**
 * A fulfilment's state machine: one table, FULFILMENT_TRANSITIONS[state][update], whose cells
 * hold the guard (does this update apply to a fulfilment in this state, repeat one applied, or
 * not fit) and the effect (what applying it does) together. The answer decision asks the guard;
 * the order's reducer runs the effect, live and at replay.
 */

export type FulfilmentStatus =
  | 'requested'
  | 'accepted'
  | 'picked'
  | 'shipped'
  | 'delivered'
  | 'rejected'
  | 'short_picked'
  | 'timed_out'
  | 'cancelled';

export interface FulfilmentLine {
  readonly sku: string;
  readonly qty: number;
}

/** One location's part of an order. Never mutated: a change replaces the object. */
export interface Fulfilment {
  readonly fulfilmentId: string;
  readonly location: string;
  readonly lines: readonly FulfilmentLine[];
  readonly status: FulfilmentStatus;
  readonly attempt: number;
  readonly requestedAt: number;
  readonly dueBy: number;
  readonly updatedAt: number;
  readonly carrier: string | null;
  readonly tracking: string | null;
  /** Why it was rejected, short, timed out, cancelled, or the last delivery problem. */
  readonly reason: string | null;
}

/** Fulfilment states that hold stock at the location (allocated, not shipped). */
export const ACTIVE: ReadonlySet<FulfilmentStatus> = new Set(['requested', 'accepted', 'picked']);
/** States whose units count as the order's (held, on the way or delivered). */
export const COUNTED: ReadonlySet<FulfilmentStatus> = new Set([
  'requested',
  'accepted',
  'picked',
  'shipped',
  'delivered',
]);

export function isActive(status: FulfilmentStatus): boolean {
  return ACTIVE.has(status);
}

/** Applies, repeats one already applied (answered as a duplicate), or is refused with why. */
export type Verdict = 'apply' | 'duplicate' | { readonly refuse: string };

/** What an applied update does to the fulfilment and to the order around it. */
export interface FulfilmentChange {
  readonly next: Fulfilment;
  /** Why the fulfilment's location may no longer source this order (it re-sources), or null. */
  readonly exclude: string | null;
}

export interface Transition {
  /** `tracking`: the answer's tracking number (a repeated `shipped` must carry the same one). */
  readonly guard: (x: Fulfilment, tracking: string | null) => Verdict;
  /** Null where the guard never applies. */
  readonly effect: ((x: Fulfilment, event: FulfilmentEvent) => FulfilmentChange) | null;
}

// ---- effects --------------------------------------------------------------------------------

function touched(x: Fulfilment, event: FulfilmentEvent): Fulfilment {
  return { ...x, updatedAt: event.at, reason: event.reason ?? x.reason };
}

function becomes(status: FulfilmentStatus) {
  return (x: Fulfilment, event: FulfilmentEvent): FulfilmentChange => ({
    next: { ...touched(x, event), status },
    exclude: null,
  });
}

function shortPick(x: Fulfilment, event: FulfilmentEvent): FulfilmentChange {
  const picked = new Map(event.picked ?? []);
  const lines = x.lines
    .map((l) => ({ sku: l.sku, qty: Math.min(l.qty, picked.get(l.sku) ?? 0) }))
    .filter((l) => l.qty > 0);
  const next = touched(x, event);
  return {
    next:
      lines.length === 0
        ? { ...next, status: 'short_picked' }
        : { ...next, lines, status: 'picked' },
    exclude: `short-picked ${x.fulfilmentId}`,
  };
}

function ship(x: Fulfilment, event: FulfilmentEvent): FulfilmentChange {
  return {
    next: {
      ...touched(x, event),
      status: 'shipped',
      carrier: event.carrier,
      tracking: event.tracking,
    },
    exclude: null,
  };
}

function reject(x: Fulfilment, event: FulfilmentEvent): FulfilmentChange {
  return {
    next: { ...touched(x, event), status: 'rejected' },
    exclude: `rejected ${x.fulfilmentId}`,
  };
}

function timeOut(x: Fulfilment, event: FulfilmentEvent): FulfilmentChange {
  return {
    next: { ...touched(x, event), status: 'timed_out' },
    exclude: `did not answer ${x.fulfilmentId}`,
  };
}

/** A delivery problem changes no state: it is kept as the fulfilment's reason. */
function problem(x: Fulfilment, event: FulfilmentEvent): FulfilmentChange {
  return { next: touched(x, event), exclude: null };
}

// ---- guards ---------------------------------------------------------------------------------

const APPLIES = (): Verdict => 'apply';

function gone(x: Fulfilment): Verdict {
  return { refuse: `fulfilment ${x.fulfilmentId} is ${x.status}` };
}

function problemGone(x: Fulfilment): Verdict {
  return {
    refuse: `a delivery problem needs a shipped fulfilment; fulfilment ${x.fulfilmentId} is ${x.status}`,
  };
}

/** A repeated `shipped` is a duplicate only with the tracking number it shipped with. */
function sameTracking(x: Fulfilment, tracking: string | null): Verdict {
  return tracking === x.tracking
    ? 'duplicate'
    : { refuse: `fulfilment ${x.fulfilmentId} shipped with tracking ${String(x.tracking)}` };
}

const to = (effect: NonNullable<Transition['effect']>): Transition => ({ guard: APPLIES, effect });
const DUPLICATE: Transition = { guard: () => 'duplicate', effect: null };
const GONE: Transition = { guard: gone, effect: null };
const NO_PROBLEM: Transition = { guard: problemGone, effect: null };
const SHIPPED_AGAIN: Transition = { guard: sameTracking, effect: null };

/** Every state that takes no update: a later answer about it no longer fits. */
const FINISHED: Readonly<Record<FulfilmentUpdate, Transition>> = {
  accepted: GONE,
  rejected: GONE,
  short_picked: GONE,
  picked: GONE,
  shipped: GONE,
  delivered: GONE,
  problem: NO_PROBLEM,
  timed_out: GONE,
};

/**
 * The fulfilment state machine. `timed_out` is the order service's own update (the deadline
 * passed without an answer); a location cannot send it (see decide-answer.ts).
 */
export const FULFILMENT_TRANSITIONS: Readonly<
  Record<FulfilmentStatus, Readonly<Record<FulfilmentUpdate, Transition>>>
> = {
  requested: {
    accepted: to(becomes('accepted')),
    rejected: to(reject),
    short_picked: to(shortPick),
    picked: to(becomes('picked')),
    shipped: to(ship),
    delivered: GONE,
    problem: NO_PROBLEM,
    timed_out: to(timeOut),
  },
  accepted: {
    accepted: DUPLICATE,
    rejected: to(reject),
    short_picked: to(shortPick),
    picked: to(becomes('picked')),
    shipped: to(ship),
    delivered: GONE,
    problem: NO_PROBLEM,
    timed_out: GONE,
  },
  picked: {
    accepted: DUPLICATE,
    rejected: GONE,
    short_picked: GONE,
    picked: DUPLICATE,
    shipped: to(ship),
    delivered: GONE,
    problem: NO_PROBLEM,
    timed_out: GONE,
  },
  shipped: {
    accepted: DUPLICATE,
    rejected: GONE,
    short_picked: GONE,
    picked: DUPLICATE,
    shipped: SHIPPED_AGAIN,
    delivered: to(becomes('delivered')),
    problem: to(problem),
    timed_out: GONE,
  },
  delivered: {
    accepted: DUPLICATE,
    rejected: GONE,
    short_picked: GONE,
    picked: DUPLICATE,
    shipped: SHIPPED_AGAIN,
    delivered: DUPLICATE,
    problem: NO_PROBLEM,
    timed_out: GONE,
  },
  rejected: { ...FINISHED, rejected: DUPLICATE },
  short_picked: { ...FINISHED, short_picked: DUPLICATE },
  timed_out: FINISHED,
  cancelled: FINISHED,
};

/** The transition an update takes from a fulfilment's current state. */
export function transitionOf(x: Fulfilment, update: FulfilmentUpdate): Transition {
  return FULFILMENT_TRANSITIONS[x.status][update];
}
