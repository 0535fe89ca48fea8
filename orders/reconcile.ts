import type { Logger } from 'pino';
import {
  ErrorCode,
  StockflowError,
  type Clock,
  type CommandResult,
  type StockPort,
} from '../engine/index.ts';
import type { SourcingCandidates } from './candidates.ts';
import {
  locationStream,
  notifyCustomer,
  type DecideContext,
  type MessageDraft,
  type OrderCounts,
} from './decision.ts';
import type { PlannedFulfilment } from './order-events.ts';
import type { OrderRunner } from './order-runner.ts';
import type { Order } from './order-state.ts';
import type { SourcingProfiles } from './profile-selection.ts';
import type { SourcingPlan } from './sourcing.ts';

interface Holding {
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
}

export interface ReconcileOptions {
  readonly acceptTimeoutMs: number;
  readonly maxSourcingAttempts: number;
}

/** What a fresh order without reservations holds: nothing (no engine read needed). */
const NOTHING_HELD: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();

export interface ReconcilerParts {
  readonly stock: StockPort;
  readonly clock: Clock;
  readonly log: Logger;
  readonly runner: OrderRunner;
  readonly candidates: SourcingCandidates;
  readonly profiles: SourcingProfiles;
  readonly options: ReconcileOptions;
  readonly context: DecideContext;
  readonly counts: OrderCounts;
  /**
   * Part of every allocate and deallocate id this process derives for an order step. A step cut
   * short by a crash runs again after the restart at the same order version; it reconciles with
   * what the engine holds first, and its new commands must not collide with the earlier ones
   * (same id, other quantity: refused as ID_REUSED). Ship and short-pick ids stay derived from
   * the fulfilment alone: those repeat a location's retried answer on purpose.
   */
  readonly incarnation: string;
}

/**
 * Brings an order's stock in line with what it needs, and records the outcome: adopts what the
 * engine already holds for it (confirmed reservations, allocations of an interrupted step), gives
 * back what it no longer needs or may not keep (cancelled units, rejected locations), and sources
 * the rest under its profile, planning again when another order took the stock first. The
 * engine's holdings are the truth: after a crash between an allocation and the event that would
 * record it, this is what makes the two agree again.
 */
export class Reconciler {
  private readonly stock: StockPort;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly runner: OrderRunner;
  private readonly candidates: SourcingCandidates;
  private readonly profiles: SourcingProfiles;
  private readonly options: ReconcileOptions;
  private readonly context: DecideContext;
  private readonly counts: OrderCounts;
  private readonly incarnation: string;

  constructor(parts: ReconcilerParts) {
    this.stock = parts.stock;
    this.clock = parts.clock;
    this.log = parts.log;
    this.runner = parts.runner;
    this.candidates = parts.candidates;
    this.profiles = parts.profiles;
    this.options = parts.options;
    this.context = parts.context;
    this.counts = parts.counts;
    this.incarnation = parts.incarnation;
  }

  /** `fresh`: the order was created in this very step (it holds only confirmed reservations). */
  async settle(order: Order, fresh = false): Promise<void> {
    const orderId = order.orderId;
    const input = order.input;
    const first = order.attempts === 0;
    const reserved = order.lines.some((l) => l.reservationId !== null);
    if (first && reserved) await this.confirmReservations(order);
    const need = order.need();
    const pickupAt = input.delivery.type === 'pickup' ? input.delivery.location : null;
    // An order created in this very step holds nothing but its confirmed reservations; any other
    // (a resumed, re-sourced or cancelled one) is checked against what the engine holds for it.
    const readHeld = !fresh || reserved;
    const fetching = this.stock.refresh(
      input.channel,
      order.skus(),
      readHeld ? orderId : null,
      pickupAt,
    );
    if (fetching !== null) await fetching;
    const held = readHeld ? this.stock.orderHoldings(orderId, order.skus()) : NOTHING_HELD;
    const committed = order.committed();
    const excluded = order.excluded();
    const adopted: Holding[] = [];
    const giveBack: Holding[] = [];
    for (const [sku, at] of held) {
      for (const [location, qty] of at) {
        let extra = qty - (committed.get(sku)?.get(location) ?? 0);
        if (extra <= 0) {
          if (extra < 0)
            this.log.error(
              { orderId, sku, location, held: qty },
              'engine holds less than the order',
            );
          continue;
        }
        const usable = !excluded.has(location) && (pickupAt === null || pickupAt === location);
        const take = usable ? Math.min(extra, need.get(sku) ?? 0) : 0;
        if (take > 0) {
          adopted.push({ sku, location, qty: take });
          need.set(sku, (need.get(sku) ?? 0) - take);
          extra -= take;
        }
        if (extra > 0) giveBack.push({ sku, location, qty: extra });
      }
    }
    for (const [sku, qty] of need) if (qty <= 0) need.delete(sku);
    await this.giveBack(order, giveBack, 'g');

    const profile = this.profiles.profileFor(input.channel, input.delivery.type);
    let plan: SourcingPlan | null = null;
    let granted: Holding[] = [];
    if (need.size > 0 && order.cancelReason === null) {
      const inUse = [...new Set([...order.inUse(), ...adopted.map((a) => a.location)])];
      for (let attempt = 1; attempt <= this.options.maxSourcingAttempts; attempt++) {
        // A later attempt plans from what the owners hold now (the last one was refused).
        const again =
          attempt > 1 ? this.stock.refresh(input.channel, need.keys(), null, pickupAt) : null;
        if (again !== null) await again;
        plan = this.candidates.plan(order, need, profile, excluded, inUse, pickupAt);
        if (plan.allocations.length === 0) break;
        const tag = `${orderId}:a${this.incarnation}.${order.version}.${attempt}`;
        const results = await Promise.all(
          plan.allocations.map((a) =>
            this.stock.execute({
              op: 'allocate',
              allocationId: `${tag}:${a.sku}@${a.location}`,
              orderId,
              channel: input.channel,
              sku: a.sku,
              location: a.location,
              qty: a.qty,
            }),
          ),
        );
        const ok = plan.allocations.filter((_, i) => results[i]?.ok === true);
        if (ok.length === plan.allocations.length) {
          granted = ok.map((a) => ({ sku: a.sku, location: a.location, qty: a.qty }));
          break;
        }
        // Another order took some of it first: hand back what this attempt got, plan again.
        await this.giveBack(order, ok, `u${attempt}`);
        const down = results.find((r) => !r.ok && r.code === ErrorCode.UNAVAILABLE);
        if (down !== undefined && !down.ok) throw new StockflowError(down.code, down.message);
        plan = null;
      }
    }
    const placed = [...adopted, ...granted];
    const unplaced = new Map(need);
    for (const g of granted) unplaced.set(g.sku, (unplaced.get(g.sku) ?? 0) - g.qty);
    for (const [sku, qty] of unplaced) if (qty <= 0) unplaced.delete(sku);
    const explanation = plan?.explanation ?? null;

    if (unplaced.size > 0 && first && profile.split.policy !== 'backorder') {
      // Placement cannot be met under the split policy: nothing stays held by this order.
      await this.giveBack(order, placed, 'f');
      this.counts.placementsFailed++;
      this.runner.record(order, orderId, {
        kind: 'failed',
        code: ErrorCode.INSUFFICIENT_STOCK,
        message: explanation?.summary ?? `not enough stock for ${[...unplaced.keys()].join(', ')}`,
        explanation: explanation === null ? null : JSON.stringify(explanation),
      });
      return;
    }
    if (placed.length === 0 && !order.pending && sameBackorder(order, unplaced)) return;
    const fulfilments = this.fulfilmentsOf(order, placed);
    const messages: MessageDraft[] = fulfilments.map((p) => ({
      stream: locationStream(p.location),
      type: 'fulfilment.requested',
      body: {
        fulfilmentId: p.fulfilmentId,
        orderId,
        location: p.location,
        lines: p.lines.map(([sku, qty]) => ({ sku, qty })),
        delivery: input.delivery,
        customer: { id: input.customer.id, name: input.customer.name ?? null },
        dueBy: new Date(p.dueBy).toISOString(),
      },
    }));
    if (first)
      notifyCustomer(this.context, messages, order, 'order.confirmed', {
        lines: input.lines,
        delivery: input.delivery,
      });
    if (unplaced.size > 0 && order.backorderedUnits() === 0) {
      notifyCustomer(this.context, messages, order, 'order.delayed', {
        backordered: [...unplaced].map(([sku, qty]) => ({ sku, qty })),
      });
    }
    this.runner.record(
      order,
      orderId,
      {
        kind: 'sourced',
        attempt: order.attempts + 1,
        fulfilments,
        backordered: [...unplaced],
        explanation: explanation === null ? null : JSON.stringify(explanation),
      },
      messages,
    );
  }

  /** Held reservations named on the order's lines become its allocations. */
  private async confirmReservations(order: Order): Promise<void> {
    const work: Promise<CommandResult>[] = [];
    for (const line of order.lines) {
      if (line.reservationId === null) continue;
      work.push(
        this.stock.execute({
          op: 'confirm',
          reservationId: line.reservationId,
          orderId: order.orderId,
          channel: order.input.channel,
        }),
      );
    }
    const results = await Promise.all(work);
    for (const r of results) {
      if (!r.ok && r.code === ErrorCode.UNAVAILABLE) throw new StockflowError(r.code, r.message);
      // Expired, released or unknown reservations leave their lines to ordinary sourcing.
    }
  }

  private async giveBack(order: Order, list: readonly Holding[], tag: string): Promise<void> {
    if (list.length === 0) return;
    await this.runner.execute(
      list.map((h) => ({
        op: 'deallocate',
        requestId: `${order.orderId}:${tag}${this.incarnation}.${order.version}:${h.sku}@${h.location}`,
        orderId: order.orderId,
        sku: h.sku,
        location: h.location,
        qty: h.qty,
      })),
    );
  }

  private fulfilmentsOf(order: Order, placed: readonly Holding[]): PlannedFulfilment[] {
    const byLocation = new Map<string, Map<string, number>>();
    for (const h of placed) {
      let lines = byLocation.get(h.location);
      if (lines === undefined) {
        lines = new Map<string, number>();
        byLocation.set(h.location, lines);
      }
      lines.set(h.sku, (lines.get(h.sku) ?? 0) + h.qty);
    }
    const dueBy = this.clock.now() + this.options.acceptTimeoutMs;
    let n = order.fulfilments.length;
    return [...byLocation].map(([location, lines]) => ({
      fulfilmentId: `${order.orderId}-F${++n}`,
      location,
      lines: [...lines],
      dueBy,
    }));
  }
}

/** Whether an order's backorder already is `unplaced` (nothing new to record). */
function sameBackorder(order: Order, unplaced: ReadonlyMap<string, number>): boolean {
  const now = order.backordered;
  if (now.length !== unplaced.size) return false;
  return now.every(([sku, qty]) => unplaced.get(sku) === qty);
}
