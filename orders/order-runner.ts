import type { Logger } from 'pino';
import {
  ErrorCode,
  Reason,
  StockflowError,
  type Clock,
  type Command,
  type ExtensionJournal,
  type StockPort,
} from '../engine/index.ts';
import { decideAnswer, type AnswerCommand } from './decide-answer.ts';
import { decideCancel, type CancelCommand } from './decide-cancel.ts';
import { decidePlace, type PlaceCommand, type PlaceContext } from './decide-place.ts';
import { decideTimeout } from './decide-timeout.ts';
import type {
  DecideContext,
  Decided,
  Decision,
  MessageDraft,
  NewEvent,
  OrderCounts,
} from './decision.ts';
import type { OrderAck, OrderEvent, OrderRecord } from './order-events.ts';
import type { OrderIndex } from './order-index.ts';
import { OrderMailboxes } from './order-mailbox.ts';
import { applied, placed, withOrder, type OrderResult } from './order-result.ts';
import { Order } from './order-state.ts';
import type { DeliveryOutcome, OutboxDispatcher, OutboxMessage } from './outbox-dispatcher.ts';
import { draftSettlement } from './settlement.ts';

export interface RunnerParts {
  readonly stock: StockPort;
  readonly journal: ExtensionJournal<OrderRecord>;
  readonly index: OrderIndex;
  readonly dispatcher: OutboxDispatcher;
  readonly clock: Clock;
  readonly log: Logger;
  readonly counts: OrderCounts;
  readonly context: DecideContext & PlaceContext;
  /** Brings an order's stock in line with what it needs and records that (reconcile.ts). */
  readonly reconcile: (order: Order, fresh: boolean) => Promise<void>;
}

/**
 * The order actor's runtime. It owns the mailboxes (one per busy order, see order-mailbox.ts): a
 * command's decision is taken inside its order's turn, then performed there: stock commands,
 * then the event (applied in memory and journaled with an undo, so a failed write takes it back),
 * then reconciliation; the step's messages go to the outbox once its write is durable (`flush`).
 * Receivers' acknowledgements of many orders are journaled together, once per turn.
 */
export class OrderRunner {
  private readonly stock: StockPort;
  private readonly journal: ExtensionJournal<OrderRecord>;
  private readonly index: OrderIndex;
  private readonly dispatcher: OutboxDispatcher;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly counts: OrderCounts;
  private readonly context: DecideContext & PlaceContext;
  private readonly reconcile: (order: Order, fresh: boolean) => Promise<void>;
  private readonly mailboxes = new OrderMailboxes();
  /** Messages of recorded events, handed to the outbox once their write is durable. */
  private unsent: OutboxMessage[] = [];
  private readonly acks = new Map<string, { ids: string[]; dead: [string, string][] }>();
  private acksScheduled = false;

  constructor(parts: RunnerParts) {
    this.stock = parts.stock;
    this.journal = parts.journal;
    this.index = parts.index;
    this.dispatcher = parts.dispatcher;
    this.clock = parts.clock;
    this.log = parts.log;
    this.counts = parts.counts;
    this.context = parts.context;
    this.reconcile = parts.reconcile;
  }

  // ---- commands --------------------------------------------------------------------------------

  place(command: PlaceCommand): Promise<OrderResult> {
    const orderId = command.input.orderId;
    return this.mailboxes.run(orderId, async () => {
      const existing = this.index.get(orderId) ?? null;
      const d = decidePlace(existing, command, this.context);
      if (!d.ok) return refused(d, existing);
      if (d.duplicate && existing !== null) {
        await this.durable();
        return placed(existing, false);
      }
      return placed(await this.perform(null, orderId, d), true);
    });
  }

  cancel(command: CancelCommand): Promise<OrderResult> {
    const orderId = command.orderId;
    return this.mailboxes.run(orderId, () => {
      const order = this.index.get(orderId) ?? null;
      return this.step(order, orderId, decideCancel(order, command, this.context));
    });
  }

  answer(orderId: string, command: AnswerCommand): Promise<OrderResult> {
    return this.mailboxes.run(orderId, () => {
      const order = this.index.get(orderId) ?? null;
      return this.step(order, orderId, decideAnswer(order, command, this.context));
    });
  }

  /**
   * A command decided inside the order's turn by `decide` (the return decisions): performed like
   * the others, and answered with the order as it stands.
   */
  run(orderId: string, decide: (order: Order | null) => Decided): Promise<OrderResult> {
    return this.mailboxes.run(orderId, () => {
      const order = this.index.get(orderId) ?? null;
      return this.step(order, orderId, decide(order));
    });
  }

  /** A fulfilment's deadline passed: if it is still not answered, escalate and re-source. */
  timeout(orderId: string, fulfilmentId: string): void {
    this.mailboxes
      .run(orderId, async () => {
        const order = this.index.get(orderId) ?? null;
        const d = decideTimeout(order, { fulfilmentId });
        if (order === null || d === null) return;
        this.log.warn(
          { orderId, fulfilmentId, location: order.fulfilment(fulfilmentId)?.location },
          'fulfilment not answered in time; re-sourcing',
        );
        await this.perform(order, orderId, d);
      })
      .catch((error: unknown) => {
        this.log.error(
          { err: error, orderId, fulfilmentId },
          'timeout handling failed; retried by the sweep',
        );
        this.index.backlog.add(orderId);
      });
  }

  /** Sources what a backordered or interrupted order still needs. */
  resume(orderId: string): Promise<void> {
    return this.mailboxes
      .run(orderId, async () => {
        const order = this.index.get(orderId);
        if (order === undefined || (order.terminal && !order.pending)) return;
        await this.reconcile(order, false);
        await this.flush();
      })
      .catch((error: unknown) => {
        this.log.warn(
          { err: error, orderId },
          'order could not be settled yet; retried by the sweep',
        );
      });
  }

  /** Drops a completed order past its retention. */
  purge(orderId: string): void {
    void this.mailboxes
      .run(orderId, async () => {
        const order = this.index.get(orderId);
        if (order === undefined || !order.terminal) return;
        this.record(order, orderId, { kind: 'purged' });
        await this.durable();
      })
      .catch(() => undefined);
  }

  /** Orders with a step running or queued. */
  get active(): number {
    return this.mailboxes.active;
  }

  /** Resolves when no order step is running or queued. */
  idle(): Promise<void> {
    return this.mailboxes.idle();
  }

  // ---- performing a decision -------------------------------------------------------------------

  private async step(order: Order | null, orderId: string, d: Decided): Promise<OrderResult> {
    if (!d.ok || order === null) return refused(d, order);
    if (d.duplicate) {
      await this.durable();
      return applied(order, true);
    }
    await this.perform(order, orderId, d);
    return applied(order, false);
  }

  /**
   * Stock first, then the event: a crash in between leaves the command unacknowledged, so its
   * sender repeats it and the engine answers the repeated stock commands as duplicates.
   */
  private async perform(order: Order | null, orderId: string, d: Decision): Promise<Order> {
    if (d.stock.length > 0) await this.execute(d.stock);
    const target = this.record(order, orderId, d.event as NewEvent, d.messages);
    if (d.count !== null) this.counts[d.count]++;
    if (
      d.reconcile === 'fresh' ||
      d.reconcile === 'always' ||
      (d.reconcile === 'ifPending' && target.pending)
    ) {
      if (d.resourcing) this.counts.resourcings++;
      await this.reconcile(target, d.reconcile === 'fresh');
    }
    await this.flush();
    return target;
  }

  /** Runs stock commands together; a journal outage fails the step (it is resumed later). */
  async execute(commands: readonly Command[]): Promise<void> {
    const results = await Promise.all(commands.map((c) => this.stock.execute(c)));
    for (const r of results) {
      if (r.ok) continue;
      if (r.code === ErrorCode.UNAVAILABLE || r.code === ErrorCode.BUSY) {
        throw new StockflowError(r.code, r.message, r.reason === null ? {} : { reason: r.reason });
      }
      this.log.error({ code: r.code, message: r.message }, 'order stock command refused');
    }
  }

  /**
   * Applies an event to the order in memory and journals it; a failed write takes it back.
   * Messages go out only after `flush` saw the write durable. The ERP's settlement messages are
   * drafted here, for every event whichever decision or reconciliation made it, so none is missed
   * (settlement.ts); like every message they travel inside the event.
   */
  record(
    order: Order | null,
    orderId: string,
    change: NewEvent,
    decided: readonly MessageDraft[] = [],
  ): Order {
    const at = this.clock.now();
    const settlement = draftSettlement(order, change, at, this.context.settlementStreams);
    const messages = settlement.length === 0 ? decided : [...decided, ...settlement];
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
      this.index.add(target, []);
      revert = () => {
        this.index.remove(target);
      };
    } else {
      target = order;
      const cp = order.checkpoint();
      const before = order.fulfilments;
      order.apply(event);
      this.index.add(order, before);
      revert = () => {
        const after = order.fulfilments;
        order.restore(cp);
        this.index.add(order, after);
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
    if (event.kind === 'purged') this.index.remove(target);
    for (const m of event.messages) this.unsent.push(m);
    return target;
  }

  /** Everything recorded so far is durable; a failed write is UNAVAILABLE (retry), as for commands. */
  async durable(): Promise<void> {
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

  // ---- acknowledgements --------------------------------------------------------------------------

  /** A message was delivered (`deadLetter` null) or given up. */
  ack(message: OutboxMessage, deadLetter: DeliveryOutcome | null): void {
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
      const order = this.index.get(orderId);
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
}

/** A refused command's answer: with the order as it stands, when the caller may see it. */
function refused(d: Decided, order: Order | null): OrderResult {
  if (d.ok) throw new Error('a decision without its order');
  return withOrder(d.error, d.withOrder && order !== null ? order.view() : null);
}
