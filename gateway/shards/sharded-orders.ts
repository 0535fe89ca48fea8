import { ErrorCode, fail, Reason, StockflowError } from '../../engine/index.ts';
import type {
  CancelRequest,
  FulfilmentAnswer,
  HeldUnits,
  OrderResult,
  OrderService,
  OrderStats,
  OrderStatus,
  OrderView,
  OutboxMessage,
  Reconciliation,
  ReconciliationRow,
  ReturnOfOrder,
} from '../../orders/index.ts';
import { isExchangeOrderId, parseOrder, withOrder } from '../../orders/index.ts';
import type { Answer, OrderApi } from '../order-api.ts';
import { shardOf } from './layout.ts';
import type { ShardRouter } from './shard-router.ts';

/**
 * Orders on worker threads (docs/scaling.md, "Orders on workers"): every worker runs an order
 * service for the orders whose id hashes to its shard (`orderShardOf`), with their events in its
 * shard's journal. A worker's routes and WebSocket ops reach the service that owns the order
 * through ShardedOrders: its own at once, another's over the workers' links. What names no
 * order (a return id; an exchange order's derived id) is asked of every shard, and the one that
 * knows it answers; lists and sums are gathered from every shard. The calls another worker may
 * make are a fixed table: nothing else of a service is reachable.
 */

const CALL = 'orders.call';
const WAKE = 'orders.wake';
const CLAIM = 'orders.claimKey';
const UNCLAIM = 'orders.unclaimKey';

type Args = readonly unknown[];

/** The calls another worker may make, by name: the service's own methods, arguments as sent. */
const CALLS = {
  place: (o: OrderService, a: Args) => o.place(a[0], a[1] as string | null, a[2] as string | null),
  cancel: (o: OrderService, a: Args) =>
    o.cancel(a[0] as string, a[1] as CancelRequest, a[2] as string | null),
  fulfilmentAnswer: (o: OrderService, a: Args) =>
    o.fulfilmentAnswer(a[0] as string, a[1] as FulfilmentAnswer, a[2] as string | null),
  requestReturn: (o: OrderService, a: Args) =>
    o.requestReturn(a[0] as string, a[1], a[2] as string | null),
  receiveReturn: (o: OrderService, a: Args) =>
    o.receiveReturn(a[0] as string, a[1], a[2] as string | null),
  resolveReturnHold: (o: OrderService, a: Args) =>
    o.resolveReturnHold(a[0] as string, a[1], a[2] as string | null),
  refundReturn: (o: OrderService, a: Args) =>
    o.refundReturn(a[0] as string, a[1], a[2] as string | null),
  get: (o: OrderService, a: Args) => o.get(a[0] as string),
  keyOwner: (o: OrderService, a: Args) => o.keyOwner(a[0] as string, a[1] as string),
  recent: (o: OrderService, a: Args) => o.recent(a[0] as number),
  orderOfFulfilment: (o: OrderService, a: Args) => o.orderOfFulfilment(a[0] as string),
  pendingFor: (o: OrderService, a: Args) => o.pendingFor(a[0] as string),
  getReturn: (o: OrderService, a: Args) => o.getReturn(a[0] as string),
  heldAt: (o: OrderService, a: Args) => o.heldAt(a[0] as string),
  reconciliation: (o: OrderService, a: Args) =>
    o.reconciliation(a[0] as string, a[1] as string | null),
  // A Map does not cross as one: its entries do.
  stats: (o: OrderService) => {
    const s = o.stats();
    return { ...s, byStatus: [...s.byStatus] };
  },
} as const;

type CallName = keyof typeof CALLS;
/** The calls that change an order and answer an OrderResult. */
type WriteCall =
  | 'cancel'
  | 'fulfilmentAnswer'
  | 'requestReturn'
  | 'receiveReturn'
  | 'resolveReturnHold'
  | 'refundReturn';
type Value<N extends CallName> = Awaited<ReturnType<(typeof CALLS)[N]>>;

/** An answer across the link: [0, value], [1, code, message, reason] for a StockflowError. */
type Outcome =
  readonly [0, unknown] | readonly [1, ErrorCode, string, Reason | null] | readonly [2, string];

/**
 * The shard of the order service that owns an order id: its hash, like a SKU's. Null for an
 * exchange order's derived id (it lives with the order it exchanges, whose id it may only hold as
 * a digest): such an id is asked of every shard.
 */
export function orderShardOf(orderId: string, count: number): number | null {
  return isExchangeOrderId(orderId) ? null : shardOf(orderId, count);
}

/** The shard of a fulfilment's order (`<orderId>-F<n>`), or null: ask every shard. */
export function fulfilmentShardOf(fulfilmentId: string, count: number): number | null {
  const m = /^(.+)-F\d+$/.exec(fulfilmentId);
  return m === null ? null : orderShardOf(m[1] as string, count);
}

function claimKey(channel: string, key: string): string {
  return `${channel}\u0000${key}`;
}

/** A failed call, as it crosses the link. */
function outcomeOf(error: unknown): Outcome {
  return error instanceof StockflowError
    ? [1, error.code, error.message, error.reason ?? null]
    : [2, error instanceof Error ? error.message : String(error)];
}

/** Whether an answer says the shard does not know what was named (another may). */
function missing(result: OrderResult): boolean {
  return !result.ok && result.code === ErrorCode.NOT_FOUND;
}

/** Newest first, as `recent` lists them. */
function newestFirst(a: OrderView, b: OrderView): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0;
}

/** A key's placement in flight: its order, and how many placements of that order hold it. */
interface Claim {
  readonly orderId: string;
  holders: number;
}

/**
 * The order services of every shard, as one: this worker's own, the others' over the links.
 * Creating it serves this worker's service to the others.
 *
 * An Idempotency-Key names one order whatever shard its id hashes to: a placement with a key
 * first claims the key on the key's own shard, which refuses a claim for another order while one
 * is in flight and asks every shard whether the key placed an order already; the placement goes
 * ahead only under the claim, which it gives back when answered. Claims live in memory only:
 * what a crash loses, the journals hold (every shard's index knows its orders' keys).
 */
export class ShardedOrders implements OrderApi {
  private readonly pending = new Set<Promise<unknown>>();
  /** Keys of this shard with a placement in flight, by channel and key. */
  private readonly claims = new Map<string, Claim>();

  constructor(
    private readonly local: OrderService,
    private readonly router: ShardRouter,
  ) {
    router.handle(CALL, (_peer, payload, reply) => {
      if (reply === null) return;
      const [name, args] = payload as [string, Args];
      const call = Object.hasOwn(CALLS, name) ? CALLS[name as CallName] : undefined;
      if (call === undefined) {
        reply([2, `no order call ${name}`] satisfies Outcome);
        return;
      }
      Promise.resolve()
        .then((): unknown => call(local, args))
        .then(
          (value) => {
            reply([0, value] satisfies Outcome);
          },
          (error: unknown) => {
            reply(outcomeOf(error));
          },
        );
    });
    router.handle(WAKE, (_peer, payload) => {
      local.wake(payload as string);
    });
    router.handle(CLAIM, (_peer, payload, reply) => {
      const [channel, key, orderId] = payload as [string, string, string];
      this.claim(channel, key, orderId).then(
        (owner) => reply?.(owner),
        () => reply?.(null),
      );
    });
    router.handle(UNCLAIM, (_peer, payload) => {
      const [channel, key, orderId] = payload as [string, string, string];
      this.unclaim(channel, key, orderId);
    });
  }

  async place(
    body: unknown,
    idempotencyKey: string | null,
    channel: string | null,
  ): Promise<OrderResult> {
    const fields =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const id = fields.orderId;
    const bodyChannel = fields.channel;
    // Without a usable id the placement is refused by whichever service reads it: this one.
    const shard = typeof id === 'string' ? orderShardOf(id, this.router.count) : null;
    const args = [body, idempotencyKey, channel];
    if (
      idempotencyKey === null ||
      shard === null ||
      typeof id !== 'string' ||
      typeof bodyChannel !== 'string'
    ) {
      return this.one(shard ?? this.router.shard, 'place', args);
    }
    const keyShard = shardOf(claimKey(bodyChannel, idempotencyKey), this.router.count);
    const claim = [bodyChannel, idempotencyKey, id] as const;
    const owner =
      keyShard === this.router.shard
        ? await this.claim(...claim)
        : await this.router.ask<string | null>(keyShard, CLAIM, claim);
    if (owner !== null) {
      // Refused as the service refuses: a body it would refuse first is answered by it.
      const input = parseOrder(body);
      if (!('orderId' in input) || (channel !== null && input.channel !== channel)) {
        return this.one(shard, 'place', args);
      }
      return withOrder(
        fail(ErrorCode.CONFLICT, Reason.ID_REUSED, `Idempotency-Key was used for order ${owner}`),
        null,
      );
    }
    try {
      return await this.one(shard, 'place', args);
    } finally {
      if (keyShard === this.router.shard) this.unclaim(...claim);
      else this.router.tell(keyShard, UNCLAIM, claim);
    }
  }

  /**
   * On the key's shard: claims a key for an order. Answers the other order the key is claimed
   * for or placed already (nothing is claimed then), or null: claimed, until `unclaim`.
   */
  private async claim(channel: string, key: string, orderId: string): Promise<string | null> {
    const k = claimKey(channel, key);
    const held = this.claims.get(k);
    if (held !== undefined && held.orderId !== orderId) return held.orderId;
    if (held === undefined) this.claims.set(k, { orderId, holders: 1 });
    else held.holders++;
    let owners: (string | null)[];
    try {
      owners = await this.all('keyOwner', [channel, key]);
    } catch (error) {
      this.unclaim(channel, key, orderId);
      throw error;
    }
    const other = owners.find((o) => o !== null && o !== orderId) ?? null;
    if (other !== null) this.unclaim(channel, key, orderId);
    return other;
  }

  private unclaim(channel: string, key: string, orderId: string): void {
    const k = claimKey(channel, key);
    const held = this.claims.get(k);
    if (held === undefined || held.orderId !== orderId) return;
    if (--held.holders === 0) this.claims.delete(k);
  }

  cancel(orderId: string, request: CancelRequest, channel: string | null): Promise<OrderResult> {
    return this.byOrder(orderShardOf(orderId, this.router.count), 'cancel', [
      orderId,
      request,
      channel,
    ]);
  }

  fulfilmentAnswer(
    fulfilmentId: string,
    answer: FulfilmentAnswer,
    location: string | null,
  ): Promise<OrderResult> {
    return this.byOrder(fulfilmentShardOf(fulfilmentId, this.router.count), 'fulfilmentAnswer', [
      fulfilmentId,
      answer,
      location,
    ]);
  }

  requestReturn(orderId: string, body: unknown, channel: string | null): Promise<OrderResult> {
    return this.byOrder(orderShardOf(orderId, this.router.count), 'requestReturn', [
      orderId,
      body,
      channel,
    ]);
  }

  receiveReturn(returnId: string, body: unknown, location: string | null): Promise<OrderResult> {
    return this.byOrder(null, 'receiveReturn', [returnId, body, location]);
  }

  resolveReturnHold(
    returnId: string,
    body: unknown,
    location: string | null,
  ): Promise<OrderResult> {
    return this.byOrder(null, 'resolveReturnHold', [returnId, body, location]);
  }

  refundReturn(returnId: string, body: unknown, channel: string | null): Promise<OrderResult> {
    return this.byOrder(null, 'refundReturn', [returnId, body, channel]);
  }

  get(orderId: string): Answer<OrderView | null> {
    const shard = orderShardOf(orderId, this.router.count);
    return shard === null ? this.found('get', [orderId]) : this.one(shard, 'get', [orderId]);
  }

  recent(limit: number): Answer<OrderView[]> {
    return this.all('recent', [limit]).then((lists) =>
      lists.flat().sort(newestFirst).slice(0, limit),
    );
  }

  orderOfFulfilment(fulfilmentId: string): Answer<string | null> {
    const shard = fulfilmentShardOf(fulfilmentId, this.router.count);
    return shard === null
      ? this.found('orderOfFulfilment', [fulfilmentId])
      : this.one(shard, 'orderOfFulfilment', [fulfilmentId]);
  }

  pendingFor(stream: string): Answer<OutboxMessage[]> {
    return this.all('pendingFor', [stream]).then((lists) =>
      lists.flat().sort((a, b) => a.createdAt - b.createdAt),
    );
  }

  getReturn(returnId: string): Answer<ReturnOfOrder | null> {
    return this.found('getReturn', [returnId]);
  }

  heldAt(location: string): Answer<HeldUnits> {
    return this.all('heldAt', [location]).then((parts) => {
      const bySku = new Map<string, { sku: string; returnToVendor: number; refurbish: number }>();
      for (const part of parts) {
        for (const row of part.skus) {
          const sum = bySku.get(row.sku) ?? { sku: row.sku, returnToVendor: 0, refurbish: 0 };
          sum.returnToVendor += row.returnToVendor;
          sum.refurbish += row.refurbish;
          bySku.set(row.sku, sum);
        }
      }
      const skus = [...bySku.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
      return { location, skus, returns: parts.flatMap((p) => p.returns) };
    });
  }

  reconciliation(day: string, location: string | null): Answer<Reconciliation> {
    return this.all('reconciliation', [day, location]).then((parts) => {
      const rows = new Map<string, Mutable<ReconciliationRow>>();
      for (const part of parts) {
        for (const r of part.rows) {
          const key = `${r.location}\u0000${r.currency}`;
          const sum = rows.get(key);
          if (sum === undefined) {
            rows.set(key, { ...r });
            continue;
          }
          sum.unitsShipped += r.unitsShipped;
          sum.unitsReturned += r.unitsReturned;
          sum.unitsRestocked += r.unitsRestocked;
          sum.amountInvoiced += r.amountInvoiced;
          sum.amountCredited += r.amountCredited;
        }
      }
      const sorted = [...rows.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, row]) => row);
      return { day, location, rows: sorted };
    });
  }

  stats(): Answer<OrderStats> {
    return this.all('stats', []).then((parts) => {
      const byStatus = new Map<OrderStatus, number>();
      for (const part of parts) {
        for (const [status, n] of part.byStatus)
          byStatus.set(status, (byStatus.get(status) ?? 0) + n);
      }
      const sum = parts.reduce((total, part) => addNumbers(total, part));
      return { ...sum, byStatus };
    });
  }

  wake(stream: string): void {
    this.local.wake(stream);
    this.router.tellPeers(WAKE, stream);
  }

  /** Resolves when this worker's service and every call it forwarded have settled. */
  async settled(): Promise<void> {
    await this.local.settled();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** One shard's answer: this worker's service at once, another's over the link. */
  private one<N extends CallName>(shard: number, name: N, args: Args): Promise<Value<N>> {
    if (shard === this.router.shard) {
      return Promise.resolve(CALLS[name](this.local, args) as Value<N> | Promise<Value<N>>);
    }
    const asked = this.router.ask<Outcome>(shard, CALL, [name, args]).then((o) => {
      if (o[0] === 0) return o[1] as Value<N>;
      if (o[0] === 1) throw new StockflowError(o[1], o[2], o[3] === null ? {} : { reason: o[3] });
      throw new Error(`the order service of shard ${shard} failed: ${o[1]}`);
    });
    this.pending.add(asked);
    const done = (): void => {
      this.pending.delete(asked);
    };
    asked.then(done, done);
    return asked;
  }

  /** Every shard's answer, in shard order. */
  private all<N extends CallName>(name: N, args: Args): Promise<Value<N>[]> {
    return Promise.all(
      Array.from({ length: this.router.count }, (_, k) => this.one(k, name, args)),
    );
  }

  /** The owner's answer; with no owner known, the one shard's that knows it (or not found). */
  private byOrder(shard: number | null, name: WriteCall, args: Args): Promise<OrderResult> {
    if (shard !== null) return this.one(shard, name, args);
    return this.all(name, args).then(
      (list) => list.find((r) => !missing(r)) ?? (list[this.router.shard] as OrderResult),
    );
  }

  /** A read of something no id places: the first shard's answer that found it, or null. */
  private found<N extends 'get' | 'orderOfFulfilment' | 'getReturn'>(
    name: N,
    args: Args,
  ): Promise<Value<N>> {
    return this.all(name, args).then(
      (answers) => (answers.find((a) => a !== null) ?? null) as Value<N>,
    );
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** Adds two records key by key: their numbers, and the numbers of records within them. */
function addNumbers<T extends object>(a: T, b: T): T {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [key, value] of Object.entries(b)) {
    const mine = out[key];
    if (typeof value === 'number' && typeof mine === 'number') out[key] = mine + value;
    else if (isRecord(value) && isRecord(mine)) out[key] = addNumbers(mine, value);
  }
  return out as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
