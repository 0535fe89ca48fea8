import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../gateway/webhook-transport.ts';
import { tempDir } from '../persistence/engine-fixture.ts';
import {
  freePort,
  startServer,
  waitFor,
  type ServerHandle,
} from '../persistence/server-process.ts';

const ADMIN = 'admin-key-000000000000000000';
const WEB = 'web-key-0000000000000000000000';
const SECRET = 'whsec-test-0000000000000000';
const ORDERS = 24;
const SKUS = ['A', 'B', 'C'];

/** The parts of the answers this test reads. */
interface Answer {
  readonly fulfilments?: readonly { readonly fulfilmentId: string }[];
  readonly pendingMessages?: number;
}

interface Delivery {
  readonly id: string;
  readonly orderId: string;
  readonly type: string;
  readonly body: string;
  readonly path: string;
}

/**
 * A receiver as bad as real ones get: one request in five fails with a 500, one in ten hangs past
 * the sender's timeout, one in five answers slowly; the rest answer 200 at once. Only a 200 counts
 * as delivered. Every signature is checked.
 */
class FlakyReceiver {
  readonly delivered: Delivery[] = [];
  attempts = 0;
  badSignatures = 0;
  private server: Server | null = null;
  private n = 0;
  port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      this.attempts++;
      const signature = String(req.headers['stockflow-signature'] ?? '');
      if (!verifySignature(SECRET, signature, raw, Math.floor(Date.now() / 1000))) {
        this.badSignatures++;
        res.writeHead(400).end();
        return;
      }
      // Deterministic mix, so a failure reproduces.
      const roll = (this.n++ * 7919) % 20;
      if (roll < 4) {
        res.writeHead(500).end('try later');
        return;
      }
      if (roll < 6) return; // hangs: the sender times out and retries
      const accept = (): void => {
        const m = JSON.parse(raw) as { id: string; orderId: string; type: string };
        this.delivered.push({
          id: m.id,
          orderId: m.orderId,
          type: m.type,
          body: raw,
          path: req.url ?? '',
        });
        res.writeHead(200).end('ok');
      };
      if (roll < 10) setTimeout(accept, 150);
      else accept();
    });
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => {
      if (this.server === null) resolve();
      else
        this.server.close(() => {
          resolve();
        });
    });
  }
}

const receiver = new FlakyReceiver();
const dir = tempDir();
let server: ServerHandle | null = null;

function config(): Record<string, unknown> {
  const hook = (path: string): { url: string; secret: string } => ({
    url: `http://127.0.0.1:${receiver.port}${path}`,
    secret: SECRET,
  });
  return {
    auth: {
      apiKeys: [
        { key: ADMIN, name: 'admin', role: 'admin' },
        { key: WEB, name: 'web', role: 'storefront', channel: 'web' },
      ],
    },
    persistence: { store: 'file', dir: dir.dir },
    rules: { channels: [{ id: 'web', priority: 1 }] },
    locations: [
      { id: 'paris', type: 'store', lat: 48.85, lon: 2.35 },
      { id: 'lyon', type: 'store', lat: 45.76, lon: 4.84 },
    ],
    products: SKUS.map((sku) => ({ sku })),
    orders: {
      locations: [
        { id: 'paris', webhook: hook('/locations/paris') },
        { id: 'lyon', webhook: hook('/locations/lyon') },
      ],
      notifications: { webhook: hook('/customer') },
      outbox: { maxInFlight: 8, timeoutMs: 300, backoffBaseMs: 50, backoffMaxMs: 400 },
    },
    log: { level: 'warn' },
  };
}

async function call(
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; json: Answer }> {
  const s = server as ServerHandle;
  const res = await fetch(`${s.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text.length > 0 ? JSON.parse(text) : {}) as Answer };
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

beforeAll(async () => {
  await receiver.start();
  server = await startServer(config(), dir.dir);
});

afterAll(async () => {
  server?.process.kill('SIGKILL');
  await receiver.close();
  dir.cleanup();
});

describe('notifications through a failing receiver and a SIGKILL', () => {
  it('every message arrives, in order per order and stream, duplicates only under the same id', async () => {
    const stock = SKUS.flatMap((sku) =>
      ['paris', 'lyon'].map((location) => ({
        adjustmentId: `init-${location}`,
        sku,
        location,
        delta: 100,
      })),
    );
    expect((await call('POST', '/v1/inventory/adjustments', ADMIN, stock)).status).toBe(200);
    const fulfilments: string[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const r = await call('POST', '/v1/orders', WEB, orderBody(i));
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      fulfilments.push(r.json.fulfilments?.[0]?.fulfilmentId ?? '');
    }
    // Half of them ship before the crash, while the receiver is still catching up.
    for (const fid of fulfilments.slice(0, ORDERS / 2)) {
      expect(
        (
          await call('POST', `/v1/fulfilments/${fid}/answers`, ADMIN, {
            type: 'shipped',
            tracking: `T-${fid}`,
          })
        ).status,
      ).toBe(200);
    }
    const before = receiver.delivered.length;
    (server as ServerHandle).process.kill('SIGKILL');
    await (server as ServerHandle).exited();
    server = await startServer(config(), dir.dir);
    // The rest ship after the restart; everything is delivered.
    for (const fid of fulfilments.slice(ORDERS / 2)) {
      expect(
        (
          await call('POST', `/v1/fulfilments/${fid}/answers`, ADMIN, {
            type: 'shipped',
            tracking: `T-${fid}`,
          })
        ).status,
      ).toBe(200);
    }
    await waitFor(
      async () => {
        for (let i = 0; i < ORDERS; i++) {
          const r = await call('GET', `/v1/orders/ord-${i}`, ADMIN);
          if (r.json.pendingMessages !== 0) return false;
        }
        return true;
      },
      60_000,
      'every message to be acknowledged',
    );
    expect(receiver.badSignatures).toBe(0);
    expect(receiver.attempts).toBeGreaterThan(receiver.delivered.length);
    expect(before).toBeLessThan(receiver.delivered.length);

    // Per order and stream: the first deliveries come in message order, with no gap; a
    // duplicate carries the same id and the same content.
    const byId = new Map<string, string>();
    for (const d of receiver.delivered) {
      const seen = byId.get(d.id);
      if (seen !== undefined) expect(JSON.parse(d.body)).toEqual(JSON.parse(seen));
      else byId.set(d.id, d.body);
    }
    for (let i = 0; i < ORDERS; i++) {
      const orderId = `ord-${i}`;
      const mine = receiver.delivered.filter((d) => d.orderId === orderId);
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

function firstArrivals(list: readonly Delivery[]): Delivery[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    if (seen.has(d.id)) return false;
    seen.add(d.id);
    return true;
  });
}
