/**
 * The server side of the orders benchmark (bench/orders.ts forks it): the real gateway, engine
 * and order service, stocked with `skus` SKUs at each of `locations` locations spread over
 * France. Outbound messages go to a transport that acknowledges at once (counted), so what is
 * measured is the order path, not a webhook receiver sharing the same two cores.
 */
import { pino } from 'pino';
import { StockEngine } from '../engine/index.ts';
import { OrderService, type DeliveryOutcome, type OutboxTransport } from '../orders/index.ts';
import { createGateway } from '../gateway/index.ts';
import { sendToParent } from './child-ipc.ts';
import { benchGatewayOptions } from './gateway-server.ts';
import { prng } from './gateway-wire.ts';

export interface OrdersServerSpec {
  readonly skus: number;
  readonly locations: number;
  readonly stock: number;
  readonly key: string;
  /** The profile's `nearest` pre-filter (null: weigh every location). */
  readonly nearest: number | null;
}

export type OrdersServerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | {
      readonly type: 'stats';
      readonly orders: number;
      readonly failed: number;
      readonly messages: number;
      readonly cpuMicros: number;
      readonly heapMb: number;
    };

const OK: DeliveryOutcome = Object.freeze({ ok: true, status: 200 });

class CountingTransport implements OutboxTransport {
  sent = 0;

  send(): Promise<DeliveryOutcome> {
    this.sent++;
    return Promise.resolve(OK);
  }
}

/** Locations spread over mainland France, the same for every run (seeded). */
export function benchLocations(
  count: number,
): { id: string; type: string; lat: number; lon: number }[] {
  const random = prng(7);
  return Array.from({ length: count }, (_, i) => ({
    id: `loc-${i}`,
    type: i % 10 === 0 ? 'dc' : 'store',
    lat: 43 + random() * 6,
    lon: -1 + random() * 7,
  }));
}

export async function serveOrders(spec: OrdersServerSpec): Promise<void> {
  const locations = benchLocations(spec.locations);
  const engine = new StockEngine({
    rules: { channels: [{ id: 'web', priority: 1 }] },
    locations,
    products: Array.from({ length: spec.skus }, (_, i) => ({ sku: `sku-${i}` })),
    maxQueuedPerSku: 1_000_000,
  });
  const loads: Promise<unknown>[] = [];
  for (let s = 0; s < spec.skus; s++) {
    for (const l of locations) {
      loads.push(
        engine.execute({
          op: 'setOnHand',
          sku: `sku-${s}`,
          location: l.id,
          onHand: spec.stock,
          asOf: 1,
        }),
      );
    }
  }
  await Promise.all(loads);
  const transport = new CountingTransport();
  const orders = new OrderService({
    stock: engine.stock,
    clock: engine.clock,
    profiles: [
      {
        name: 'standard',
        criteria: [
          { criterion: 'distance', weight: 1 },
          { criterion: 'priority', weight: 0.5 },
          { criterion: 'stockDepth', weight: 0.25 },
          { criterion: 'capacity', weight: 0.5 },
        ],
        typePreference: ['dc', 'store'],
        capacity: 'penalise',
        split: { policy: 'maxShipments', max: 2 },
        maxDistanceKm: null,
        nearest: spec.nearest,
      },
    ],
    selection: [],
    defaultProfile: 'standard',
    locations: locations.map((l, i) => ({
      id: l.id,
      priority: i % 10 === 0 ? 5 : 1,
      dailyCapacity: 100_000,
      shippingCost: 500,
      zoneCosts: {},
    })),
    acceptTimeoutMs: 3_600_000,
    maxSourcingAttempts: 3,
    backorderRetryMs: 60_000,
    retainCompletedMs: 86_400_000,
    notifyCustomers: true,
    transportFor: () => transport,
    outbox: { maxInFlight: 256, backoffBaseMs: 250, backoffMaxMs: 60_000 },
  });
  orders.start();
  const gateway = createGateway(engine, benchGatewayOptions(spec.key), pino({ level: 'warn' }), {
    orders,
  });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const s = orders.stats();
      const cpu = process.cpuUsage();
      void sendToParent({
        type: 'stats',
        orders: s.placed,
        failed: s.placementsFailed,
        messages: transport.sent,
        cpuMicros: cpu.user + cpu.system,
        heapMb: process.memoryUsage().heapUsed / 1_048_576,
      } satisfies OrdersServerMessage);
    } else if (m.type === 'stop') {
      void gateway
        .close()
        .then(() => orders.stop())
        .then(() => engine.stop())
        .then(() => process.exit(0));
    }
  });
  const { port } = await gateway.listen();
  await sendToParent({ type: 'ready', port } satisfies OrdersServerMessage);
}
