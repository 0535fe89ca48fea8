import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KEYS, start, within, type Running } from './harness.ts';

const SKUS = 200;
let r: Running;
beforeAll(async () => {
  r = await start({
    skus: SKUS,
    gateway: { maxBackpressureBytes: 16 * 1024, maxSubscriptionsPerConnection: 1_000 },
  });
});
afterAll(async () => {
  await r.stop();
});

/** A masked client text frame (RFC 6455), built by hand. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([0x81, 0x80 | len])
      : len < 65_536
        ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = 0x81;
            h[1] = 0x80 | 127;
            h.writeBigUInt64BE(BigInt(len), 2);
            return h;
          })();
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([header, mask, masked]);
}

/** Opens a WebSocket by hand, subscribes, and from then on never reads a byte. */
async function neverReadingSubscriber(port: number, topics: string[]): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    5_000,
    'tcp connect',
  );
  socket.write(
    [
      'GET /v1/ws HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      `Authorization: Bearer ${KEYS.web}`,
      '',
      '',
    ].join('\r\n'),
  );
  const head = await within(
    new Promise<string>((resolve) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk.toString('latin1'));
      });
    }),
    5_000,
    'the 101',
  );
  expect(head.startsWith('HTTP/1.1 101')).toBe(true);
  socket.pause();
  socket.on('error', () => {
    // The server cuts it off; a reset is expected.
  });
  for (let i = 0; i < topics.length; i += 100) {
    socket.write(
      textFrame(JSON.stringify({ op: 'subscribe', id: i, topics: topics.slice(i, i + 100) })),
    );
  }
  return socket;
}

async function backpressureDisconnects(): Promise<number> {
  const metric = r.gateway.metrics.getSingleMetric(
    'stockflow_gateway_ws_backpressure_disconnects_total',
  );
  const data = await metric?.get();
  return data?.values[0]?.value ?? 0;
}

async function gaugeValue(name: string): Promise<number> {
  const data = await r.gateway.metrics.getSingleMetric(name)?.get();
  return data?.values[0]?.value ?? Number.NaN;
}

describe('a subscriber that never reads', () => {
  it('is cut off at the backpressure limit while the others keep receiving', async () => {
    const topics: string[] = [];
    for (let i = 1; i <= SKUS; i++) {
      topics.push(`availability:web:sku-${i}`);
      for (const l of ['dc1', 'store1', 'store2']) topics.push(`availability:web:sku-${i}@${l}`);
    }
    const slow = await neverReadingSubscriber(r.port, topics);
    const healthy = await Client.connect(r.port, { key: KEYS.web, binary: true });
    await healthy.request({ op: 'subscribe', topics: ['availability:web:sku-1@dc1'] });
    const before = r.gateway.metrics.getSingleMetric('stockflow_gateway_ws_connections');
    expect((await before?.get())?.values[0]?.value).toBe(2);

    // Change every watched SKU until the slow reader is cut off; the healthy one sees each round.
    let round = 0;
    let bufferedSeen = 0;
    while ((await backpressureDisconnects()) === 0) {
      // What uWS holds for the slow reader shows in the buffered-bytes gauges until the cut.
      const worst = await gaugeValue('stockflow_gateway_ws_buffered_bytes_max');
      expect(await gaugeValue('stockflow_gateway_ws_buffered_bytes')).toBeGreaterThanOrEqual(worst);
      bufferedSeen = Math.max(bufferedSeen, worst);
      round++;
      expect(round).toBeLessThan(2_000);
      await Promise.all(
        Array.from({ length: SKUS }, (_, i) =>
          r.engine.execute({
            op: 'setOnHand',
            sku: `sku-${i + 1}`,
            location: 'dc1',
            onHand: round,
            asOf: round,
          }),
        ),
      );
      r.engine.flushDeltas();
      await healthy.delta('availability:web:sku-1@dc1', (a) => a === round);
    }
    // After the cut, deltas keep flowing to the healthy subscriber.
    for (let extra = 1; extra <= 3; extra++) {
      const value = round + extra;
      await r.engine.execute({
        op: 'setOnHand',
        sku: 'sku-1',
        location: 'dc1',
        onHand: value,
        asOf: value,
      });
      r.engine.flushDeltas();
      await healthy.delta('availability:web:sku-1@dc1', (a) => a === value);
    }
    const after = r.gateway.metrics.getSingleMetric('stockflow_gateway_ws_connections');
    expect((await after?.get())?.values[0]?.value).toBe(1);
    expect(bufferedSeen).toBeGreaterThan(0);
    // The cut-off socket's buffer is gone with it; the healthy reader has read everything.
    expect(await gaugeValue('stockflow_gateway_ws_buffered_bytes')).toBe(0);
    slow.destroy();
    await healthy.close();
  });
});
