import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import { type OutboxMessage } from '../../orders/index.ts';
import { signPayload, verifySignature, WebhookTransport } from '../../gateway/webhook-transport.ts';
import { freePort } from '../persistence/server-process.ts';

const SECRET = 'whsec_test_0123456789';
const NOW = Date.UTC(2026, 10, 26, 9, 30, 0);
const NOW_SEC = NOW / 1000;

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** Which TCP connection carried it (1, 2, ...), to see whether sockets are reused. */
  readonly connection: number;
}

interface Receiver {
  readonly url: string;
  readonly received: Received[];
}

type Handler = (request: Received, response: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
});

/** A real HTTP receiver on loopback that records every request with its raw body. */
async function receiver(handler: Handler): Promise<Receiver> {
  const received: Received[] = [];
  const connections = new WeakMap<object, number>();
  let nextConnection = 1;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let connection = connections.get(req.socket);
      if (connection === undefined) {
        connection = nextConnection++;
        connections.set(req.socket, connection);
      }
      const request: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        connection,
      };
      received.push(request);
      handler(request, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received };
}

function reply(status: number, body = ''): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  };
}

const message: OutboxMessage = {
  messageId: 'msg-0001',
  orderId: 'order-42',
  stream: 'location:store-7',
  type: 'fulfilment.requested',
  body: { lines: [{ sku: 'SHOE-42', qty: 2 }], note: 'ünïcödé' },
  createdAt: Date.UTC(2026, 10, 26, 9, 29, 59, 123),
};

function transport(url: string, timeoutMs = 2_000): WebhookTransport {
  return new WebhookTransport({ url, secret: SECRET }, { timeoutMs, clock: new ManualClock(NOW) });
}

describe('WebhookTransport', () => {
  it('posts the message as signed JSON that the receiver can verify', async () => {
    const r = await receiver(reply(204));
    const outcome = await transport(`${r.url}/hooks/stockflow`).send(message);
    expect(outcome).toEqual({ ok: true, status: 204 });
    expect(r.received).toHaveLength(1);
    const req = r.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hooks/stockflow');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['stockflow-event-id']).toBe('msg-0001');
    expect(req.headers['idempotency-key']).toBe('msg-0001');
    expect(req.headers['user-agent']).toBe('Stockflow-Webhooks/1');
    expect(JSON.parse(req.body)).toEqual({
      id: 'msg-0001',
      type: 'fulfilment.requested',
      orderId: 'order-42',
      createdAt: '2026-11-26T09:29:59.123Z',
      data: { lines: [{ sku: 'SHOE-42', qty: 2 }], note: 'ünïcödé' },
    });
    const signature = req.headers['stockflow-signature'];
    expect(signature).toBe(signPayload(SECRET, NOW_SEC, req.body));
    expect(verifySignature(SECRET, String(signature), req.body, NOW_SEC + 10)).toBe(true);
  });

  it('sends a configured user agent', async () => {
    const r = await receiver(reply(200));
    const t = new WebhookTransport(
      { url: r.url, secret: SECRET },
      { timeoutMs: 2_000, clock: new ManualClock(NOW), userAgent: 'acme-oms/2' },
    );
    await t.send(message);
    expect(r.received[0]?.headers['user-agent']).toBe('acme-oms/2');
  });

  it('maps each status to delivered, retryable or not', async () => {
    const r = await receiver((req, res) => {
      const status = Number(req.url.slice(1));
      res.writeHead(status, status >= 300 && status < 400 ? { location: '/elsewhere' } : {});
      res.end(status === 400 ? 'missing field "sku"' : '');
    });
    const cases: [number, boolean | 'ok'][] = [
      [200, 'ok'],
      [202, 'ok'],
      [301, false],
      [307, false],
      [400, false],
      [401, false],
      [404, false],
      [408, true],
      [409, true],
      [410, false],
      [422, false],
      [425, true],
      [429, true],
      [500, true],
      [502, true],
      [503, true],
    ];
    for (const [status, expected] of cases) {
      const outcome = await transport(`${r.url}/${status}`).send(message);
      expect(outcome.status, `status ${status}`).toBe(status);
      if (expected === 'ok') {
        expect(outcome.ok, `status ${status}`).toBe(true);
      } else {
        expect(outcome, `status ${status}`).toMatchObject({ ok: false, retryable: expected });
      }
    }
    // redirects are not followed: one request per send
    expect(r.received.map((req) => req.url)).toEqual(cases.map(([status]) => `/${status}`));
    const bad = await transport(`${r.url}/400`).send(message);
    expect(bad).toEqual({
      ok: false,
      retryable: false,
      status: 400,
      error: 'HTTP 400: missing field "sku"',
    });
  });

  it('answers a 500 as retryable', async () => {
    const r = await receiver(reply(500, 'database down'));
    expect(await transport(r.url).send(message)).toEqual({
      ok: false,
      retryable: true,
      status: 500,
      error: 'HTTP 500: database down',
    });
  });

  it('drains every answer so its connection goes back to the pool', async () => {
    let n = 0;
    const r = await receiver((_req, res) => {
      const status = [200, 500, 400][n++ % 3] ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      // big enough that an unread body would hold its socket
      res.end('x'.repeat(60_000));
    });
    const t = transport(r.url);
    for (let i = 0; i < 6; i++) await t.send({ ...message, messageId: `m${i}` });
    // back-to-back sends may open a second socket before undici releases the first; an undrained
    // body would take a new one for every send
    expect(new Set(r.received.map((req) => req.connection)).size).toBeLessThanOrEqual(2);
  });

  it('gives up on a receiver that never answers after timeoutMs, as retryable', async () => {
    let arrived: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const r = await receiver(() => {
      arrived(); // and never answers
    });
    // The timeout is fired by the test once the request is at the receiver: no elapsed time.
    const timers: { ms: number; fire: () => void }[] = [];
    const t = new WebhookTransport(
      { url: r.url, secret: SECRET },
      {
        timeoutMs: 200,
        clock: new ManualClock(NOW),
        timeout: (ms) => {
          const controller = new AbortController();
          timers.push({
            ms,
            fire: () => {
              controller.abort(new DOMException('timed out', 'TimeoutError'));
            },
          });
          return controller.signal;
        },
      },
    );
    const pending = t.send(message);
    await reached;
    expect(timers.map((timer) => timer.ms)).toEqual([200]);
    timers[0]!.fire();
    expect(await pending).toEqual({
      ok: false,
      retryable: true,
      status: null,
      error: 'timed out after 200 ms',
    });
    expect(r.received).toHaveLength(1);
  });

  it('answers connection refused as retryable, without throwing', async () => {
    const port = await freePort();
    const outcome = await transport(`http://127.0.0.1:${port}/`).send(message);
    expect(outcome).toMatchObject({ ok: false, retryable: true, status: null });
    expect(outcome.ok ? '' : outcome.error).toMatch(/ECONNREFUSED/);
  });

  it('dead-letters a message that cannot be serialised, without sending it', async () => {
    const r = await receiver(reply(200));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const t = transport(r.url);
    expect(await t.send({ ...message, body: circular })).toMatchObject({
      ok: false,
      retryable: false,
      status: null,
    });
    expect(await t.send({ ...message, createdAt: Number.NaN })).toMatchObject({
      ok: false,
      retryable: false,
    });
    expect(r.received).toHaveLength(0);
  });

  it('refuses a target that is not http(s)', () => {
    const clock = new ManualClock();
    expect(
      () => new WebhookTransport({ url: 'ftp://x/', secret: 's' }, { timeoutMs: 1, clock }),
    ).toThrow(RangeError);
    expect(
      () => new WebhookTransport({ url: 'not a url', secret: 's' }, { timeoutMs: 1, clock }),
    ).toThrow(TypeError);
  });
});

describe('verifySignature', () => {
  const body = '{"id":"msg-0001","type":"order.confirmed"}';
  const header = signPayload(SECRET, NOW_SEC, body);

  it('accepts the signed body within the tolerance', () => {
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, header, body, NOW_SEC)).toBe(true);
    expect(verifySignature(SECRET, header, body, NOW_SEC + 300)).toBe(true);
  });

  it('rejects a tampered body', () => {
    expect(verifySignature(SECRET, header, body.replace('confirmed', 'cancelled'), NOW_SEC)).toBe(
      false,
    );
    expect(verifySignature(SECRET, header, `${body} `, NOW_SEC)).toBe(false);
  });

  it('rejects a wrong secret', () => {
    expect(verifySignature('whsec_other', header, body, NOW_SEC)).toBe(false);
  });

  it('rejects an old timestamp, and one too far ahead', () => {
    expect(verifySignature(SECRET, header, body, NOW_SEC + 301)).toBe(false);
    expect(verifySignature(SECRET, header, body, NOW_SEC + 60, 30)).toBe(false);
    expect(verifySignature(SECRET, header, body, NOW_SEC - 301)).toBe(false);
  });

  it('rejects a timestamp changed without re-signing', () => {
    const moved = header.replace(`t=${NOW_SEC}`, `t=${NOW_SEC + 1}`);
    expect(verifySignature(SECRET, moved, body, NOW_SEC)).toBe(false);
  });

  it('rejects malformed headers', () => {
    const v1 = header.split(',')[1]!;
    for (const bad of [
      '',
      v1,
      `t=${NOW_SEC}`,
      `t=abc,${v1}`,
      `t=${NOW_SEC},t=${NOW_SEC},${v1}`,
      `t=${NOW_SEC},v1=zz`,
      `t=${NOW_SEC},v1=${'0'.repeat(64)}`,
      `t=${NOW_SEC},${v1.slice(0, -2)}`,
    ]) {
      expect(verifySignature(SECRET, bad, body, NOW_SEC), bad).toBe(false);
    }
  });

  it('accepts the header when any one of several v1 signatures matches (secret rotation)', () => {
    const other = signPayload('whsec_old', NOW_SEC, body).split(',')[1]!;
    expect(verifySignature(SECRET, `${header},${other}`, body, NOW_SEC)).toBe(true);
    expect(verifySignature(SECRET, `t=${NOW_SEC},${other}`, body, NOW_SEC)).toBe(false);
  });
});
