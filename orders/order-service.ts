import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import {
  ErrorCode,
  fail,
  Reason,
  type Clock,
  type JournalExtension,
  type LocationChoice,
  type LocationRanker,
  type StockPort,
} from '../engine/index.ts';
import { SourcingCandidates, type LocationSourcing } from './candidates.ts';
import type { FulfilmentAnswer } from './decide-answer.ts';
import type { CancelRequest } from './decide-cancel.ts';
import type { OrderCounts } from './decision.ts';
import type { OrderRecord } from './order-events.ts';
import { OrderIndex } from './order-index.ts';
import { fingerprintOf, parseOrder } from './order-input.ts';
import { replayRecord } from './order-replay.ts';
import { withOrder, type OrderResult } from './order-result.ts';
import { OrderRunner } from './order-runner.ts';
import { Order, type OrderSnapshot, type OrderStatus, type OrderView } from './order-state.ts';
import { OrderTimers } from './order-timers.ts';
import { OutboxDispatcher, type OutboxMessage, type OutboxTransport } from './outbox-dispatcher.ts';
import { SourcingProfiles, type ProfileSelection } from './profile-selection.ts';
import { NetworkRanker } from './ranker.ts';
import { Reconciler } from './reconcile.ts';
import { reconcileDay, type Reconciliation } from './reconciliation.ts';
import type { SourcingProfile } from './sourcing.ts';
import { decideRefund } from './decide-refund.ts';
import { decideReturnHold } from './decide-return-hold.ts';
import { decideReturnReceipt } from './decide-return-receipt.ts';
import { decideReturnRequest } from './decide-return-request.ts';
import type { ReturnContext } from './return-context.ts';
import { exchangeInput, isExchangeOrderId } from './return-exchange.ts';
import {
  isError,
  parseHoldResolution,
  parseRefund,
  parseReturnReceipt,
  parseReturnRequest,
} from './return-input.ts';
import { DEFAULT_RETURN_POLICY, type ReturnPolicy } from './return-policy.ts';
import { heldRefurbish, heldReturnToVendor, returnView, type ReturnView } from './return-state.ts';

export interface OrderServiceOptions {
  /** The stock engine's port: commands, the reads sourcing needs, the journal. */
  readonly stock: StockPort;
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
  readonly profiles: readonly SourcingProfile[];
  readonly selection: readonly ProfileSelection[];
  readonly defaultProfile: string;
  readonly locations: readonly LocationSourcing[];
  /**
   * Fulfilments open at a location in the other order services, when orders are sharded over
   * worker threads (gateway/shards/backlog-board.ts): added to this service's own wherever
   * sourcing weighs a location's backlog against its capacity. Default: none.
   */
  readonly openElsewhere?: ((location: string) => number) | undefined;
  readonly acceptTimeoutMs: number;
  readonly maxSourcingAttempts: number;
  readonly backorderRetryMs: number;
  readonly retainCompletedMs: number;
  /** Whether customer notifications are produced (a customer webhook is configured). */
  readonly notifyCustomers: boolean;
  /**
   * The streams the ERP's settlement events go to, one per sink (`erp:webhook`, `erp:redis`);
   * empty or omitted: no ERP sink, no settlement events (docs/erp.md).
   */
  readonly settlementStreams?: readonly string[] | undefined;
  /** How a stream's messages travel ('customer', `location:<id>`), or null: not now. */
  transportFor(stream: string): OutboxTransport | null;
  readonly outbox: {
    readonly maxInFlight: number;
    readonly backoffBaseMs: number;
    readonly backoffMaxMs: number;
  };
  /** Network reservations are split by the sourcing profiles (default true). */
  readonly rankReservations?: boolean | undefined;
  /** The return policy (config `orders.returns`); DEFAULT_RETURN_POLICY when omitted. */
  readonly returns?: ReturnPolicy | undefined;
}

/** A return with the order it belongs to (GET /v1/returns/:id). */
export interface ReturnOfOrder {
  readonly orderId: string;
  readonly channel: string;
  readonly return: ReturnView;
}

/** Units held apart at a location (not in onHand, never available to sell), per SKU. */
export interface HeldUnits {
  readonly location: string;
  readonly skus: readonly {
    readonly sku: string;
    readonly returnToVendor: number;
    readonly refurbish: number;
  }[];
  /** The returns holding them. */
  readonly returns: readonly { readonly orderId: string; readonly returnId: string }[];
}

export interface OrderStats {
  readonly orders: number;
  readonly active: number;
  readonly placed: number;
  readonly placementsFailed: number;
  readonly cancelled: number;
  readonly fulfilmentAnswers: number;
  readonly timeouts: number;
  readonly resourcings: number;
  readonly backordered: number;
  /** Orders in memory by status (statuses with none are absent). */
  readonly byStatus: ReadonlyMap<OrderStatus, number>;
  readonly openFulfilments: number;
  readonly outbox: ReturnType<OutboxDispatcher['stats']>;
  /** ERP settlement messages (every sink) waiting in the orders' outboxes, and delivered since start. */
  readonly settlement: { readonly pending: number; readonly delivered: number };
}

/**
 * Orders, sourcing and fulfilment: turns the stock engine into an order management system.
 * This is the service's public face; the work is done by its parts:
 * - each command is a pure decision (decide-place.ts, decide-cancel.ts, decide-answer.ts,
 *   decide-timeout.ts), the fulfilment state machine one table (fulfilment-machine.ts);
 * - the runner (order-runner.ts) runs every order's steps in its own mailbox and performs the
 *   decisions: stock commands, the journaled event with its undo, the outbox and acknowledgements;
 * - reconcile.ts brings an order's stock in line with what it needs, sourcing through
 *   candidates.ts and the planner (sourcing.ts);
 * - order-index.ts finds orders, order-timers.ts keeps deadlines and sweeps, ranker.ts ranks
 *   network reservations, order-replay.ts recovers from the journal.
 * Every change to an order is an event journaled with the stock commands in the engine's one
 * journal; stock is the engine's, held through ids derived from the order, so a step that is
 * retried (after a crash, say) repeats nothing. docs/orders.md describes the lifecycle.
 */
export class OrderService implements JournalExtension<OrderRecord, OrderSnapshot>, LocationRanker {
  readonly kind = 'order';
  private readonly index: OrderIndex;
  private readonly timers: OrderTimers;
  private readonly dispatcher: OutboxDispatcher;
  private readonly runner: OrderRunner;
  private readonly reconciler: Reconciler;
  private readonly ranker: NetworkRanker;
  private readonly counts: OrderCounts = {
    placed: 0,
    placementsFailed: 0,
    cancelled: 0,
    fulfilmentAnswers: 0,
    timeouts: 0,
    resourcings: 0,
  };
  /** The outbox streams that carry settlement events (one per configured sink). */
  private readonly settlementStreams: readonly string[];
  private readonly returnContext: ReturnContext;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Orders whose decided exchange could not be placed yet (the journal was down): swept. */
  private readonly exchangesDue = new Set<string>();
  private started = false;
  private stopped = false;
  /** ERP settlement messages acknowledged by their sink since start (a metric). */
  private settlementDelivered = 0;

  constructor(options: OrderServiceOptions) {
    const { stock, clock } = options;
    const log = options.logger ?? pino({ level: 'silent' });
    const profiles = new SourcingProfiles(
      options.profiles,
      options.selection,
      options.defaultProfile,
    );
    this.index = new OrderIndex({
      indexed: (order) => {
        this.timers.arm(order);
      },
      removed: (order) => {
        this.timers.disarm(order);
        this.dispatcher.forget(order.orderId);
      },
    });
    const policy = options.returns ?? DEFAULT_RETURN_POLICY;
    this.clock = clock;
    this.log = log;
    this.timers = new OrderTimers(
      clock,
      this.index,
      {
        backorderRetryMs: options.backorderRetryMs,
        retainCompletedMs: options.retainCompletedMs,
        returnWindowMs: policy.windowMs,
      },
      {
        timeout: (orderId, fulfilmentId) => {
          this.runner.timeout(orderId, fulfilmentId);
        },
        resume: (orderId) => {
          void this.runner.resume(orderId);
        },
        purge: (orderId) => {
          this.runner.purge(orderId);
        },
        placeExchanges: () => {
          for (const orderId of [...this.exchangesDue]) {
            this.placeExchanges(orderId).catch(() => undefined); // still due, logged
          }
        },
      },
    );
    this.dispatcher = new OutboxDispatcher({
      clock,
      transportFor: (stream) => options.transportFor(stream),
      maxInFlight: options.outbox.maxInFlight,
      backoffBaseMs: options.outbox.backoffBaseMs,
      backoffMaxMs: options.outbox.backoffMaxMs,
      delivered: (m) => {
        if (m.stream.startsWith('erp:')) this.settlementDelivered++;
        this.runner.ack(m, null);
      },
      deadLettered: (m, outcome) => {
        this.runner.ack(m, outcome);
      },
    });
    const candidates = new SourcingCandidates(
      stock,
      options.locations,
      this.index,
      options.openElsewhere,
    );
    const settlementStreams = options.settlementStreams ?? [];
    this.settlementStreams = settlementStreams;
    const context = {
      notifyCustomers: options.notifyCustomers,
      settlementStreams,
      keyOwner: (channel: string, key: string) => this.index.keyOwner(channel, key),
      hasChannel: (channel: string) => stock.hasChannel(channel),
      hasProduct: (sku: string) => stock.hasProduct(sku),
      hasLocation: (location: string) => stock.location(location) !== null,
    };
    this.returnContext = {
      notifyCustomers: options.notifyCustomers,
      settlementStreams,
      returnPolicy: policy,
      hasLocation: context.hasLocation,
      hasProduct: context.hasProduct,
      returnOwner: (returnId) => this.index.orderOfReturn(returnId) ?? null,
      orderValue: (orderId) => {
        const order = this.index.get(orderId);
        if (order === undefined) return null;
        let value = 0;
        for (const l of order.lines) value += (l.qty - l.cancelled) * l.unitPrice;
        return value;
      },
    };
    this.runner = new OrderRunner({
      stock,
      journal: stock.extend(this),
      index: this.index,
      dispatcher: this.dispatcher,
      clock,
      log,
      counts: this.counts,
      context,
      reconcile: (order, fresh) => this.reconciler.settle(order, fresh),
    });
    this.reconciler = new Reconciler({
      stock,
      clock,
      log,
      runner: this.runner,
      candidates,
      profiles,
      options,
      context,
      counts: this.counts,
      incarnation: randomBytes(4).toString('hex'),
    });
    this.ranker = new NetworkRanker(clock, profiles, candidates);
    if (options.rankReservations !== false) stock.rankNetworkReservations(this.ranker);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * After recovery: arms deadlines, queues every unacknowledged message, resumes orders whose
   * sourcing was interrupted and starts the backorder and retention sweeps.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.timers.start(() => {
      for (const order of this.index.values()) {
        for (const m of order.outbox) this.dispatcher.enqueue(m);
        this.timers.arm(order);
        if (order.pending) void this.runner.resume(order.orderId);
        // A crash between a return's exchange decision and its order's placement: place it now.
        if (order.returns.some((r) => r.exchange?.status === 'placed')) {
          this.placeExchanges(order.orderId).catch(() => undefined); // swept, logged
        }
      }
    });
  }

  /** Stops timers and sending; waits for running order steps. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.stop();
    await this.runner.idle();
    await this.dispatcher.stop();
  }

  /** Resolves when no order step is running (tests, shutdown). */
  settled(): Promise<void> {
    return this.runner.idle();
  }

  /** A stream's receiver connected (a location's WebSocket): send what waits for it now. */
  wake(stream: string): void {
    this.dispatcher.wake(stream);
  }

  // ---- reads ----------------------------------------------------------------------------------

  get(orderId: string): OrderView | null {
    return this.index.get(orderId)?.view() ?? null;
  }

  /** The newest orders in memory, newest first (at most `limit`, and at most 200). */
  recent(limit: number): OrderView[] {
    return this.index.recent(limit).map((order) => order.view());
  }

  /** Fulfilments open per location in this service (what the others add to theirs). */
  openByLocation(): ReadonlyMap<string, number> {
    return this.index.openByLocation();
  }

  /** The order an Idempotency-Key (scoped to a channel) placed, or null. */
  keyOwner(channel: string, key: string): string | null {
    return this.index.keyOwner(channel, key);
  }

  /** The order a fulfilment belongs to. */
  orderOfFulfilment(fulfilmentId: string): string | null {
    return this.index.orderOfFulfilment(fulfilmentId) ?? null;
  }

  /** Messages waiting for a stream (a location reconnecting asks for its backlog). */
  pendingFor(stream: string): OutboxMessage[] {
    const out: OutboxMessage[] = [];
    for (const order of this.index.values()) {
      for (const m of order.outbox) if (m.stream === stream) out.push(m);
    }
    return out;
  }

  /** A return and its order, or null. */
  getReturn(returnId: string): ReturnOfOrder | null {
    const orderId = this.index.orderOfReturn(returnId);
    const order = orderId === undefined ? undefined : this.index.get(orderId);
    const r = order?.findReturn(returnId);
    if (order === undefined || r === undefined) return null;
    return { orderId: order.orderId, channel: order.input.channel, return: returnView(r) };
  }

  /**
   * Units returns hold apart at a location (return_to_vendor, refurbish), per SKU: visible to
   * the location, never in onHand. Walks the orders in memory (returns are few beside orders).
   */
  heldAt(location: string): HeldUnits {
    const bySku = new Map<string, { sku: string; returnToVendor: number; refurbish: number }>();
    const returns: { orderId: string; returnId: string }[] = [];
    for (const order of this.index.values()) {
      for (const r of order.returns) {
        if (r.location !== location) continue;
        let any = false;
        for (const l of r.lines) {
          const rtv = heldReturnToVendor(l);
          const refurbish = heldRefurbish(l);
          if (rtv === 0 && refurbish === 0) continue;
          any = true;
          let row = bySku.get(l.sku);
          if (row === undefined) {
            row = { sku: l.sku, returnToVendor: 0, refurbish: 0 };
            bySku.set(l.sku, row);
          }
          row.returnToVendor += rtv;
          row.refurbish += refurbish;
        }
        if (any) returns.push({ orderId: order.orderId, returnId: r.returnId });
      }
    }
    const skus = [...bySku.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    return { location, skus, returns };
  }

  /** Settlement events their sinks have not acknowledged: kept by the dispatcher, no walk. */
  private settlementPending(): number {
    return this.dispatcher.pendingIn(this.settlementStreams);
  }

  /**
   * Units shipped, returned and restocked and amounts invoiced and credited on one UTC day
   * (`YYYY-MM-DD`), per location and currency, or for one location (reconciliation.ts).
   */
  reconciliation(day: string, location: string | null): Reconciliation {
    return reconcileDay(this.index.values(), day, location);
  }

  stats(): OrderStats {
    return {
      orders: this.index.size,
      active: this.runner.active,
      ...this.counts,
      backordered: this.index.backlog.size,
      byStatus: new Map(this.index.countsByStatus()),
      openFulfilments: this.index.openFulfilments(),
      outbox: this.dispatcher.stats(),
      settlement: { pending: this.settlementPending(), delivered: this.settlementDelivered },
    };
  }

  // ---- commands --------------------------------------------------------------------------------

  /**
   * Places an order. Idempotent under its order id and under `idempotencyKey` (scoped to the
   * channel): the same body again answers the order as it stands; another body is CONFLICT.
   * `channel`, when given, is the caller's: an order for another channel is FORBIDDEN.
   */
  place(
    body: unknown,
    idempotencyKey: string | null,
    channel: string | null,
  ): Promise<OrderResult> {
    const input = parseOrder(body);
    if (!('orderId' in input)) return Promise.resolve(withOrder(input, null));
    if (channel !== null && input.channel !== channel) {
      return Promise.resolve(
        withOrder(
          fail(
            ErrorCode.FORBIDDEN,
            Reason.OTHER_CHANNEL,
            `a ${channel} key cannot place ${input.channel} orders`,
          ),
          null,
        ),
      );
    }
    if (isExchangeOrderId(input.orderId)) {
      // Exchange orders' ids are derived (return-exchange.ts): a client order under one would
      // block the exchange it names.
      return Promise.resolve(
        withOrder(
          fail(
            ErrorCode.BAD_REQUEST,
            Reason.INVALID_ID,
            "order ids containing '~x~' are reserved for exchanges",
          ),
          null,
        ),
      );
    }
    return this.runner.place({ input, fingerprint: fingerprintOf(input), idempotencyKey });
  }

  /** Cancels an order or some of its lines (see decide-cancel.ts). */
  cancel(orderId: string, request: CancelRequest, channel: string | null): Promise<OrderResult> {
    if (this.index.get(orderId) === undefined) {
      return Promise.resolve(
        withOrder(
          fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_ORDER, `unknown order ${orderId}`),
          null,
        ),
      );
    }
    return this.runner.cancel({ orderId, request, channel });
  }

  /**
   * A location's answer about one of its fulfilments. `location`, when given, is the caller's:
   * another location's fulfilment is FORBIDDEN. Repeating an answer already applied is answered
   * as a duplicate; an answer that no longer fits (the fulfilment was re-sourced) is CONFLICT.
   */
  fulfilmentAnswer(
    fulfilmentId: string,
    answer: FulfilmentAnswer,
    location: string | null,
  ): Promise<OrderResult> {
    const orderId = this.index.orderOfFulfilment(fulfilmentId);
    if (orderId === undefined) {
      return Promise.resolve(
        withOrder(
          fail(
            ErrorCode.NOT_FOUND,
            Reason.UNKNOWN_FULFILMENT,
            `unknown fulfilment ${fulfilmentId}`,
          ),
          null,
        ),
      );
    }
    return this.runner.answer(orderId, { fulfilmentId, answer, location });
  }

  // ---- returns (docs/returns.md) ---------------------------------------------------------------

  /**
   * A return of shipped units of an order, idempotent under its `returnId`. `channel`, when
   * given, is the caller's: another channel's order is FORBIDDEN.
   */
  requestReturn(orderId: string, body: unknown, channel: string | null): Promise<OrderResult> {
    const request = parseReturnRequest(body);
    if (isError(request)) return Promise.resolve(withOrder(request, null));
    if (this.index.get(orderId) === undefined) return unknownOrder(orderId);
    return this.withExchanges(
      orderId,
      this.runner.run(orderId, (order) =>
        decideReturnRequest(
          order,
          { orderId, request, channel, now: this.clock.now() },
          this.returnContext,
        ),
      ),
    );
  }

  /**
   * A location receives a return (any location). `location`, when given, is the caller's and
   * the receipt is at it; an admin names the location in the body.
   */
  receiveReturn(returnId: string, body: unknown, location: string | null): Promise<OrderResult> {
    const receipt = parseReturnReceipt(body);
    if (isError(receipt)) return Promise.resolve(withOrder(receipt, null));
    const at = receipt.location ?? location;
    if (at === null) {
      return Promise.resolve(
        withOrder(fail(ErrorCode.BAD_REQUEST, null, 'location is required'), null),
      );
    }
    const orderId = this.index.orderOfReturn(returnId);
    if (orderId === undefined) return unknownReturn(returnId);
    return this.withExchanges(
      orderId,
      this.runner.run(orderId, (order) =>
        decideReturnReceipt(
          order,
          { returnId, receipt: { ...receipt, location: at }, callerLocation: location },
          this.returnContext,
        ),
      ),
    );
  }

  /** Refunds a return's received units not refunded yet, as a credit note (decide-refund.ts). */
  refundReturn(returnId: string, body: unknown, channel: string | null): Promise<OrderResult> {
    const request = parseRefund(body);
    if (isError(request)) return Promise.resolve(withOrder(request, null));
    const orderId = this.index.orderOfReturn(returnId);
    if (orderId === undefined) return unknownReturn(returnId);
    return this.runner.run(orderId, (order) =>
      decideRefund(
        order,
        { returnId, request, channel, now: this.clock.now() },
        this.returnContext,
      ),
    );
  }

  /** What becomes of units a return holds apart (decide-return-hold.ts). */
  resolveReturnHold(
    returnId: string,
    body: unknown,
    location: string | null,
  ): Promise<OrderResult> {
    const resolution = parseHoldResolution(body);
    if (isError(resolution)) return Promise.resolve(withOrder(resolution, null));
    const orderId = this.index.orderOfReturn(returnId);
    if (orderId === undefined) return unknownReturn(returnId);
    return this.runner.run(orderId, (order) =>
      decideReturnHold(order, { returnId, resolution, callerLocation: location }),
    );
  }

  /**
   * After a return step (applied or repeated): places the exchange orders the order's returns
   * decided and that do not exist yet, through the same placement as any order. The decision is
   * journaled first (the return event); the placement is idempotent under the derived id, so a
   * retried step, or the start after a crash in between, places each exactly once.
   */
  private async withExchanges(orderId: string, step: Promise<OrderResult>): Promise<OrderResult> {
    const result = await step;
    if (result.ok) await this.placeExchanges(orderId);
    return result;
  }

  /** Failing (the journal is down), the order stays due and the sweep tries again. */
  private async placeExchanges(orderId: string): Promise<void> {
    try {
      await this.placeExchangesOf(orderId);
      this.exchangesDue.delete(orderId);
    } catch (error) {
      this.exchangesDue.add(orderId);
      this.log.warn({ err: error, orderId }, 'exchange order not placed yet; tried again');
      throw error;
    }
  }

  private async placeExchangesOf(orderId: string): Promise<void> {
    const order = this.index.get(orderId);
    if (order === undefined) return;
    for (const r of order.returns) {
      const input = exchangeInput(order, r);
      if (input === null || this.index.get(input.orderId) !== undefined) continue;
      const placed = await this.runner.place({
        input,
        fingerprint: fingerprintOf(input),
        idempotencyKey: null,
      });
      // Not sourceable under its profile: cancelled like any order (the refund then pays it all
      // back, see exchangeSettles); refused (master data gone since the request): left to support.
      if (!placed.ok) {
        this.log.warn(
          { orderId, returnId: r.returnId, code: placed.code, message: placed.message },
          placed.order === null ? 'exchange order refused' : 'exchange order not sourceable',
        );
      }
    }
  }

  /** LocationRanker (see ranker.ts). */
  rank(
    channel: string,
    sku: string,
    qty: number,
    choices: readonly LocationChoice[],
  ): readonly string[] {
    return this.ranker.rank(channel, sku, qty, choices);
  }

  // ---- JournalExtension -------------------------------------------------------------------------

  replay(record: OrderRecord, seq: number): boolean {
    return replayRecord(this.index, record, seq, this.started ? this.dispatcher : null);
  }

  *snapshotItems(): Iterator<OrderSnapshot> {
    for (const order of this.index.values()) yield order.snapshot();
  }

  importItem(item: OrderSnapshot): void {
    this.index.add(Order.fromSnapshot(item), []);
  }

  clear(): void {
    this.index.clear();
  }
}

function unknownOrder(orderId: string): Promise<OrderResult> {
  return Promise.resolve(
    withOrder(fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_ORDER, `unknown order ${orderId}`), null),
  );
}

function unknownReturn(returnId: string): Promise<OrderResult> {
  return Promise.resolve(
    withOrder(fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_RETURN, `unknown return ${returnId}`), null),
  );
}
