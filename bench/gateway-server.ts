/**
 * The server side of the gateway benchmark, one child process per server (bench/gateway.ts
 * forks it): the real gateway over a real engine, or one of the baselines measured through the
 * same load generator, a bare uWS.js WebSocket echo and a bare uWS.js HTTP handler. Talks to
 * the parent over IPC.
 */
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { StockEngine, type Command } from '../engine/index.ts';
import { loadConfig } from '../config/index.ts';
import { createGateway, type Gateway, type GatewayConfig } from '../gateway/index.ts';
import { sendToParent } from './child-ipc.ts';
import { wallMs } from './gateway-wire.ts';

export type ServerMode = 'gateway' | 'echo' | 'bare-http';

export interface ServerSpec {
  readonly mode: ServerMode;
  /** SKUs sku-0..sku-(skus-1), each stocked at locations loc-0..loc-(locations-1). */
  readonly skus: number;
  readonly locations: number;
  readonly stock: number;
  readonly key: string;
  /** Topic whose delta publish times are recorded (fan-out latency). */
  readonly recordTopic?: string | undefined;
}

export type ServerRequest =
  | { readonly type: 'position'; readonly sku: string; readonly location: string }
  | { readonly type: 'availability'; readonly sku: string }
  | { readonly type: 'deltaLog' }
  | { readonly type: 'cpu' }
  | { readonly type: 'stop' };

export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | {
      readonly type: 'position';
      readonly onHand: number;
      readonly reserved: number;
      readonly allocated: number;
    }
  | { readonly type: 'availability'; readonly available: number }
  | { readonly type: 'deltaLog'; readonly seq: number[]; readonly at: number[] }
  | { readonly type: 'cpu'; readonly micros: number }
  | { readonly type: 'stopped' };

export const AVAILABILITY_BODY = '{"channel":"web","sku":"sku-0","location":null,"available":42}';

/** The gateway as both benchmarks run it: loopback, one storefront key for `web`, no rate limit. */
export function benchGatewayOptions(key: string): GatewayConfig {
  return loadConfig({
    env: {},
    values: {
      server: {
        host: '127.0.0.1',
        port: 0,
        metricsPort: null,
        metricsHost: '127.0.0.1',
        maxPayloadBytes: 64 * 1024,
        maxBackpressureBytes: 64 * 1024 * 1024,
        idleTimeoutSec: 120,
        maxSubscriptionsPerConnection: 1_000,
        httpBodyLimitBytes: 1024 * 1024,
        allowedOrigins: [],
        shutdownGraceMs: 5_000,
      },
      auth: {
        apiKeys: [{ key, name: 'bench', role: 'storefront', channel: 'web' }],
        rateLimit: { perSecond: 1e9, burst: 1e9 },
      },
      // The key's channel must be one the rules name (the gateway itself reads no rules).
      rules: { channels: [{ id: 'web', priority: 1 }] },
    },
  });
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

async function startGateway(
  spec: ServerSpec,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const locations = Array.from({ length: spec.locations }, (_, i) => ({
    id: `loc-${i}`,
    type: 'store',
  }));
  const engine = new StockEngine({
    rules: { channels: [{ id: 'web', priority: 1 }] },
    locations,
    products: Array.from({ length: spec.skus }, (_, i) => ({ sku: `sku-${i}` })),
    maxQueuedPerSku: 1_000_000,
  });
  const loads: Promise<unknown>[] = [];
  for (let s = 0; s < spec.skus; s++) {
    for (const l of locations) {
      const cmd: Command = {
        op: 'setOnHand',
        sku: `sku-${s}`,
        location: l.id,
        onHand: spec.stock,
        asOf: 1,
      };
      loads.push(engine.execute(cmd));
    }
  }
  await Promise.all(loads);
  const gateway: Gateway = createGateway(
    engine,
    benchGatewayOptions(spec.key),
    pino({ level: 'warn' }),
  );
  const seqs: number[] = [];
  const times: number[] = [];
  if (spec.recordTopic !== undefined) {
    const topic = spec.recordTopic;
    // Registered after the gateway's listener, so this runs right after the publish.
    engine.onDeltas((deltas) => {
      for (const d of deltas) {
        if (d.topic !== topic) continue;
        seqs.push(d.seq);
        times.push(wallMs());
      }
    });
  }
  process.on('message', (m: ServerRequest) => {
    if (m.type === 'position') {
      const p = engine.position(m.sku, m.location);
      send({
        type: 'position',
        onHand: p?.onHand ?? -1,
        reserved: p?.reserved ?? -1,
        allocated: p?.allocated ?? -1,
      });
    } else if (m.type === 'availability') {
      const a = engine.availability('web', m.sku);
      send({ type: 'availability', available: a.ok ? a.available : -1 });
    } else if (m.type === 'deltaLog') {
      send({ type: 'deltaLog', seq: seqs, at: times });
    }
  });
  const { port } = await gateway.listen();
  return {
    port,
    stop: async () => {
      await gateway.close();
      await engine.stop();
    },
  };
}

function listen(app: uWS.TemplatedApp): Promise<number> {
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (socket === false) reject(new Error('cannot listen'));
      else resolve(uWS.us_socket_local_port(socket));
    });
  });
}

/** Baseline (a): uWS.js with nothing behind it, echoing each frame back. */
async function startEcho(): Promise<{ port: number; stop: () => Promise<void> }> {
  const app = uWS.App();
  app.ws('/*', {
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 120,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
    },
  });
  const port = await listen(app);
  return {
    port,
    stop: () => {
      app.close();
      return Promise.resolve();
    },
  };
}

/** Baseline for HTTP reads: uWS.js answering the same JSON body with no work behind it. */
async function startBareHttp(): Promise<{ port: number; stop: () => Promise<void> }> {
  const app = uWS.App();
  app.get('/*', (res) => {
    res
      .writeStatus('200 OK')
      .writeHeader('content-type', 'application/json')
      .end(AVAILABILITY_BODY);
  });
  const port = await listen(app);
  return {
    port,
    stop: () => {
      app.close();
      return Promise.resolve();
    },
  };
}

/** Runs as a forked child: reads its spec from argv. */
export async function serveServer(spec: ServerSpec): Promise<void> {
  process.on('message', (m: ServerRequest) => {
    if (m.type !== 'cpu') return;
    const cpu = process.cpuUsage();
    send({ type: 'cpu', micros: cpu.user + cpu.system });
  });
  const server =
    spec.mode === 'gateway'
      ? await startGateway(spec)
      : spec.mode === 'echo'
        ? await startEcho()
        : await startBareHttp();
  process.on('message', (m: ServerRequest) => {
    if (m.type !== 'stop') return;
    void server
      .stop()
      .then(() => sendToParent({ type: 'stopped' } satisfies ServerMessage))
      .then(() => process.exit(0));
  });
  send({ type: 'ready', port: server.port });
}
