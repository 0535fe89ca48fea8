import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { expect } from 'vitest';
import { verifySignature } from '../../gateway/webhook-transport.ts';
import { tempDir } from '../persistence/engine-fixture.ts';
import {
  freePort,
  startServer,
  waitFor,
  type ServerHandle,
} from '../persistence/server-process.ts';

/**
 * What the crash tests (notifications-crash, settlement-crash) share: a flaky webhook receiver,
 * the real server as a child process with its config, SIGKILL and restart, and the checks on
 * what arrived.
 */

export const ADMIN = 'admin-key-000000000000000000';
export const WEB = 'web-key-0000000000000000000000';
const SECRET = 'whsec-test-0000000000000000';
export const SKUS = ['A', 'B', 'C'];

/** A request the receiver answered 200: the path it came to and its body as sent. */
export interface Accepted {
  readonly path: string;
  readonly raw: string;
}

/**
 * A receiver as bad as real ones get: one request in five fails with a 500, one in ten hangs past
 * the sender's timeout; with `slowMs`, one in five answers that late; the rest answer 200 at once.
 * Only a 200 counts as accepted. Every signature is checked.
 */
export class FlakyReceiver {
  readonly accepted: Accepted[] = [];
  attempts = 0;
  badSignatures = 0;
  port = 0;
  private server: Server | null = null;
  private n = 0;

  constructor(private readonly options: { readonly slowMs?: number } = {}) {}

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
        this.accepted.push({ path: req.url ?? '', raw });
        res.writeHead(200).end('ok');
      };
      const { slowMs } = this.options;
      if (slowMs !== undefined && roll < 10) setTimeout(accept, slowMs);
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

type Hook = (path: string) => { url: string; secret: string };

/**
 * The real server, run with a file store in a temporary folder, two stores (paris, lyon) whose
 * webhooks and the customer notifications go to `receiver`; `extra(hook)` adds sections.
 */
export class CrashServer {
  private readonly dir = tempDir();
  private server: ServerHandle | null = null;

  constructor(
    readonly receiver: FlakyReceiver,
    private readonly extra: (hook: Hook) => Record<string, unknown> = () => ({}),
  ) {}

  private config(): Record<string, unknown> {
    const hook: Hook = (path) => ({
      url: `http://127.0.0.1:${this.receiver.port}${path}`,
      secret: SECRET,
    });
    return {
      auth: {
        apiKeys: [
          { key: ADMIN, name: 'admin', role: 'admin' },
          { key: WEB, name: 'web', role: 'storefront', channel: 'web' },
        ],
      },
      persistence: { store: 'file', dir: this.dir.dir },
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
      ...this.extra(hook),
      log: { level: 'warn' },
    };
  }

  /** Starts the server on the same folder (first start or restart) and waits until ready. */
  async start(): Promise<void> {
    this.server = await startServer(this.config(), this.dir.dir);
  }

  /** SIGKILL: no shutdown of any kind; resolves once the process is gone. */
  async kill(): Promise<void> {
    const s = this.handle();
    s.process.kill('SIGKILL');
    await s.exited();
  }

  /** Kills the server (if started) and removes its folder. */
  cleanup(): void {
    this.server?.process.kill('SIGKILL');
    this.dir.cleanup();
  }

  async call(
    method: string,
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${this.handle().base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: (text.length > 0 ? JSON.parse(text) : {}) as Record<string, unknown>,
    };
  }

  /** 100 of every SKU at both stores. */
  async stockUp(): Promise<void> {
    const stock = SKUS.flatMap((sku) =>
      ['paris', 'lyon'].map((location) => ({
        adjustmentId: `init-${location}`,
        sku,
        location,
        delta: 100,
      })),
    );
    expect((await this.call('POST', '/v1/inventory/adjustments', ADMIN, stock)).status).toBe(200);
  }

  /** Places orders 0 .. count-1 (each must be accepted), and returns each one's first fulfilment. */
  async placeOrders(count: number, orderBody: (i: number) => unknown): Promise<string[]> {
    const fulfilments: string[] = [];
    for (let i = 0; i < count; i++) {
      const r = await this.call('POST', '/v1/orders', WEB, orderBody(i));
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      const placed = r.json.fulfilments as readonly { fulfilmentId: string }[] | undefined;
      const fulfilmentId = placed?.[0]?.fulfilmentId;
      expect(fulfilmentId, JSON.stringify(r.json)).toBeTypeOf('string');
      fulfilments.push(fulfilmentId as string);
    }
    return fulfilments;
  }

  /** Waits until orders ord-0 .. ord-(count-1) have no message left to send. */
  async allAcknowledged(count: number, timeoutMs: number): Promise<void> {
    await waitFor(
      async () => {
        for (let i = 0; i < count; i++) {
          const r = await this.call('GET', `/v1/orders/ord-${i}`, ADMIN);
          if (r.json.pendingMessages !== 0) return false;
        }
        return true;
      },
      timeoutMs,
      'every message to be acknowledged',
    );
  }

  private handle(): ServerHandle {
    if (this.server === null) throw new Error('the server was not started');
    return this.server;
  }
}

/** A duplicate carries the same id and the same content. */
export function expectSameContentPerId(
  arrivals: readonly { readonly id: string; readonly raw: string }[],
  label?: string,
): void {
  const byId = new Map<string, string>();
  for (const a of arrivals) {
    const seen = byId.get(a.id);
    if (seen !== undefined) expect(JSON.parse(a.raw), label).toEqual(JSON.parse(seen));
    else byId.set(a.id, a.raw);
  }
}

/** The first arrival of each id, in arrival order. */
export function firstArrivals<T extends { readonly id: string }>(list: readonly T[]): T[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    if (seen.has(a.id)) return false;
    seen.add(a.id);
    return true;
  });
}
