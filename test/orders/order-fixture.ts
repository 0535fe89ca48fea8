import { ManualClock, StockEngine, type JournalWriter } from '../../engine/index.ts';
import {
  OrderService,
  type DeliveryOutcome,
  type OrderOk,
  type OrderResult,
  type OrderServiceOptions,
  type OutboxMessage,
  type OutboxTransport,
  type SourcingProfile,
} from '../../orders/index.ts';
import { fingerprintOf, parseOrder, type OrderInput } from '../../orders/order-input.ts';
import { Order } from '../../orders/order-state.ts';

/** Paris, Lyon and a DC near Orléans: distance decides unless a test says otherwise. */
export const LOCATIONS = [
  { id: 'paris', type: 'store', lat: 48.8566, lon: 2.3522 },
  { id: 'lyon', type: 'store', lat: 45.764, lon: 4.8357 },
  { id: 'dc', type: 'dc', lat: 47.9029, lon: 1.9093 },
];

export const NEAR_PARIS = { lat: 48.86, lon: 2.35 };
export const NEAR_LYON = { lat: 45.76, lon: 4.84 };

export const BY_DISTANCE: SourcingProfile = {
  name: 'nearest',
  criteria: [{ criterion: 'distance', weight: 1 }],
  typePreference: [],
  capacity: 'penalise',
  split: { policy: 'maxShipments', max: 2 },
  maxDistanceKm: null,
};

/**
 * A harness whose one profile ranks locations by priority from the orders config: Lyon (10)
 * before Paris (1). `profile` adjusts that profile; `lyonDailyCapacity` is Lyon's daily capacity
 * in the orders config (Paris has none).
 */
export function lyonFirstHarness(
  profile: Partial<SourcingProfile> = {},
  lyonDailyCapacity: number | null = null,
): OrderHarness {
  return orderHarness({
    profiles: [
      {
        ...BY_DISTANCE,
        name: 'lyon-first',
        criteria: [{ criterion: 'priority', weight: 1 }],
        ...profile,
      },
    ],
    service: {
      locations: [
        {
          id: 'lyon',
          priority: 10,
          dailyCapacity: lyonDailyCapacity,
          shippingCost: 0,
          zoneCosts: {},
        },
        { id: 'paris', priority: 1, dailyCapacity: null, shippingCost: 0, zoneCosts: {} },
      ],
    },
  });
}

/** A transport that records what it was given and answers as told (ok by default). */
export class RecordingTransport implements OutboxTransport {
  readonly sent: OutboxMessage[] = [];
  answer: (m: OutboxMessage) => DeliveryOutcome = () => ({ ok: true, status: 200 });

  send(message: OutboxMessage): Promise<DeliveryOutcome> {
    this.sent.push(message);
    return Promise.resolve(this.answer(message));
  }

  types(stream: string): string[] {
    return this.sent.filter((m) => m.stream === stream).map((m) => m.type);
  }
}

export interface OrderHarness {
  readonly engine: StockEngine;
  readonly clock: ManualClock;
  readonly orders: OrderService;
  readonly transport: RecordingTransport;
  stock(sku: string, levels: Record<string, number>): Promise<void>;
  place(order: Record<string, unknown>, key?: string | null): Promise<OrderResult>;
  placed(order: Record<string, unknown>, key?: string | null): Promise<OrderOk>;
  /** Lets every order step, outbox send and acknowledgement run. */
  idle(): Promise<void>;
}

export interface HarnessOptions {
  readonly profiles?: readonly SourcingProfile[];
  readonly service?: Partial<OrderServiceOptions>;
  readonly journal?: JournalWriter;
  readonly clock?: ManualClock;
  readonly start?: boolean;
}

/** The harness engine's channels, locations and products (a config's values may reuse them). */
export const HARNESS_MASTER = {
  rules: {
    channels: [
      { id: 'web', priority: 1 },
      { id: 'app', priority: 1 },
    ],
  },
  locations: LOCATIONS,
  products: [{ sku: 'A' }, { sku: 'B' }, { sku: 'C' }],
};

export function orderHarness(options: HarnessOptions = {}): OrderHarness {
  const clock = options.clock ?? new ManualClock();
  const engine = new StockEngine({
    ...HARNESS_MASTER,
    clock,
    partitions: 4,
  });
  const transport = new RecordingTransport();
  const profiles = options.profiles ?? [BY_DISTANCE];
  const orders = new OrderService({
    stock: engine.stock,
    clock,
    profiles,
    selection: [],
    defaultProfile: (profiles[0] as SourcingProfile).name,
    locations: [],
    acceptTimeoutMs: 60_000,
    maxSourcingAttempts: 3,
    backorderRetryMs: 30_000,
    retainCompletedMs: 86_400_000,
    notifyCustomers: true,
    transportFor: () => transport,
    outbox: { maxInFlight: 8, backoffBaseMs: 100, backoffMaxMs: 1_000 },
    ...options.service,
  });
  if (options.journal !== undefined) engine.storage.attachJournal(options.journal, 0);
  let feed = 0;
  if (options.start !== false) orders.start();
  const h: OrderHarness = {
    engine,
    clock,
    orders,
    transport,
    async stock(sku, levels) {
      for (const [location, onHand] of Object.entries(levels)) {
        const r = await engine.execute({ op: 'setOnHand', sku, location, onHand, asOf: ++feed });
        if (!r.ok) throw new Error(r.message);
      }
    },
    place(order, key = null) {
      return orders.place(order, key, null);
    },
    async placed(order, key = null) {
      const r = await orders.place(order, key, null);
      if (!r.ok) throw new Error(`placement failed: ${r.code} ${r.message}`);
      return r;
    },
    async idle() {
      for (let i = 0; i < 5; i++) {
        await orders.settled();
        await new Promise((resolve) => setImmediate(resolve));
        await engine.settle();
        await engine.durable();
      }
    },
  };
  return h;
}

let nextOrder = 1;

/** An order body; lines are [sku, qty, reservationId?] at 1000 minor units each. */
export function order(
  lines: readonly (readonly [string, number, string?])[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const body = {
    orderId: `o-${String(nextOrder++)}`,
    channel: 'web',
    customer: { id: 'c-1', name: 'Ada' },
    lines: lines.map(([sku, qty, reservationId]) => ({
      sku,
      qty,
      unitPrice: 1000,
      ...(reservationId === undefined ? {} : { reservationId }),
    })),
    delivery: { type: 'ship', address: { city: 'Paris', ...NEAR_PARIS } },
    payment: { amount: lines.reduce((n, [, qty]) => n + qty * 1000, 0), currency: 'EUR' },
    ...extra,
  };
  return body;
}

/** What the engine holds for an order: `sku@location` -> qty. */
export function holdings(h: OrderHarness, orderId: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [sku, at] of h.engine.stock.orderHoldings(orderId, ['A', 'B', 'C'])) {
    for (const [location, qty] of at) out[`${sku}@${location}`] = qty;
  }
  return out;
}

/**
 * For the pure decide functions, no engine: the parsed input of an order of 3 x A at 1000 and
 * 1 x B at 500, shipped near Paris, paid 35.00 (`extra` overrides fields).
 */
export function orderInput(orderId: string, extra: Record<string, unknown> = {}): OrderInput {
  const parsed = parseOrder({
    orderId,
    channel: 'web',
    customer: { id: 'c-1', name: 'Ada' },
    lines: [
      { lineId: 'L1', sku: 'A', qty: 3, unitPrice: 1000 },
      { lineId: 'L2', sku: 'B', qty: 1, unitPrice: 500 },
    ],
    delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
    payment: { amount: 3500, currency: 'EUR' },
    ...extra,
  });
  if (!('orderId' in parsed)) throw new Error(parsed.message);
  return parsed;
}

/** That order as received at 1000 (version 1), from its `received` event alone. */
export function receivedOrder(orderId: string, key: string | null = null, extra = {}): Order {
  const input = orderInput(orderId, extra);
  return Order.received({
    kind: 'received',
    orderId,
    version: 1,
    at: 1_000,
    messages: [],
    input,
    idempotencyKey: key,
    fingerprint: fingerprintOf(input),
  });
}
