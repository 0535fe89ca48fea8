import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { ServerHandle } from '../persistence/server-process.ts';
import { Client, KEYS, LOCATIONS, RULES, within } from './harness.ts';

/**
 * What the tests of server.workers share: the real server's configuration (admin and web keys,
 * the harness channels and locations, the given SKUs as products, a persistence section of the
 * test's choosing) and the reads and writes they check it with, over HTTP.
 */
export function workersConfig(
  workers: number,
  skus: readonly string[],
  persistence: Record<string, unknown>,
): Record<string, unknown> {
  return {
    server: { workers, shutdownGraceMs: 5_000 },
    persistence,
    auth: {
      apiKeys: [
        { key: KEYS.admin, name: 'ops', role: 'admin' },
        { key: KEYS.web, name: 'web-shop', role: 'storefront', channel: 'web' },
      ],
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
    },
    rules: RULES,
    locations: LOCATIONS,
    products: skus.map((sku) => ({ sku })),
    log: { level: 'warn' },
  };
}

/** Ends a test's server (SIGKILL, if it still runs) and removes its directory. */
export async function discard(server: ServerHandle | null, dir: string): Promise<void> {
  if (server !== null && server.process.exitCode === null) {
    server.process.kill('SIGKILL');
    await server.exited();
  }
  rmSync(dir, { recursive: true, force: true });
}

/** An admin HTTP request to the server. */
export function http(
  s: ServerHandle,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  return fetch(`${s.base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${KEYS.admin}`, ...init.headers },
  });
}

/** A location's full stock snapshot; answers its summary (asserted applied). */
export async function snapshot(
  s: ServerHandle,
  location: string,
  levels: Record<string, number>,
  asOf = Date.now(),
): Promise<Record<string, unknown>> {
  const body = Object.entries(levels)
    .map(([sku, onHand]) => JSON.stringify({ sku, onHand }))
    .join('\n');
  const res = await http(s, `/v1/inventory/snapshots?location=${location}&asOf=${asOf}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** The web channel's availability of a SKU, network-wide or at one location. */
export async function available(s: ServerHandle, sku: string, location?: string): Promise<number> {
  const at = location === undefined ? '' : `&location=${location}`;
  const res = await http(s, `/v1/availability?channel=web&sku=${sku}${at}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { available: number }).available;
}

/** Which worker answered: /readyz's `detail.shard` on a connection of `agent`. */
async function shardBehind(s: ServerHandle, agent: Agent): Promise<number> {
  const { status, body } = await send(s, agent, '/readyz', {});
  expect(status).toBe(200);
  return (body as { detail: { shard: number } }).detail.shard;
}

interface Sent {
  readonly status: number;
  readonly body: unknown;
}

/** One HTTP request on `agent`; resolves once the connection is free for the next one. */
function send(
  s: ServerHandle,
  agent: Agent,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | undefined },
): Promise<Sent> {
  return new Promise<Sent>((resolve, reject) => {
    const req = request(
      `${s.base}${path}`,
      { agent, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          // The agent takes the socket back after 'end': the next request reuses it.
          setImmediate(() => {
            resolve({ status, body: text === '' ? null : (JSON.parse(text) as unknown) });
          });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * A keep-alive agent whose one connection reached worker `shard` (connections land on either
 * worker, so it opens new ones until one does). SO_REUSEPORT keeps a connection on its worker:
 * what is sent on it is answered there.
 */
async function agentOn(
  s: ServerHandle,
  shard: number,
): Promise<{ agent: Agent; opened: () => number }> {
  for (let tries = 0; tries < 64; tries++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let opened = 0;
    const create = agent.createConnection.bind(agent);
    agent.createConnection = (...args: Parameters<typeof create>) => {
      opened++;
      return create(...args);
    };
    if ((await shardBehind(s, agent)) === shard) return { agent, opened: () => opened };
    agent.destroy();
  }
  throw new Error(`no connection reached worker ${shard} in 64 tries`);
}

/** An HTTP connection to one worker of the server (tests choose where a request lands). */
export class PinnedHttp {
  private constructor(
    private readonly s: ServerHandle,
    readonly shard: number,
    private readonly agent: Agent,
    private readonly opened: () => number,
  ) {}

  static async open(s: ServerHandle, shard: number): Promise<PinnedHttp> {
    const { agent, opened } = await agentOn(s, shard);
    return new PinnedHttp(s, shard, agent, opened);
  }

  /**
   * A request with `key` (admin by default) and a JSON body, or an NDJSON one (`ndjson`: one
   * object per line), on this worker's connection.
   */
  async request(
    path: string,
    init: {
      method?: string;
      key?: string;
      body?: unknown;
      ndjson?: readonly unknown[];
      headers?: Record<string, string>;
    } = {},
  ): Promise<Sent> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${init.key ?? KEYS.admin}`,
      ...init.headers,
    };
    let body: string | undefined;
    if (init.ndjson !== undefined) {
      headers['content-type'] = 'application/x-ndjson';
      body = init.ndjson.map((row) => JSON.stringify(row)).join('\n');
    } else if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    const answer = await send(this.s, this.agent, path, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
    });
    // Still the one connection it was pinned with: the answer came from worker `shard`.
    expect(this.opened(), `the connection to worker ${this.shard} was replaced`).toBe(1);
    return answer;
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * A WebSocket client (harness Client) whose connection reached worker `shard`: the upgrade goes
 * on a keep-alive connection that /readyz said is that worker's.
 */
export async function clientOn(
  s: ServerHandle,
  shard: number,
  options: { key: string; binary?: boolean },
): Promise<Client> {
  const { agent, opened } = await agentOn(s, shard);
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/v1/ws`, {
    agent,
    headers: { authorization: `Bearer ${options.key}` },
  });
  // Client's constructor is private to harness.ts (Client.connect dials on its own); this wraps
  // a socket dialled here, with every behaviour of the harness client.
  const Wrap = Client as unknown as new (ws: WebSocket, binary: boolean) => Client;
  const client = new Wrap(ws, options.binary ?? false);
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused with ${res.statusCode ?? 0}`));
        ws.terminate();
      });
      ws.once('error', reject);
    }),
    5_000,
    'websocket open',
  );
  expect(opened(), `the connection to worker ${shard} was replaced`).toBe(1);
  return client;
}
