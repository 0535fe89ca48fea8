import { DueQueue, type Clock, type HeapItem, type TimerHandle } from '../engine/index.ts';
import type { OrderIndex } from './order-index.ts';
import type { Order } from './order-state.ts';

/** A fulfilment's answer deadline in the one deadline heap. */
class Deadline implements HeapItem {
  heapIndex = -1;
  constructor(
    readonly orderId: string,
    readonly fulfilmentId: string,
    public dueAt: number,
  ) {}
}

/** What the timers ask of the order runner. */
export interface TimerActions {
  /** A fulfilment's answer deadline passed. */
  timeout(orderId: string, fulfilmentId: string): void;
  /** A backordered or interrupted order is tried again. */
  resume(orderId: string): void;
  /** A completed order is past its retention. */
  purge(orderId: string): void;
  /** Exchange orders decided but not placed yet (the journal was down) are tried again. */
  placeExchanges(): void;
}

export interface TimerOptions {
  readonly backorderRetryMs: number;
  readonly retainCompletedMs: number;
  /** A delivered order is kept while its returns are open or its return window runs. */
  readonly returnWindowMs: number;
}

/**
 * The order service's time: one deadline per requested fulfilment (in the engine's DueQueue, one
 * heap and one timer), and the sweep that retries the backlog and drops completed orders past
 * their retention. Deadlines are armed once the service has started (after recovery).
 */
export class OrderTimers {
  private readonly deadlines: DueQueue<Deadline>;
  private readonly deadlineOf = new Map<string, Deadline>();
  private sweepTimer: TimerHandle | null = null;
  private started = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly index: OrderIndex,
    private readonly options: TimerOptions,
    private readonly actions: TimerActions,
  ) {
    this.deadlines = new DueQueue<Deadline>(clock, (d) => {
      this.deadlineOf.delete(d.fulfilmentId);
      this.actions.timeout(d.orderId, d.fulfilmentId);
    });
  }

  /** Arms from now on: `recovered` arms what recovery brought back, then the sweep starts. */
  start(recovered: () => void): void {
    this.started = true;
    recovered();
    this.scheduleSweep();
  }

  stop(): void {
    this.stopped = true;
    this.deadlines.stop();
    if (this.sweepTimer !== null) this.clock.cancel(this.sweepTimer);
  }

  /** Brings an order's deadlines in line with its requested fulfilments (from start on). */
  arm(order: Order): void {
    if (!this.started) return;
    for (const x of order.fulfilments) {
      const existing = this.deadlineOf.get(x.fulfilmentId);
      if (x.status !== 'requested') {
        if (existing !== undefined) {
          this.deadlines.remove(existing);
          this.deadlineOf.delete(x.fulfilmentId);
        }
        continue;
      }
      if (existing !== undefined) continue;
      const d = new Deadline(order.orderId, x.fulfilmentId, x.dueBy);
      this.deadlineOf.set(x.fulfilmentId, d);
      this.deadlines.schedule(d);
    }
  }

  /** Drops every deadline of an order (it left memory). */
  disarm(order: Order): void {
    for (const x of order.fulfilments) {
      const d = this.deadlineOf.get(x.fulfilmentId);
      if (d !== undefined) {
        this.deadlines.remove(d);
        this.deadlineOf.delete(x.fulfilmentId);
      }
    }
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    const every = Math.min(
      this.options.backorderRetryMs,
      Math.max(1_000, this.options.retainCompletedMs / 4),
    );
    this.sweepTimer = this.clock.schedule(this.clock.now() + every, () => {
      this.sweepTimer = null;
      this.sweep();
      this.scheduleSweep();
    });
  }

  /** Retries backordered and interrupted orders and exchanges; drops completed ones past retention. */
  private sweep(): void {
    for (const orderId of [...this.index.backlog]) this.actions.resume(orderId);
    this.actions.placeExchanges();
    const now = this.clock.now();
    this.index.expired(
      now - this.options.retainCompletedMs,
      (orderId) => {
        this.actions.purge(orderId);
      },
      (order) =>
        order.keepForReturns(now, this.options.returnWindowMs) || this.keepsExchange(order),
    );
  }

  /**
   * An exchange order stays while the order whose return it replaces is in memory: that order's
   * return says the exchange was placed, and a retried receipt or a restart places it again when
   * it is not found (docs/returns.md "Exchanges").
   */
  private keepsExchange(order: Order): boolean {
    const link = order.input.exchangeFor;
    return link !== undefined && this.index.get(link.orderId) !== undefined;
  }
}
