import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import {
  DueQueue,
  ErrorCode,
  fail,
  Reason,
  StockflowError,
  type Clock,
  type CommandResult,
  type ErrorResult,
  type ExtensionJournal,
  type HeapItem,
  type JournalExtension,
  type LocationChoice,
  type LocationRanker,
  type StockPort,
  type TimerHandle,
} from '../engine/index.ts';
import type {
  FulfilmentUpdate,
  OrderAck,
  OrderEvent,
  OrderRecord,
  PlannedFulfilment,
} from './order-events.ts';
import { fingerprintOf, parseOrder, type OrderInput } from './order-input.ts';
import { OrderMailboxes } from './order-mailbox.ts';
import { isActive, transitionOf, type Fulfilment } from './fulfilment-machine.ts';
import { Order, type OrderSnapshot, type OrderView } from './order-state.ts';
import {
  OutboxDispatcher,
  type DeliveryOutcome,
  type OutboxMessage,
  type OutboxTransport,
} from './outbox-dispatcher.ts';
import {
  distanceKm,
  planSourcing,
  type SourcingLocation,
  type SourcingPlan,
  type SourcingProfile,
} from './sourcing.ts';

/** Sourcing attributes of a location (operational config, beside the ERP's master data). */
export interface LocationSourcing {
  readonly id: string;
  readonly priority: number;
  readonly dailyCapacity: number | null;
  readonly shippingCost: number;
  readonly zoneCosts: Readonly<Record<string, number>>;
}

export interface ProfileSelection {
  readonly channel: string;
  readonly delivery: 'ship' | 'pickup' | 'reservation' | '*';
  readonly profile: string;
}

export interface OrderServiceOptions {
  /** The stock engine's port: commands, the reads sourcing needs, the journal. */
  readonly stock: StockPort;
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
  readonly profiles: readonly SourcingProfile[];
  readonly selection: readonly ProfileSelection[];
  readonly defaultProfile: string;
  readonly locations: readonly LocationSourcing[];
  readonly acceptTimeoutMs: number;
  readonly maxSourcingAttempts: number;
  readonly backorderRetryMs: number;
  readonly retainCompletedMs: number;
  /** Whether customer notifications are produced (a customer webhook is configured). */
  readonly notifyCustomers: boolean;
  /** How a stream's messages travel ('customer', `location:<id>`), or null: not now. */
  transportFor(stream: string): OutboxTransport | null;
  readonly outbox: {
    readonly maxInFlight: number;
    readonly backoffBaseMs: number;
    readonly backoffMaxMs: number;
  };
  /** Network reservations are split by the sourcing profiles (default true). */
  readonly rankReservations?: boolean | undefined;
}

export interface OrderOk {
  readonly ok: true;
  readonly order: OrderView;
  /** False when the request repeated one already applied (an idempotent replay). */
  readonly created: boolean;
  readonly duplicate: boolean;
}

export interface OrderError extends ErrorResult {
  /** The order as it stands, when the failure concerns an existing order (e.g. unsourceable). */
  readonly order: OrderView | null;
}

export type OrderResult = OrderOk | OrderError;

export interface FulfilmentAnswer {
  readonly type: FulfilmentUpdate;
  /** short_picked: the units actually picked per SKU (missing SKUs: none picked). */
  readonly picked?: readonly { readonly sku: string; readonly qty: number }[] | undefined;
  readonly carrier?: string | undefined;
  readonly tracking?: string | undefined;
  readonly reason?: string | undefined;
}

export interface CancelRequest {
  /** Lines to cancel (all open units of each, or `qty`); omitted: the whole order. */
  readonly lines?:
    readonly { readonly lineId: string; readonly qty?: number | undefined }[] | undefined;
  readonly reason?: string | undefined;
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
  readonly openFulfilments: number;
  readonly outbox: ReturnType<OutboxDispatcher['stats']>;
}

/** A fulfilment's answer deadline in the one deadline heap. */
class Deadline implements HeapItem {
  heapIndex = -1;
  constructor(
    readonly orderId: string,
    readonly fulfilmentId: string,
    public dueAt: number,
  ) {}
}

type NewEvent = OrderEvent extends infer E
  ? E extends OrderEvent
    ? Omit<E, 'version' | 'at' | 'orderId' | 'messages'>
    : never
  : never;

/** What one location has of an order's SKUs (the planner only ever asks `get`). */
class StockRow {
  readonly units: number[];

  constructor(private readonly skus: readonly string[]) {
    this.units = new Array<number>(skus.length).fill(0);
  }

  get(sku: string): number | undefined {
    const i = this.skus.indexOf(sku);
    return i === -1 ? undefined : this.units[i];
  }
}

interface Place {
  readonly id: string;
  readonly lat: number;
  readonly lon: number;
}

interface LocationStatic {
  readonly type: string;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly priority: number;
  readonly shippingCost: number;
  readonly zoneCosts: Readonly<Record<string, number>>;
  readonly dailyCapacity: number | null;
}

interface Holding {
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
}

/**
 * Orders, sourcing and fulfilment: turns the stock engine into an order management system.
 * Every order has its own mailbox (see order-mailbox.ts); every change to an order is an event
 * journaled with the stock commands in the engine's one journal. Stock is the engine's: an order
 * holds units through `allocate` / `confirm` and gives them back through `deallocate`, all with
 * ids derived from the order, so a step that is retried (after a crash, say) repeats nothing.
 * Where an order and the engine could disagree after a crash (units allocated, the event that
 * would record them lost), `settle` reconciles from the engine's holdings, which are the truth.
 * docs/orders.md describes the lifecycle.
 */
export class OrderService implements JournalExtension<OrderRecord, OrderSnapshot>, LocationRanker {
  private readonly stock: StockPort;
  /** This service's way into the engine's journal (see JournalExtension). */
  private readonly journal: ExtensionJournal<OrderRecord>;
  readonly kind = 'order';
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly orders = new Map<string, Order>();
  private readonly byFulfilment = new Map<string, string>();
  private readonly byKey = new Map<string, string>();
  private readonly openAt = new Map<string, number>();
  /** Answer deadlines of requested fulfilments, armed once the service has started. */
  private readonly deadlines: DueQueue<Deadline>;
  private readonly deadlineOf = new Map<string, Deadline>();
  private readonly backlog = new Set<string>();
  private readonly completed: string[] = [];
  private completedHead = 0;
  private readonly mailboxes = new OrderMailboxes();
  private readonly dispatcher: OutboxDispatcher;
  private readonly profiles: Map<string, SourcingProfile>;
  private readonly sourcingOf: Map<string, LocationSourcing>;
  /**
   * Part of every allocate and deallocate id this process derives for an order step. A step cut
   * short by a crash runs again after the restart at the same order version; it reconciles with
   * what the engine holds first, and its new commands must not collide with the earlier ones
   * (same id, other quantity: refused as ID_REUSED). Ship and short-pick ids stay derived from
   * the fulfilment alone: those repeat a location's retried answer on purpose.
   */
  private readonly incarnation = randomBytes(4).toString('hex');
  private readonly statics = new Map<string, LocationStatic>();
  private places: Place[] = [];
  private placesVersion = -1;
  private readonly rankings = new Map<string, { at: number; ranking: readonly string[] }>();
  private staticsVersion = -1;
  private readonly acks = new Map<string, { ids: string[]; dead: [string, string][] }>();
  private acksScheduled = false;
  private sweepTimer: TimerHandle | null = null;
  private started = false;
  private stopped = false;
  /** Messages of recorded events, handed to the outbox once their write is durable. */
  private unsent: OutboxMessage[] = [];
  private readonly purgeQueued = new Set<string>();
  private readonly counts = {
    placed: 0,
    placementsFailed: 0,
    cancelled: 0,
    fulfilmentAnswers: 0,
    timeouts: 0,
    resourcings: 0,
  };

  constructor(private readonly options: OrderServiceOptions) {
    this.stock = options.stock;
    this.clock = options.clock;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.profiles = new Map(options.profiles.map((p) => [p.name, p]));
    if (!this.profiles.has(options.defaultProfile)) {
      throw new StockflowError(
        ErrorCode.BAD_REQUEST,
        `unknown default profile ${options.defaultProfile}`,
      );
    }
    this.sourcingOf = new Map(options.locations.map((l) => [l.id, l]));
    this.deadlines = new DueQueue<Deadline>(this.clock, (d) => {
      this.due(d);
    });
    this.dispatcher = new OutboxDispatcher({
      clock: this.clock,
      transportFor: (stream) => options.transportFor(stream),
      maxInFlight: options.outbox.maxInFlight,
      backoffBaseMs: options.outbox.backoffBaseMs,
      backoffMaxMs: options.outbox.backoffMaxMs,
      delivered: (m) => {
        this.ack(m, null);
      },
      deadLettered: (m, outcome) => {
        this.ack(m, outcome);
      },
    });
    this.journal = this.stock.extend(this);
    if (options.rankReservations !== false) this.stock.rankNetworkReservations(this);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * After recovery: arms deadlines, queues every unacknowledged message, resumes orders whose
   * sourcing was interrupted and starts the backorder and retention sweeps.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const order of this.orders.values()) {
      for (const m of order.outbox) this.dispatcher.enqueue(m);
      this.arm(order);
      if (order.pending) void this.resume(order.orderId);
    }
    this.scheduleSweep();
  }

  /** Stops timers and sending; waits for running order steps. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deadlines.stop();
    if (this.sweepTimer !== null) this.clock.cancel(this.sweepTimer);
    await this.mailboxes.idle();
    await this.dispatcher.stop();
  }

  /** Resolves when no order step is running (tests, shutdown). */
  settled(): Promise<void> {
    return this.mailboxes.idle();
  }

  /** A stream's receiver connected (a location's WebSocket): send what waits for it now. */
  wake(stream: string): void {
    this.dispatcher.wake(stream);
  }

  // ---- reads ----------------------------------------------------------------------------------

  get(orderId: string): OrderView | null {
    return this.orders.get(orderId)?.view() ?? null;
  }

  /** The order a fulfilment belongs to. */
  orderOfFulfilment(fulfilmentId: string): string | null {
    return this.byFulfilment.get(fulfilmentId) ?? null;
  }

  /** Messages waiting for a stream (a location reconnecting asks for its backlog). */
  pendingFor(stream: string): OutboxMessage[] {
    const out: OutboxMessage[] = [];
    for (const order of this.orders.values()) {
      for (const m of order.outbox) if (m.stream === stream) out.push(m);
    }
    return out;
  }

  stats(): OrderStats {
    let open = 0;
    for (const n of this.openAt.values()) open += n;
    return {
      orders: this.orders.size,
      active: this.mailboxes.active,
      ...this.counts,
      backordered: this.backlog.size,
      openFulfilments: open,
      outbox: this.dispatcher.stats(),
    };
  }

  // ---- placing ---------------------------------------------------------------------------------

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
    if (idempotencyKey !== null) {
      const scoped = `${input.channel}\u0000${idempotencyKey}`;
      const owner = this.byKey.get(scoped);
      if (owner !== undefined && owner !== input.orderId) {
        return Promise.resolve(
          withOrder(
            fail(
              ErrorCode.CONFLICT,
              Reason.ID_REUSED,
              `Idempotency-Key was used for order ${owner}`,
            ),
            null,
          ),
        );
      }
    }
    const fingerprint = fingerprintOf(input);
    return this.mailboxes.run(input.orderId, () =>
      this.placeStep(input, fingerprint, idempotencyKey),
    );
  }

  private async placeStep(
    input: OrderInput,
    fingerprint: string,
    idempotencyKey: string | null,
  ): Promise<OrderResult> {
    const existing = this.orders.get(input.orderId);
    if (existing !== undefined) {
      if (existing.fingerprint !== fingerprint) {
        return withOrder(
          fail(
            ErrorCode.CONFLICT,
            Reason.ID_REUSED,
            `order ${input.orderId} exists with other content`,
          ),
          null,
        );
      }
      await this.durable();
      return this.answer(existing, false);
    }
    if (idempotencyKey !== null) {
      const owner = this.byKey.get(`${input.channel}\u0000${idempotencyKey}`);
      if (owner !== undefined && owner !== input.orderId) {
        return withOrder(
          fail(ErrorCode.CONFLICT, Reason.ID_REUSED, `Idempotency-Key was used for order ${owner}`),
          null,
        );
      }
    }
    const refused = this.checkReferences(input);
    if (refused !== null) return withOrder(refused, null);
    const order = this.record(null, input.orderId, {
      kind: 'received',
      input,
      idempotencyKey,
      fingerprint,
    });
    this.counts.placed++;
    await this.settle(order, true);
    await this.flush();
    return this.answer(order, true);
  }

  private checkReferences(input: OrderInput): ErrorResult | null {
    if (!this.stock.hasChannel(input.channel)) {
      return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_CHANNEL, `unknown channel ${input.channel}`);
    }
    for (const line of input.lines) {
      if (!this.stock.hasProduct(line.sku)) {
        return fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${line.sku}`);
      }
    }
    if (input.delivery.type === 'pickup' && this.stock.location(input.delivery.location) === null) {
      return fail(
        ErrorCode.NOT_FOUND,
        Reason.UNKNOWN_LOCATION,
        `unknown location ${input.delivery.location}`,
      );
    }
    return null;
  }

  private answer(order: Order, created: boolean): OrderResult {
    const view = order.view();
    if (order.failedPlacement) {
      return withOrder(
        fail(
          ErrorCode.INSUFFICIENT_STOCK,
          Reason.NOT_SOURCEABLE,
          order.cancelReason ?? 'not sourceable',
        ),
        view,
      );
    }
    return { ok: true, order: view, created, duplicate: !created };
  }

  // ---- cancelling ------------------------------------------------------------------------------

  cancel(orderId: string, request: CancelRequest, channel: string | null): Promise<OrderResult> {
    if (!this.orders.has(orderId)) return Promise.resolve(unknownOrder(orderId));
    return this.mailboxes.run(orderId, async () => {
      const order = this.orders.get(orderId);
      if (order === undefined) return unknownOrder(orderId);
      if (channel !== null && order.input.channel !== channel) {
        return withOrder(
          fail(ErrorCode.FORBIDDEN, Reason.OTHER_CHANNEL, `order ${orderId} is not ${channel}'s`),
          null,
        );
      }
      const plan = this.cancellation(order, request);
      if (!('lines' in plan)) return withOrder(plan, order.view());
      if (plan.lines.length === 0) {
        if (order.lines.some((l) => l.cancelled < l.qty)) {
          return withOrder(
            fail(
              ErrorCode.CONFLICT,
              Reason.ORDER_STATE,
              `order ${orderId} has nothing left to cancel before shipment`,
            ),
            order.view(),
          );
        }
        await this.durable();
        return { ok: true, order: order.view(), created: false, duplicate: true } as const;
      }
      const reason = request.reason ?? 'cancelled by the customer';
      const whole = request.lines === undefined;
      const messages: Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>[] = [];
      const reducedBy = new Map<string, number>();
      for (const [id, , qty] of plan.reduce) reducedBy.set(id, (reducedBy.get(id) ?? 0) + qty);
      for (const [id] of reducedBy) {
        const x = order.fulfilment(id);
        if (x === undefined) continue;
        messages.push({
          stream: `location:${x.location}`,
          type: 'fulfilment.cancelled',
          body: {
            fulfilmentId: id,
            orderId,
            location: x.location,
            lines: plan.reduce.filter((r) => r[0] === id).map(([, sku, qty]) => ({ sku, qty })),
            reason,
          },
        });
      }
      this.customer(messages, order, 'order.cancelled', {
        whole,
        lines: plan.lines.map(([lineId, qty]) => ({ lineId, qty })),
        reason,
      });
      this.record(
        order,
        orderId,
        { kind: 'cancelled', lines: plan.lines, reduce: plan.reduce, reason },
        messages,
      );
      this.counts.cancelled++;
      await this.settle(order);
      await this.flush();
      return { ok: true, order: order.view(), created: false, duplicate: false } as const;
    });
  }

  /** What a cancel request takes off each line and each fulfilment, or why it cannot. */
  private cancellation(
    order: Order,
    request: CancelRequest,
  ): { lines: [string, number][]; reduce: [string, string, number][] } | ErrorResult {
    // Units of a SKU that can still be cancelled: ordered, not yet shipped.
    const shipped = new Map<string, number>();
    for (const x of order.fulfilments) {
      if (x.status !== 'shipped' && x.status !== 'delivered') continue;
      for (const l of x.lines) shipped.set(l.sku, (shipped.get(l.sku) ?? 0) + l.qty);
    }
    const open = new Map<string, number>();
    for (const l of order.lines) open.set(l.sku, (open.get(l.sku) ?? 0) + l.qty - l.cancelled);
    for (const [sku, qty] of shipped) open.set(sku, (open.get(sku) ?? 0) - qty);
    const wanted = request.lines ?? order.lines.map((l) => ({ lineId: l.lineId, qty: undefined }));
    const lines: [string, number][] = [];
    const cut = new Map<string, number>();
    for (const w of wanted) {
      const line = order.lines.find((l) => l.lineId === w.lineId);
      if (line === undefined)
        return fail(ErrorCode.NOT_FOUND, null, `order ${order.orderId} has no line ${w.lineId}`);
      const lineOpen = Math.min(line.qty - line.cancelled, open.get(line.sku) ?? 0);
      const qty = w.qty ?? lineOpen;
      if (w.qty !== undefined && (!Number.isSafeInteger(w.qty) || w.qty < 1)) {
        return fail(
          ErrorCode.BAD_REQUEST,
          Reason.INVALID_QUANTITY,
          `qty must be a whole number >= 1`,
        );
      }
      if (qty > lineOpen) {
        return fail(
          ErrorCode.CONFLICT,
          Reason.ORDER_STATE,
          `line ${w.lineId} has ${lineOpen} units left to cancel (shipped units cannot be cancelled)`,
        );
      }
      if (qty === 0) continue;
      lines.push([line.lineId, qty]);
      open.set(line.sku, (open.get(line.sku) ?? 0) - qty);
      cut.set(line.sku, (cut.get(line.sku) ?? 0) + qty);
    }
    // Fulfilments that now hold more than is ordered give the difference back, the least
    // advanced and newest first (a request the location has not touched is the cheapest to undo).
    const ordered = new Map<string, number>();
    for (const l of order.lines)
      ordered.set(l.sku, (ordered.get(l.sku) ?? 0) + l.qty - l.cancelled);
    for (const [sku, qty] of cut) ordered.set(sku, (ordered.get(sku) ?? 0) - qty);
    const reduce: [string, string, number][] = [];
    const rank = { requested: 0, accepted: 1, picked: 2 } as Record<string, number>;
    const active = order.fulfilments
      .filter((x) => isActive(x.status))
      .sort(
        (a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || b.requestedAt - a.requestedAt,
      );
    for (const [sku] of cut) {
      let counted = shipped.get(sku) ?? 0;
      for (const x of active) for (const l of x.lines) if (l.sku === sku) counted += l.qty;
      let excess = counted - (ordered.get(sku) ?? 0);
      for (const x of active) {
        if (excess <= 0) break;
        const l = x.lines.find((y) => y.sku === sku);
        if (l === undefined) continue;
        const take = Math.min(excess, l.qty);
        reduce.push([x.fulfilmentId, sku, take]);
        excess -= take;
      }
    }
    return { lines, reduce };
  }

  // ---- fulfilment answers ---------------------------------------------------------------------

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
    const orderId = this.byFulfilment.get(fulfilmentId);
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
    return this.mailboxes.run(orderId, () =>
      this.answerStep(orderId, fulfilmentId, answer, location),
    );
  }

  private async answerStep(
    orderId: string,
    fulfilmentId: string,
    answer: FulfilmentAnswer,
    location: string | null,
  ): Promise<OrderResult> {
    const order = this.orders.get(orderId);
    const x = order?.fulfilment(fulfilmentId);
    if (order === undefined || x === undefined) {
      return withOrder(
        fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_FULFILMENT, `unknown fulfilment ${fulfilmentId}`),
        null,
      );
    }
    if (location !== null && x.location !== location) {
      return withOrder(
        fail(
          ErrorCode.FORBIDDEN,
          Reason.OTHER_LOCATION,
          `fulfilment ${fulfilmentId} is not ${location}'s`,
        ),
        null,
      );
    }
    const verdict =
      answer.type === 'timed_out'
        ? { refuse: 'timed_out is decided by the order service, not sent' }
        : transitionOf(x, answer.type).guard(x, answer.tracking ?? null);
    if (verdict === 'duplicate') {
      await this.durable();
      return { ok: true, order: order.view(), created: false, duplicate: true };
    }
    if (verdict !== 'apply')
      return withOrder(fail(ErrorCode.CONFLICT, Reason.ORDER_STATE, verdict.refuse), order.view());
    this.counts.fulfilmentAnswers++;
    const picked =
      answer.type === 'short_picked'
        ? new Map((answer.picked ?? []).map((p) => [p.sku, p.qty]))
        : null;
    if (picked !== null) {
      for (const [sku, qty] of picked) {
        const line = x.lines.find((l) => l.sku === sku);
        if (line === undefined || !Number.isSafeInteger(qty) || qty < 0 || qty > line.qty) {
          return withOrder(
            fail(
              ErrorCode.BAD_REQUEST,
              Reason.INVALID_QUANTITY,
              `picked ${sku}: expected 0..${line?.qty ?? 0}`,
            ),
            order.view(),
          );
        }
      }
    }
    // Stock first, with ids derived from the fulfilment (a retried answer repeats nothing), then
    // the event: a crash in between leaves the answer unacknowledged, so the location sends it
    // again and the engine answers the repeats as duplicates.
    if (answer.type === 'shipped') {
      await this.awaitStock(
        x.lines.map((l) =>
          this.stock.execute({
            op: 'ship',
            shipmentId: `${fulfilmentId}:ship:${l.sku}`,
            orderId,
            sku: l.sku,
            location: x.location,
            qty: l.qty,
          }),
        ),
      );
    }
    if (picked !== null) {
      const work: Promise<CommandResult>[] = [];
      for (const l of x.lines) {
        const short = l.qty - (picked.get(l.sku) ?? 0);
        if (short <= 0) continue;
        // Ids are scoped per SKU across ops, so the two differ.
        const id = `${fulfilmentId}:short:${l.sku}`;
        work.push(
          this.stock.execute({
            op: 'deallocate',
            requestId: `${id}:free`,
            orderId,
            sku: l.sku,
            location: x.location,
            qty: short,
          }),
          this.stock.execute({
            op: 'adjust',
            adjustmentId: `${id}:count`,
            sku: l.sku,
            location: x.location,
            delta: -short,
          }),
        );
      }
      await this.awaitStock(work);
    }
    const messages = this.answerMessages(order, x, answer);
    this.record(
      order,
      orderId,
      {
        kind: 'fulfilment',
        fulfilmentId,
        update: answer.type,
        picked: picked === null ? null : [...picked],
        carrier: answer.carrier ?? null,
        tracking: answer.tracking ?? null,
        reason: answer.reason ?? null,
      },
      messages,
    );
    if (order.pending) {
      this.counts.resourcings++;
      await this.settle(order);
    }
    await this.flush();
    return { ok: true, order: order.view(), created: false, duplicate: false };
  }

  private answerMessages(
    order: Order,
    x: Fulfilment,
    answer: FulfilmentAnswer,
  ): Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>[] {
    const out: Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>[] = [];
    const pickup = order.input.delivery.type === 'pickup';
    switch (answer.type) {
      case 'picked':
        if (pickup)
          this.customer(out, order, 'order.ready_for_pickup', {
            fulfilmentId: x.fulfilmentId,
            location: x.location,
          });
        break;
      case 'shipped': {
        const others = order.fulfilments.filter((y) => y !== x && isActive(y.status)).length;
        this.customer(
          out,
          order,
          others > 0 || order.backorderedUnits() > 0 ? 'order.partially_shipped' : 'order.shipped',
          {
            fulfilmentId: x.fulfilmentId,
            carrier: answer.carrier ?? null,
            tracking: answer.tracking ?? null,
            lines: x.lines,
          },
        );
        break;
      }
      case 'delivered': {
        const rest = order.fulfilments.some(
          (y) =>
            y !== x && y.status !== 'delivered' && (isActive(y.status) || y.status === 'shipped'),
        );
        this.customer(out, order, rest ? 'order.partially_delivered' : 'order.delivered', {
          fulfilmentId: x.fulfilmentId,
        });
        break;
      }
      case 'problem':
        this.customer(out, order, 'order.delivery_problem', {
          fulfilmentId: x.fulfilmentId,
          reason: answer.reason ?? null,
          carrier: x.carrier,
          tracking: x.tracking,
        });
        break;
      default:
        break;
    }
    return out;
  }

  // ---- sourcing -------------------------------------------------------------------------------------

  /**
   * Brings an order's stock in line with what it needs: adopts what the engine already holds for
   * it (confirmed reservations, allocations of an interrupted step), gives back what it no longer
   * needs or may not keep (cancelled units, rejected locations), and sources the rest under its
   * profile, re-planning when another order took the stock first. Records the outcome.
   */
  private async settle(order: Order, fresh = false): Promise<void> {
    const orderId = order.orderId;
    const input = order.input;
    const first = order.attempts === 0;
    const reserved = order.lines.some((l) => l.reservationId !== null);
    if (first && reserved) await this.confirmReservations(order);
    const need = order.need();
    // An order created in this very step holds nothing but its confirmed reservations; any other
    // (a resumed, re-sourced or cancelled one) is checked against what the engine holds for it.
    const held =
      fresh && !reserved ? NOTHING_HELD : this.stock.orderHoldings(orderId, order.skus());
    const committed = order.committed();
    const excluded = order.excluded();
    const pickupAt = input.delivery.type === 'pickup' ? input.delivery.location : null;
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

    const profile = this.profileFor(input.channel, input.delivery.type);
    let plan: SourcingPlan | null = null;
    let granted: Holding[] = [];
    if (need.size > 0 && order.cancelReason === null) {
      const inUse = [...new Set([...order.inUse(), ...adopted.map((a) => a.location)])];
      for (let attempt = 1; attempt <= this.options.maxSourcingAttempts; attempt++) {
        plan = this.plan(order, need, profile, excluded, inUse, pickupAt);
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
      this.record(order, orderId, {
        kind: 'failed',
        code: ErrorCode.INSUFFICIENT_STOCK,
        message: explanation?.summary ?? `not enough stock for ${[...unplaced.keys()].join(', ')}`,
        explanation: explanation === null ? null : JSON.stringify(explanation),
      });
      return;
    }
    if (placed.length === 0 && !order.pending && sameBackorder(order, unplaced)) return;
    const fulfilments = this.fulfilmentsOf(order, placed);
    const messages: Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>[] = fulfilments.map(
      (p) => ({
        stream: `location:${p.location}`,
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
      }),
    );
    if (first)
      this.customer(messages, order, 'order.confirmed', {
        lines: input.lines,
        delivery: input.delivery,
      });
    if (unplaced.size > 0 && order.backorderedUnits() === 0) {
      this.customer(messages, order, 'order.delayed', {
        backordered: [...unplaced].map(([sku, qty]) => ({ sku, qty })),
      });
    }
    this.record(
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
    await this.awaitStock(
      list.map((h) =>
        this.stock.execute({
          op: 'deallocate',
          requestId: `${order.orderId}:${tag}${this.incarnation}.${order.version}:${h.sku}@${h.location}`,
          orderId: order.orderId,
          sku: h.sku,
          location: h.location,
          qty: h.qty,
        }),
      ),
    );
  }

  /** Waits for stock commands; a journal outage fails the step (it is resumed later). */
  private async awaitStock(work: readonly Promise<CommandResult>[]): Promise<void> {
    const results = await Promise.all(work);
    for (const r of results) {
      if (r.ok) continue;
      if (r.code === ErrorCode.UNAVAILABLE || r.code === ErrorCode.BUSY) {
        throw new StockflowError(r.code, r.message, r.reason === null ? {} : { reason: r.reason });
      }
      this.log.error({ code: r.code, message: r.message }, 'order stock command refused');
    }
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

  private plan(
    order: Order,
    need: ReadonlyMap<string, number>,
    profile: SourcingProfile,
    excluded: ReadonlyMap<string, string>,
    inUse: readonly string[],
    pickupAt: string | null,
  ): SourcingPlan {
    const input = order.input;
    const destination =
      input.delivery.type === 'ship'
        ? { lat: input.delivery.address.lat, lon: input.delivery.address.lon }
        : null;
    const zone = input.delivery.type === 'ship' ? (input.delivery.address.zone ?? null) : null;
    if (destination !== null && pickupAt === null && (profile.nearest ?? null) !== null) {
      const near = this.nearestPlan(
        input.channel,
        need,
        destination,
        zone,
        profile,
        excluded,
        inUse,
      );
      if (near !== null) return near;
    }
    // One row per location with stock of a needed SKU: [units of sku 0, sku 1, ...].
    const skus = [...need.keys()];
    const rows = new Map<string, StockRow>();
    for (let i = 0; i < skus.length; i++) {
      const sku = skus[i] as string;
      const add = (location: string, available: number): void => {
        let row = rows.get(location);
        if (row === undefined) {
          row = new StockRow(skus);
          rows.set(location, row);
        }
        row.units[i] = available;
      };
      if (pickupAt === null) {
        this.stock.forEachOffer(input.channel, sku, add);
        continue;
      }
      const a = this.stock.availability(input.channel, sku, pickupAt);
      if (a.ok && a.available > 0) add(pickupAt, a.available);
    }
    const candidates: SourcingLocation[] = [];
    for (const [location, row] of rows) candidates.push(this.candidate(location, row, zone));
    return planSourcing({
      need,
      destination,
      candidates,
      excluded,
      inUse,
      profile,
      explain: EXPLAINED,
    });
  }

  /**
   * A profile's `nearest` pre-filter: the locations with coordinates are ordered by distance, and
   * only the nearest N that hold something of the order (plus those already shipping it) are
   * read and weighed. Null when that plan cannot place the order: the caller weighs every
   * location then, so the filter never makes an order unsourceable.
   */
  private nearestPlan(
    channel: string,
    need: ReadonlyMap<string, number>,
    destination: { readonly lat: number; readonly lon: number },
    zone: string | null,
    profile: SourcingProfile,
    excluded: ReadonlyMap<string, string>,
    inUse: readonly string[],
  ): SourcingPlan | null {
    const limit = profile.nearest ?? 0;
    const places = this.placesWithCoordinates();
    const km = new Float64Array(places.length);
    for (let i = 0; i < places.length; i++) {
      const p = places[i] as Place;
      km[i] = distanceKm(destination, p);
    }
    const order = new Uint32Array(places.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => (km[a] as number) - (km[b] as number));
    const skus = [...need.keys()];
    const reader = this.stock.offerReader(channel, skus);
    const candidates: SourcingLocation[] = [];
    const taken = new Set<string>();
    let row = new StockRow(skus);
    const consider = (id: string): void => {
      if (!reader.at(id, row.units)) return;
      candidates.push(this.candidate(id, row, zone));
      taken.add(id);
      row = new StockRow(skus);
    };
    for (const i of order) {
      if (candidates.length >= limit) break;
      consider((places[i] as Place).id);
    }
    for (const id of inUse) if (!taken.has(id)) consider(id);
    const plan = planSourcing({
      need,
      destination,
      candidates,
      excluded,
      inUse,
      profile,
      explain: EXPLAINED,
    });
    return plan.complete ? plan : null;
  }

  /** Locations with coordinates, cached until the engine's locations change. */
  private placesWithCoordinates(): readonly Place[] {
    if (this.placesVersion !== this.stock.locationsVersion) {
      this.places = [];
      for (const l of this.stock.locationList()) {
        if (l.lat !== undefined && l.lon !== undefined)
          this.places.push({ id: l.id, lat: l.lat, lon: l.lon });
      }
      this.placesVersion = this.stock.locationsVersion;
    }
    return this.places;
  }

  private candidate(
    location: string,
    available: SourcingLocation['available'],
    zone: string | null,
  ): SourcingLocation {
    const s = this.staticOf(location);
    return {
      id: location,
      type: s.type,
      lat: s.lat,
      lon: s.lon,
      priority: s.priority,
      shippingCost: (zone === null ? undefined : s.zoneCosts[zone]) ?? s.shippingCost,
      dailyCapacity: s.dailyCapacity,
      openFulfilments: this.openAt.get(location) ?? 0,
      available,
    };
  }

  /** A location's master data and sourcing config, cached until the engine's locations change. */
  private staticOf(location: string): LocationStatic {
    if (this.staticsVersion !== this.stock.locationsVersion) {
      this.statics.clear();
      this.staticsVersion = this.stock.locationsVersion;
    }
    let s = this.statics.get(location);
    if (s === undefined) {
      const info = this.stock.location(location);
      const cfg = this.sourcingOf.get(location);
      s = {
        type: info?.type ?? '',
        lat: info?.lat ?? null,
        lon: info?.lon ?? null,
        priority: cfg?.priority ?? 0,
        shippingCost: cfg?.shippingCost ?? 0,
        zoneCosts: cfg?.zoneCosts ?? {},
        dailyCapacity: cfg?.dailyCapacity ?? null,
      };
      this.statics.set(location, s);
    }
    return s;
  }

  private profileFor(
    channel: string,
    delivery: 'ship' | 'pickup' | 'reservation',
  ): SourcingProfile {
    for (const s of this.options.selection) {
      if (
        (s.channel === '*' || s.channel === channel) &&
        (s.delivery === '*' || s.delivery === delivery)
      ) {
        const p = this.profiles.get(s.profile);
        if (p !== undefined) return p;
      }
    }
    return this.profiles.get(this.options.defaultProfile) as SourcingProfile;
  }

  /**
   * LocationRanker: a network reservation is held where the channel's profile would source it.
   * A ranking is reused for RANK_TTL_MS per channel and SKU: under a flash sale one SKU is
   * reserved thousands of times a second, and ranking two hundred locations each time would cost
   * more than the reservation. A stale ranking only orders the preference; the split still takes
   * no more than each location has, so it can never oversell.
   */
  rank(
    channel: string,
    sku: string,
    qty: number,
    choices: readonly LocationChoice[],
  ): readonly string[] {
    const key = `${channel}\u0000${sku}`;
    const now = this.clock.now();
    const cached = this.rankings.get(key);
    if (cached !== undefined && now - cached.at < RANK_TTL_MS) return cached.ranking;
    const profile = this.profileFor(channel, 'reservation');
    const plan = planSourcing({
      need: new Map([[sku, qty]]),
      destination: null,
      candidates: choices.map((c) =>
        this.candidate(c.location, new Map([[sku, c.available]]), null),
      ),
      excluded: new Map(),
      inUse: [],
      profile: { ...profile, split: { policy: 'backorder', maxShipments: null } },
      explain: 0,
    });
    if (this.rankings.size >= MAX_RANKINGS) this.rankings.clear();
    this.rankings.set(key, { at: now, ranking: plan.ranking });
    return plan.ranking;
  }

  // ---- deadlines, backorders and retention -----------------------------------------------------

  /** Brings an order's deadlines in line with its requested fulfilments (from start on). */
  private arm(order: Order): void {
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

  /** A fulfilment's deadline passed: if it is still not answered, escalate and re-source. */
  private due(d: Deadline): void {
    this.deadlineOf.delete(d.fulfilmentId);
    const { orderId, fulfilmentId } = d;
    this.mailboxes
      .run(orderId, async () => {
        const order = this.orders.get(orderId);
        const x = order?.fulfilment(fulfilmentId);
        if (order === undefined || x?.status !== 'requested') return;
        this.counts.timeouts++;
        this.log.warn(
          { orderId, fulfilmentId, location: x.location },
          'fulfilment not answered in time; re-sourcing',
        );
        this.record(
          order,
          orderId,
          {
            kind: 'fulfilment',
            fulfilmentId,
            update: 'timed_out',
            picked: null,
            carrier: null,
            tracking: null,
            reason: `no answer by ${new Date(x.dueBy).toISOString()}`,
          },
          [
            {
              stream: `location:${x.location}`,
              type: 'fulfilment.cancelled',
              body: {
                fulfilmentId,
                orderId,
                location: x.location,
                lines: x.lines,
                reason: 'not answered in time',
              },
            },
          ],
        );
        this.counts.resourcings++;
        await this.settle(order);
        await this.flush();
      })
      .catch((error: unknown) => {
        this.log.error(
          { err: error, orderId, fulfilmentId },
          'timeout handling failed; retried by the sweep',
        );
        this.backlog.add(orderId);
      });
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

  /** Retries backordered and interrupted orders; drops completed ones past retention. */
  private sweep(): void {
    for (const orderId of [...this.backlog]) void this.resume(orderId);
    const cutoff = this.clock.now() - this.options.retainCompletedMs;
    while (this.completedHead < this.completed.length) {
      const orderId = this.completed[this.completedHead] as string;
      const order = this.orders.get(orderId);
      if (order?.completedAt != null && order.completedAt > cutoff) break;
      this.completedHead++;
      this.purgeQueued.delete(orderId);
      if (order === undefined || !order.terminal) continue;
      if (order.outbox.length > 0) {
        // Still sending its last messages: look again at the next sweep.
        this.purgeQueued.add(orderId);
        this.completed.push(orderId);
        continue;
      }
      void this.mailboxes
        .run(orderId, async () => {
          const o = this.orders.get(orderId);
          if (o === undefined || !o.terminal) return;
          this.record(o, orderId, { kind: 'purged' });
          await this.durable();
        })
        .catch(() => undefined);
    }
    if (this.completedHead > 1024 && this.completedHead * 2 > this.completed.length) {
      this.completed.splice(0, this.completedHead);
      this.completedHead = 0;
    }
  }

  private resume(orderId: string): Promise<void> {
    return this.mailboxes
      .run(orderId, async () => {
        const order = this.orders.get(orderId);
        if (order === undefined || (order.terminal && !order.pending)) return;
        await this.settle(order);
        await this.flush();
      })
      .catch((error: unknown) => {
        this.log.warn(
          { err: error, orderId },
          'order could not be settled yet; retried by the sweep',
        );
      });
  }

  // ---- events ----------------------------------------------------------------------------------------

  /**
   * Applies an event to the order in memory and journals it; a failed write takes it back.
   * Messages go out only after `flush` saw the write durable.
   */
  private record(
    order: Order | null,
    orderId: string,
    change: NewEvent,
    messages: readonly Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>[] = [],
  ): Order {
    const at = this.clock.now();
    const base = order?.messageCount ?? 0;
    const event = {
      ...change,
      orderId,
      version: (order?.version ?? 0) + 1,
      at,
      messages: messages.map((m, i) => ({
        ...m,
        messageId: `${orderId}:m${base + i + 1}`,
        orderId,
        createdAt: at,
      })),
    } as OrderEvent;
    let target: Order;
    let revert: () => void;
    if (order === null) {
      target = Order.received(event as Extract<OrderEvent, { kind: 'received' }>);
      this.index(target, []);
      revert = () => {
        this.unindex(target);
      };
    } else {
      target = order;
      const cp = order.checkpoint();
      const before = order.fulfilments;
      order.apply(event);
      this.index(order, before);
      revert = () => {
        const after = order.fulfilments;
        order.restore(cp);
        this.index(order, after);
      };
    }
    const undo = (): void => {
      revert();
      // A message of an event taken back never goes out.
      if (event.messages.length > 0) {
        const gone = new Set(event.messages.map((m) => m.messageId));
        this.unsent = this.unsent.filter((m) => !gone.has(m.messageId));
      }
    };
    try {
      target.lsn = this.journal.record({ event }, undo) || target.lsn;
    } catch (error) {
      revert();
      throw error;
    }
    if (event.kind === 'purged') this.unindex(target);
    for (const m of event.messages) this.unsent.push(m);
    return target;
  }

  /** Everything recorded so far is durable; a failed write is UNAVAILABLE (retry), as for commands. */
  private async durable(): Promise<void> {
    try {
      await this.stock.durable();
    } catch (error) {
      throw new StockflowError(ErrorCode.UNAVAILABLE, 'the journal is unavailable; retry', {
        reason: Reason.STORE_UNAVAILABLE,
        cause: error,
      });
    }
  }

  /** Waits until this step's events are durable, then hands their messages to the outbox. */
  private async flush(): Promise<void> {
    await this.durable();
    const out = this.unsent;
    this.unsent = [];
    for (const m of out) this.dispatcher.enqueue(m);
  }

  private customer(
    out: Omit<OutboxMessage, 'messageId' | 'orderId' | 'createdAt'>[],
    order: Order,
    type: string,
    body: Record<string, unknown>,
  ): void {
    if (!this.options.notifyCustomers) return;
    out.push({
      stream: 'customer',
      type,
      body: {
        orderId: order.orderId,
        customer: order.input.customer,
        channel: order.input.channel,
        ...body,
      },
    });
  }

  private ack(message: OutboxMessage, deadLetter: DeliveryOutcome | null): void {
    let entry = this.acks.get(message.orderId);
    if (entry === undefined) {
      entry = { ids: [], dead: [] };
      this.acks.set(message.orderId, entry);
    }
    if (deadLetter === null) entry.ids.push(message.messageId);
    else entry.dead.push([message.messageId, deadLetter.ok ? 'delivered' : deadLetter.error]);
    if (this.acksScheduled) return;
    this.acksScheduled = true;
    setImmediate(this.flushAcks);
  }

  /**
   * Acknowledgements of one turn, of every order, as one journal record: they change no order's
   * lifecycle, so they need no step in its mailbox. If the write fails they are taken back, and
   * the messages are sent again after a restart (at-least-once).
   */
  private readonly flushAcks = (): void => {
    this.acksScheduled = false;
    const acks: OrderAck[] = [];
    const undo: (() => void)[] = [];
    for (const [orderId, { ids, dead }] of this.acks) {
      const order = this.orders.get(orderId);
      if (order === undefined) continue;
      const done = new Set(ids);
      for (const [id] of dead) done.add(id);
      const removed = order.outbox.filter((m) => done.has(m.messageId));
      order.acknowledge(ids, dead);
      acks.push({ orderId, delivered: ids, deadLettered: dead });
      undo.push(() => {
        order.unacknowledge(removed, dead.length);
      });
    }
    this.acks.clear();
    if (acks.length === 0) return;
    try {
      this.journal.record({ acks }, () => {
        for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      });
    } catch (error) {
      for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      this.log.warn({ err: error }, 'delivery acknowledgements not journaled');
    }
  };

  // ---- indexes ------------------------------------------------------------------------------------

  private index(order: Order, before: readonly Fulfilment[]): void {
    this.orders.set(order.orderId, order);
    const key = order.idempotencyKey;
    if (key !== null) this.byKey.set(`${order.input.channel}\u0000${key}`, order.orderId);
    for (const x of before) if (isActive(x.status)) this.bump(x.location, -1);
    for (const x of order.fulfilments) {
      this.byFulfilment.set(x.fulfilmentId, order.orderId);
      if (isActive(x.status)) this.bump(x.location, 1);
    }
    if (order.backorderedUnits() > 0 || order.pending) this.backlog.add(order.orderId);
    else this.backlog.delete(order.orderId);
    if (order.terminal && order.completedAt !== null && !this.purgeQueued.has(order.orderId)) {
      this.purgeQueued.add(order.orderId);
      this.completed.push(order.orderId);
    }
    this.arm(order);
  }

  private unindex(order: Order): void {
    this.orders.delete(order.orderId);
    const key = order.idempotencyKey;
    if (key !== null) this.byKey.delete(`${order.input.channel}\u0000${key}`);
    for (const x of order.fulfilments) {
      this.byFulfilment.delete(x.fulfilmentId);
      if (isActive(x.status)) this.bump(x.location, -1);
      const d = this.deadlineOf.get(x.fulfilmentId);
      if (d !== undefined) {
        this.deadlines.remove(d);
        this.deadlineOf.delete(x.fulfilmentId);
      }
    }
    this.backlog.delete(order.orderId);
    this.purgeQueued.delete(order.orderId);
    this.dispatcher.forget(order.orderId);
  }

  private bump(location: string, by: number): void {
    const n = (this.openAt.get(location) ?? 0) + by;
    if (n <= 0) this.openAt.delete(location);
    else this.openAt.set(location, n);
  }

  // ---- JournalExtension -------------------------------------------------------------------------

  replay(record: OrderRecord, seq: number): boolean {
    return 'event' in record
      ? this.replayEvent(record.event, seq)
      : this.replayAcks(record.acks, seq);
  }

  private replayEvent(event: OrderEvent, seq: number): boolean {
    let order = this.orders.get(event.orderId);
    if (order === undefined) {
      if (event.kind !== 'received') return false;
      order = Order.received(event);
      order.lsn = seq;
      this.index(order, []);
    } else {
      if (seq <= order.lsn || event.version !== order.version + 1) return false;
      const before = order.fulfilments;
      order.apply(event);
      order.lsn = seq;
      if (event.kind === 'purged') this.unindex(order);
      else this.index(order, before);
    }
    if (this.started) for (const m of event.messages) this.dispatcher.enqueue(m);
    return true;
  }

  private replayAcks(acks: readonly OrderAck[], seq: number): boolean {
    let applied = false;
    for (const a of acks) {
      const order = this.orders.get(a.orderId);
      if (order === undefined || seq <= order.lsn) continue;
      order.acknowledge(a.delivered, a.deadLettered);
      order.lsn = seq;
      applied = true;
    }
    return applied;
  }

  *snapshotItems(): Iterator<OrderSnapshot> {
    for (const order of this.orders.values()) yield order.snapshot();
  }

  importItem(item: OrderSnapshot): void {
    this.index(Order.fromSnapshot(item), []);
  }

  clear(): void {
    for (const order of [...this.orders.values()]) this.unindex(order);
  }
}

/** What a fresh order without reservations holds: nothing (no engine read needed). */
const NOTHING_HELD: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();

/** How long a network reservation's location ranking is reused (see `rank`). */
const RANK_TTL_MS = 250;
const MAX_RANKINGS = 100_000;

/** Candidates that lost, and skipped ones, an order keeps per sourcing decision. */
const EXPLAINED = 3;

function sameBackorder(order: Order, unplaced: ReadonlyMap<string, number>): boolean {
  const now = order.backordered;
  if (now.length !== unplaced.size) return false;
  return now.every(([sku, qty]) => unplaced.get(sku) === qty);
}

function withOrder(error: ErrorResult, order: OrderView | null): OrderError {
  return { ...error, order };
}

function unknownOrder(orderId: string): OrderError {
  return withOrder(
    fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_ORDER, `unknown order ${orderId}`),
    null,
  );
}
