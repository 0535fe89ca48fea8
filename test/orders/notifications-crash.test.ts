import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  CrashServer,
  expectSameContentPerId,
  firstArrivals,
  FlakyReceiver,
  SKUS,
} from './crash-kit.ts';

const ORDERS = 24;

interface Delivery {
  readonly id: string;
  readonly orderId: string;
  readonly type: string;
  readonly raw: string;
  readonly path: string;
}

// One request in five also answers slowly (150 ms), on top of the failures and hangs.
const receiver = new FlakyReceiver({ slowMs: 150 });
const server = new CrashServer(receiver);

/** What the receiver accepted (answered 200), as notifications. */
function delivered(): Delivery[] {
  return receiver.accepted.map(({ path, raw }) => {
    const m = JSON.parse(raw) as { id: string; orderId: string; type: string };
    return { id: m.id, orderId: m.orderId, type: m.type, raw, path };
  });
}

function orderBody(i: number): unknown {
  const sku = SKUS[i % SKUS.length] as string;
  return {
    orderId: `ord-${i}`,
    channel: 'web',
    customer: { id: `cust-${i}` },
    lines: [{ sku, qty: 1, unitPrice: 500 }],
    delivery: { type: 'ship', address: { lat: 48.9, lon: 2.3 } },
    payment: { amount: 500, currency: 'EUR' },
  };
}

async function ship(fulfilmentId: string): Promise<void> {
  const r = await server.call('POST', `/v1/fulfilments/${fulfilmentId}/answers`, ADMIN, {
    type: 'shipped',
    tracking: `T-${fulfilmentId}`,
  });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  await receiver.start();
  await server.start();
});

afterAll(async () => {
  server.cleanup();
  await receiver.close();
});

describe('notifications through a failing receiver and a SIGKILL', () => {
  it('every message arrives, in order per order and stream, duplicates only under the same id', async () => {
    await server.stockUp();
    const fulfilments = await server.placeOrders(ORDERS, orderBody);
    // Half of them ship before the crash, while the receiver is still catching up.
    for (const fid of fulfilments.slice(0, ORDERS / 2)) await ship(fid);
    const before = receiver.accepted.length;
    await server.kill();
    await server.start();
    // The rest ship after the restart; everything is delivered.
    for (const fid of fulfilments.slice(ORDERS / 2)) await ship(fid);
    await server.allAcknowledged(ORDERS, 60_000);
    const all = delivered();
    expect(receiver.badSignatures).toBe(0);
    expect(receiver.attempts).toBeGreaterThan(all.length);
    expect(before).toBeLessThan(all.length);

    // Per order and stream: the first deliveries come in message order, with no gap; a
    // duplicate carries the same id and the same content.
    expectSameContentPerId(all);
    for (let i = 0; i < ORDERS; i++) {
      const orderId = `ord-${i}`;
      const mine = all.filter((d) => d.orderId === orderId);
      const customer = firstArrivals(mine.filter((d) => d.path === '/customer'));
      expect(customer.map((d) => d.type)).toEqual(['order.confirmed', 'order.shipped']);
      const location = firstArrivals(mine.filter((d) => d.path.startsWith('/locations/')));
      expect(location.map((d) => d.type)).toEqual(['fulfilment.requested']);
      const numbers = [...customer, ...location]
        .map((d) => Number(d.id.split(':m')[1]))
        .sort((a, b) => a - b);
      expect(numbers).toEqual([1, 2, 3]);
      for (const list of [customer, location]) {
        const seq = list.map((d) => Number(d.id.split(':m')[1]));
        expect([...seq].sort((a, b) => a - b)).toEqual(seq);
      }
    }
  });
});
