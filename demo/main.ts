// `npm run demo`: the server (gateway/main.ts, as `npm start` runs it) with a demo retailer, and
// a small simulator of storefront traffic, orders and location answers, so that the feeds, the
// console and the dashboards move. Ctrl-C stops both cleanly.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { demoConfig, KEYS, LOCATIONS } from './retailer.ts';
import { Simulator } from './simulator.ts';

const ROOT = join(import.meta.dirname, '..');

function say(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

async function waitReady(base: string, exited: () => boolean): Promise<void> {
  for (;;) {
    if (exited()) throw new Error('the server exited during its start');
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      skus: { type: 'string', default: '3000' },
    },
  });
  const port = Number(values.port);
  const skus = Number(values.skus);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`--port must be a port number, got ${values.port}`);
  }
  if (!Number.isInteger(skus) || skus < 10 || skus > 100_000) {
    throw new Error(`--skus must be a whole number within 10..100000, got ${values.skus}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'stockflow-demo-'));
  const configFile = join(dir, 'demo.json');
  writeFileSync(configFile, JSON.stringify(demoConfig({ port, dataDir: join(dir, 'data'), skus })));
  const server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', STOCKFLOW_CONFIG: configFile },
    // The server's log goes to the demo's terminal as it is (readable lines on a TTY).
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    server.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const simulator = new Simulator(base, skus, say);
  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`${why}: stopping the simulator and the server`);
    await simulator.stop();
    if (!exited) server.kill('SIGTERM');
    const code = await exit;
    rmSync(dir, { recursive: true, force: true });
    const c = simulator.counts;
    say(
      `stopped (server exit ${String(code)}): ${c.orders} orders, ${c.reserves} reserves, ` +
        `${c.answers} location answers, ${c.feeds} feeds, ${c.deltas} deltas seen`,
    );
    process.exit(code === 0 ? 0 : 1);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  void exit.then(() => {
    if (!stopping) {
      say('the server stopped');
      process.exit(1);
    }
  });

  try {
    await waitReady(base, () => exited);
  } catch (error) {
    await stop(error instanceof Error ? error.message : String(error));
    return;
  }
  say(
    `retailer: ${LOCATIONS.filter((l) => l.type === 'store').length} stores, 2 DCs, ` +
      `1 dropship partner, ${skus} SKUs, channels web, app, kiosk, marketplace (capped)`,
  );
  try {
    await simulator.start();
  } catch (error) {
    await stop(`the simulator failed: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  process.stdout.write(
    [
      '',
      `  Stockflow demo on ${base}`,
      `  Console:      ${base}/console/ (admin key ${KEYS.admin})`,
      `  Availability: curl -H 'Authorization: Bearer ${KEYS.web}' '${base}/v1/availability?channel=web&sku=DEMO-00001'`,
      `  Metrics:      ${base}/metrics`,
      '  Ctrl-C stops it.',
      '',
      '',
    ].join('\n'),
  );
  say('demo running');
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
