import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { StockflowClient, type AvailabilityValue } from '../../client/index.ts';
import { waitFor } from '../persistence/server-process.ts';

/**
 * The real server never skips a seq on a live connection, so a scripted peer plays one that does:
 * the client must ask for a fresh snapshot by itself and show it as resynced.
 */
const TOPIC = 'availability:web:SKU-1';

let wss: WebSocketServer;
let port = 0;
const subscribes: unknown[][] = [];
let script: (ws: WebSocket, id: number, topics: string[], n: number) => void = () => undefined;

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  port = (wss.address() as { port: number }).port;
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { op: string; id: number; topics: string[] };
      if (m.op !== 'subscribe') return;
      subscribes.push(m.topics);
      script(ws, m.id, m.topics, subscribes.length);
    });
  });
});
afterAll(async () => {
  await new Promise<void>((resolve) => {
    wss.close(() => {
      resolve();
    });
  });
});

const send = (ws: WebSocket, m: object): void => {
  ws.send(JSON.stringify(m));
};
const delta = (available: number, seq: number) => ({
  op: 'availability',
  topic: TOPIC,
  available,
  seq,
});
const reply = (id: number, available: number, seq: number) => ({
  op: 'subscribe',
  id,
  snapshots: [{ topic: TOPIC, available, seq }],
});

describe('a gap in seq on a live connection', () => {
  it('fetches a fresh snapshot by itself and shows only correct values', async () => {
    script = (ws, id, _topics, n) => {
      if (n === 1) {
        send(ws, delta(10, 1)); // overtakes the reply; already in the snapshot
        send(ws, reply(id, 10, 1));
        send(ws, delta(9, 2));
        send(ws, delta(6, 5)); // seq 3 and 4 were lost
        send(ws, delta(5, 6)); // not shown: the client waits for its snapshot
      } else {
        send(ws, reply(id, 5, 6));
        send(ws, delta(4, 7));
      }
    };
    const client = new StockflowClient({
      url: `ws://127.0.0.1:${port}/v1/ws`,
      apiKey: 'any',
      encoding: 'json',
    });
    try {
      const seen: AvailabilityValue[] = [];
      await client.subscribe([TOPIC], (v) => seen.push(v)).ready;
      await waitFor(() => seen.length >= 4, 5_000, 'the resync');
      expect(seen.map((v) => [v.available, v.seq, v.resynced])).toEqual([
        [10, 1, false],
        [9, 2, false],
        [5, 6, true],
        [4, 7, false],
      ]);
      expect(subscribes).toEqual([[TOPIC], [TOPIC]]);
    } finally {
      await client.close();
    }
  });
});
