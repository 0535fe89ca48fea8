import { createServer } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../engine/index.ts';
import { SettlementSinks } from '../../gateway/settlement-sinks.ts';
import { verifySignature } from '../../gateway/webhook-transport.ts';
import { freePort } from '../persistence/server-process.ts';

const SECRET = 'whsec-erp-0000000000000000';
const answers = [401, 400, 200];
const received: string[] = [];
let port = 0;
const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (raw += chunk));
  req.on('end', () => {
    const signed = verifySignature(
      SECRET,
      String(req.headers['stockflow-signature'] ?? ''),
      raw,
      Math.floor(Date.now() / 1000),
    );
    received.push(raw);
    res.writeHead(signed ? (answers.shift() ?? 200) : 403).end();
  });
});

beforeAll(async () => {
  port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('settlement sinks', () => {
  it('retries a settlement webhook that refuses with a 4xx instead of giving the event up', async () => {
    const sinks = new SettlementSinks(
      {
        webhook: { url: `http://127.0.0.1:${String(port)}/erp`, secret: SECRET },
        redisStream: null,
      },
      1_000,
      new SystemClock(),
      pino({ level: 'silent' }),
    );
    expect(sinks.streams).toEqual(['erp:webhook']);
    expect(sinks.transportFor('location:paris')).toBeUndefined();
    const transport = sinks.transportFor('erp:webhook');
    if (transport === undefined) throw new Error('no erp:webhook transport');
    const message = {
      messageId: 'o-1:m1',
      orderId: 'o-1',
      stream: 'erp:webhook',
      type: 'order.placed',
      body: { eventId: 'o-1:erp:1', seq: 1 },
      createdAt: Date.now(),
    };
    expect(await transport.send(message)).toMatchObject({
      ok: false,
      retryable: true,
      status: 401,
    });
    expect(await transport.send(message)).toMatchObject({
      ok: false,
      retryable: true,
      status: 400,
    });
    expect(await transport.send(message)).toEqual({ ok: true, status: 200 });
    expect(received).toHaveLength(3);
    expect(JSON.parse(received[2] as string)).toMatchObject({ data: { eventId: 'o-1:erp:1' } });
    await sinks.close();
  });
});
