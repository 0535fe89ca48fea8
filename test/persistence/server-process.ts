import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A free TCP port on loopback (the OS picks, we release it and hand it on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The value of an unlabelled metric in a /metrics text, or null without it. */
export function metricValue(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.split(' ')[1]);
}

/** The value of an unlabelled metric in the server's /metrics at `base`, or null without it. */
export async function scrapeValue(base: string, name: string): Promise<number | null> {
  return metricValue(await (await fetch(`${base}/metrics`)).text(), name);
}

export interface ServerHandle {
  readonly port: number;
  readonly base: string;
  readonly process: ChildProcess;
  /** Everything the server wrote to stderr (and stdout), for failure messages. */
  output(): string;
  exited(): Promise<number | null>;
}

/** The repository's root (the server runs from it, as `npm start` does). */
const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Runs the real server (gateway/main.ts, what `npm start` runs) as a child process with a
 * config file, and waits until /readyz answers 200.
 */
export async function startServer(
  config: Record<string, unknown>,
  dir: string,
): Promise<ServerHandle> {
  const server = await launchServer(config, dir);
  let dead = false;
  void server.exited().then(() => (dead = true));
  await waitFor(
    async () => {
      if (dead) throw new Error(`server exited during start:\n${server.output()}`);
      try {
        return (await fetch(`${server.base}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    30_000,
    'the server to be ready',
  );
  return server;
}

/**
 * Starts the real server as `startServer` does, on a free port of 127.0.0.1, without waiting
 * for it to be ready (tests of what happens during the start).
 */
export async function launchServer(
  config: Record<string, unknown>,
  dir: string,
): Promise<ServerHandle> {
  const port = await freePort();
  const file = join(dir, `config-${port}.json`);
  const server = (config.server ?? {}) as Record<string, unknown>;
  writeFileSync(
    file,
    JSON.stringify({ ...config, server: { ...server, host: '127.0.0.1', port } }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', STOCKFLOW_CONFIG: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  return { port, base, process: child, output: () => out, exited: () => exit };
}
