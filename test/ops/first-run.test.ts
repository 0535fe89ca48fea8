import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIRST_RUN_KEY_FILE } from '../../gateway/first-run.ts';
import { startServer, type ServerHandle } from '../persistence/server-process.ts';
import { run } from './child.ts';
import { ROOT } from './ops-files.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stockflow-first-run-'));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function stop(server: ServerHandle): Promise<void> {
  server.process.kill('SIGTERM');
  expect(await server.exited()).toBe(0);
}

/** The JSON log lines a server wrote (stdout is a pipe here, so every log line is JSON). */
function logLines(output: string): { level: string; msg: string; [k: string]: unknown }[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string });
}

describe('the first run', () => {
  it('with no keys: makes one admin key, keeps it 0600, prints it once with the console URL and a curl line', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const config = { persistence: { store: 'file', dir: data } };
    const first = await startServer(config, dir);
    const keyFile = join(data, FIRST_RUN_KEY_FILE);
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(key).toMatch(/^sf_admin_[\w-]{32,}$/);
    await expect
      .poll(() => first.output(), { timeout: 10_000 })
      .toContain(`Authorization: Bearer ${key}`);
    const out = first.output();
    expect(out.split(key).length - 1).toBe(2); // the key line and the curl line
    expect(out).toContain(`http://127.0.0.1:${first.port}/console/`);
    expect(out).toContain(
      `curl -H 'Authorization: Bearer ${key}' ${first.base}/v1/config/locations`,
    );
    const warning = logLines(out).find((l) => l.level === 'warn' && /auth\.apiKeys/.test(l.msg));
    expect(warning?.msg).toMatch(/configure auth\.apiKeys for production/);
    // The key works, as printed, and nothing works without it.
    const headers = { authorization: `Bearer ${key}` };
    expect((await fetch(`${first.base}/v1/config/locations`, { headers })).status).toBe(200);
    expect((await fetch(`${first.base}/v1/config/locations`)).status).toBe(401);
    await stop(first);

    // The next start reuses it and does not print it again, but still warns.
    const second = await startServer(config, dir);
    expect((await fetch(`${second.base}/v1/config/locations`, { headers })).status).toBe(200);
    await stop(second);
    expect(second.output()).not.toContain(key);
    expect(logLines(second.output()).some((l) => /auth\.apiKeys/.test(l.msg))).toBe(true);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(key);
  });

  it('with keys configured: makes no key, prints nothing and does not warn', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const server = await startServer(
      {
        persistence: { store: 'file', dir: data },
        auth: { apiKeys: [{ key: 'configured-admin-key-0000', name: 'ops', role: 'admin' }] },
      },
      dir,
    );
    await stop(server);
    expect(existsSync(join(data, FIRST_RUN_KEY_FILE))).toBe(false);
    expect(server.output()).not.toContain('sf_admin_');
    expect(server.output()).not.toContain('auth.apiKeys');
  });

  it('refuses a key file that holds something else, with one message', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, FIRST_RUN_KEY_FILE), 'not a key\n');
    const server = run(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', STOCKFLOW_PERSISTENCE__DIR: data },
    });
    expect(await server.exited()).toBe(1);
    const fatal = logLines(server.output()).find((l) => l.level === 'fatal');
    expect(JSON.stringify(fatal)).toContain('does not hold a first-run admin key');
  });
});

describe('logs', () => {
  it('are readable lines on a terminal and JSON in a pipe', () => {
    const code =
      "import { createLogger } from './config/index.ts';" +
      "createLogger({ level: 'info' }).info({ sku: 'A' }, 'stock set');";
    const piped = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(JSON.parse(piped.stdout.trim())).toMatchObject({ level: 'info', msg: 'stock set' });
    // `script` runs the same under a pseudo-terminal.
    const command = `${process.execPath} --import tsx --input-type=module -e "${code}"`;
    const tty = spawnSync('script', ['-qfec', command, '/dev/null'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/INFO.*stock set/);
    expect(tty.stdout).toMatch(/sku.*"A"/);
    expect(tty.stdout).not.toContain('{"level"');
  });
});

describe('when uWebSockets.js cannot load', () => {
  it('ends the start with one line naming the fix, not a stack trace', async () => {
    const dir = tempDir();
    // Makes the native binary's load fail as it does on Node 22+ with glibc < 2.38.
    const hook = join(dir, 'break-uws.cjs');
    writeFileSync(
      hook,
      [
        "const Module = require('node:module');",
        'const load = Module._load;',
        'Module._load = function (request, ...rest) {',
        "  if (/uws_.*\\.node$/.test(request)) throw new Error(\"/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by \" + request + ')');",
        '  return load.call(this, request, ...rest);',
        '};',
      ].join('\n'),
    );
    const server = run(
      process.execPath,
      ['--require', hook, '--import', 'tsx', 'gateway/main.ts'],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', STOCKFLOW_PERSISTENCE__DIR: join(dir, 'd') },
      },
    );
    expect(await server.exited()).toBe(1);
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.trim().length > 0);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatch(/uWebSockets\.js cannot load/);
    expect(line).toContain('GLIBC_2.38');
    expect(line).toMatch(/Node 20/);
    expect(line).toMatch(/Debian 13, Ubuntu 24\.04/);
    expect(line).toMatch(/Docker image/);
    expect(existsSync(join(dir, 'd'))).toBe(false);
  });
});
