import WebSocket from 'ws';
import { catalog, KEYS, LOCATIONS, locationKey, type DemoLocation } from './retailer.ts';

/** A small deterministic random source, so two demo runs tell the same story. */
class Random {
  constructor(private seed: number) {}
  next(): number {
    this.seed = (this.seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return this.seed / 2_147_483_648;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export interface SimulatorCounts {
  reserves: number;
  orders: number;
  answers: number;
  feeds: number;
  deltas: number;
}

interface Push {
  op: string;
  messageId?: string;
  type?: string;
  data?: { fulfilmentId?: string };
}

/**
 * Storefront traffic, orders and location answers against a running demo server: a web shop
 * watching the hot SKUs over its WebSocket, carts reserving and letting go, an order every half
 * second, every location's system taking its fulfilment requests over its own WebSocket and
 * answering accepted, picked, shipped; and store feeds of sales and recounts. stop() ends it all.
 */
export class Simulator {
  readonly counts: SimulatorCounts = { reserves: 0, orders: 0, answers: 0, feeds: 0, deltas: 0 };
  private readonly random = new Random(42);
  private readonly skus: string[];
  private readonly sockets: WebSocket[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private seq = 0;

  constructor(
    private readonly base: string,
    skuCount: number,
    private readonly log: (line: string) => void,
  ) {
    this.skus = catalog(skuCount).map((p) => p.sku);
  }

  /** Loads every location's stock, then starts the traffic. */
  async start(): Promise<void> {
    for (const l of LOCATIONS) await this.loadStock(l);
    this.log(`stock loaded: ${LOCATIONS.length} locations × ${this.skus.length} SKUs`);
    await this.watchHotSkus();
    for (const l of LOCATIONS) await this.connectLocation(l);
    this.every(200, () => this.cart());
    this.every(500, () => this.order());
    this.every(2_000, () => this.storeSales());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(
      this.sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) {
              resolve();
              return;
            }
            ws.once('close', () => {
              resolve();
            });
            ws.close();
          }),
      ),
    );
  }

  private every(ms: number, task: () => Promise<void>): void {
    this.timers.push(
      setInterval(() => {
        if (this.stopped) return;
        task().catch((error: unknown) => {
          if (!this.stopped) this.log(`simulator: ${String(error)}`);
        });
      }, ms),
    );
  }

  private request(method: string, path: string, key: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    let payload: string | null = null;
    if (typeof body === 'string') {
      headers['content-type'] = 'application/x-ndjson';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return fetch(`${this.base}${path}`, { method, headers, body: payload });
  }

  private async loadStock(l: DemoLocation): Promise<void> {
    const [min, max] = l.type === 'dc' ? [80, 400] : l.type === 'dropship' ? [0, 1_000] : [0, 25];
    const lines = this.skus.map((sku) =>
      JSON.stringify({ sku, onHand: this.random.int(min, max) }),
    );
    const res = await this.request(
      'POST',
      `/v1/inventory/snapshots?location=${l.id}&asOf=${Date.now()}`,
      locationKey(l.id),
      lines.join('\n'),
    );
    if (res.status !== 200) throw new Error(`stock load of ${l.id}: ${await res.text()}`);
    this.counts.feeds++;
  }

  /** The web shop's product pages: the first 50 SKUs, live. */
  private async watchHotSkus(): Promise<void> {
    const ws = await this.socket(KEYS.web);
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as { op?: string };
      if (msg.op === 'availability') this.counts.deltas++;
    });
    ws.send(
      JSON.stringify({
        op: 'subscribe',
        id: 'hot',
        topics: this.skus.slice(0, 50).map((sku) => `availability:web:${sku}`),
      }),
    );
  }

  /** A location's system: acknowledges each fulfilment request, then accepts, picks and ships. */
  private async connectLocation(l: DemoLocation): Promise<void> {
    const ws = await this.socket(locationKey(l.id));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as Push;
      if (msg.op !== 'fulfilment' || msg.messageId === undefined) return;
      ws.send(JSON.stringify({ op: 'ack', id: `ack-${++this.seq}`, messageIds: [msg.messageId] }));
      const fulfilmentId = msg.data?.fulfilmentId;
      if (msg.type !== 'fulfilment.requested' || fulfilmentId === undefined) return;
      const steps = ['accepted', 'picked', 'shipped'];
      steps.forEach((type, i) => {
        const t = setTimeout(
          () => {
            if (this.stopped || ws.readyState !== WebSocket.OPEN) return;
            const answer = { type, ...(type === 'shipped' ? { carrier: 'DPD' } : {}) };
            ws.send(
              JSON.stringify({
                op: 'fulfilmentAnswer',
                id: `answer-${++this.seq}`,
                fulfilmentId,
                answer,
              }),
            );
            this.counts.answers++;
          },
          300 + i * 700,
        );
        this.timers.push(t);
      });
    });
  }

  private async socket(key: string): Promise<WebSocket> {
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}/v1/ws`, {
      headers: { authorization: `Bearer ${key}` },
    });
    this.sockets.push(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        resolve();
      });
      ws.once('error', reject);
    });
    return ws;
  }

  /** A shopper adds to cart on the web or the app; most carts are let go again. */
  private async cart(): Promise<void> {
    const sku = this.random.pick(this.skus.slice(0, 200));
    const channel = this.random.next() < 0.7 ? 'web' : 'app';
    const reservationId = `cart-${++this.seq}`;
    const res = await this.request(
      'POST',
      '/v1/reservations',
      channel === 'web' ? KEYS.web : KEYS.app,
      { reservationId, channel, sku, qty: this.random.int(1, 2), ttlMs: 60_000 },
    );
    await res.text();
    this.counts.reserves++;
    if (res.status === 201 && this.random.next() < 0.6) {
      const key = channel === 'web' ? KEYS.web : KEYS.app;
      await (await this.request('DELETE', `/v1/reservations/${reservationId}`, key)).text();
    }
  }

  /** An order from the web or the marketplace, shipped to somewhere near a store. */
  private async order(): Promise<void> {
    const near = this.random.pick(LOCATIONS.filter((l) => l.type === 'store'));
    const lines = Array.from({ length: this.random.int(1, 3) }, (_, i) => ({
      lineId: String(i + 1),
      sku: this.random.pick(this.skus.slice(0, 500)),
      qty: 1,
      unitPrice: this.random.int(5, 120) * 100,
    }));
    const distinct = lines.filter((l, i) => lines.findIndex((o) => o.sku === l.sku) === i);
    const marketplace = this.random.next() < 0.2;
    const orderId = `demo-order-${++this.seq}`;
    const shippingAmount = 499;
    const res = await this.request(
      'POST',
      '/v1/orders',
      marketplace ? KEYS.marketplace : KEYS.web,
      {
        orderId,
        channel: marketplace ? 'marketplace' : 'web',
        customer: { id: `cust-${this.random.int(1, 5_000)}`, name: 'Demo Shopper' },
        lines: distinct,
        delivery: {
          type: 'ship',
          address: {
            city: near.name,
            country: 'GB',
            lat: near.lat + (this.random.next() - 0.5) / 5,
            lon: near.lon + (this.random.next() - 0.5) / 5,
          },
        },
        payment: {
          amount: distinct.reduce((n, l) => n + l.qty * l.unitPrice, 0) + shippingAmount,
          currency: 'GBP',
        },
        shippingAmount,
      },
    );
    await res.text();
    if (res.status === 201) {
      this.counts.orders++;
      if (this.counts.orders === 1 || this.counts.orders % 50 === 0) {
        this.log(`orders placed: ${this.counts.orders} (latest ${orderId})`);
      }
    }
  }

  /** A store's till sells a few units (stock adjustments), as its system reports them. */
  private async storeSales(): Promise<void> {
    const store = this.random.pick(LOCATIONS.filter((l) => l.type === 'store'));
    const adjustments = Array.from({ length: 5 }, () => ({
      adjustmentId: `sale-${++this.seq}`,
      sku: this.random.pick(this.skus.slice(0, 200)),
      location: store.id,
      delta: -1,
    }));
    await (
      await this.request('POST', '/v1/inventory/adjustments', locationKey(store.id), adjustments)
    ).text();
    this.counts.feeds++;
  }
}
