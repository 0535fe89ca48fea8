import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './server-process.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServerOptions {
  /** Default 'yes'. */
  readonly appendonly?: 'yes' | 'no';
  /** Default 'always' (what strict mode asks for). */
  readonly appendfsync?: 'always' | 'everysec';
  /** More command-line settings, e.g. ['--rename-command', 'CONFIG', '']. */
  readonly args?: readonly string[];
}

/** A redis-server of our own (never the machine's on 6379): its port, data dir and process. */
export interface RedisHandle {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Sends `signal`; for one that ends the process, resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and dir (the AOF is loaded), resolves once it answers. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered. Resolves once the process is stopped. */
  pause(): Promise<void>;
  /** SIGCONT. Resolves once the process runs again. */
  resume(): Promise<void>;
  /** Kills it and removes its data dir. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One PING over a raw socket: true on +PONG (or -LOADING: it is up, ioredis waits for the rest). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data: Buffer) => {
      reply += data.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-LOADING'));
    });
  });
}

/** Whether the process is stopped by a signal: state T in /proc/<pid>/stat (Linux). */
function isStopped(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
}

class RedisProcess implements RedisHandle {
  readonly url: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: readonly string[],
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts the process and waits until it answers; false when it exited first (port taken). */
  async start(): Promise<boolean> {
    this.output = '';
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    live.add(child);
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    const state = { gone: false };
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        state.gone = true;
        live.delete(child);
        resolve();
      });
    });
    const deadline = Date.now() + 10_000;
    while (!state.gone) {
      if (await ping(this.port)) return true;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on ${this.port} did not answer:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') {
      if (signal !== 'SIGKILL') child.kill('SIGCONT'); // a paused process handles nothing else
      await this.exited;
    }
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    if (!(await this.start())) {
      throw new Error(`redis-server could not start again on ${this.port}:\n${this.output}`);
    }
  }

  async pause(): Promise<void> {
    await this.signal('SIGSTOP', true);
  }

  async resume(): Promise<void> {
    await this.signal('SIGCONT', false);
  }

  /**
   * Sends SIGSTOP or SIGCONT and waits until the kernel shows the process stopped (or not): a
   * signal is delivered asynchronously, and a test that pauses Redis must know that nothing sent
   * afterwards can be answered.
   */
  private async signal(signal: 'SIGSTOP' | 'SIGCONT', stopped: boolean): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on ${this.port} is not running`);
    }
    child.kill(signal);
    while (isStopped(child.pid) !== stopped) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  describe(): string {
    return this.output;
  }
}

/**
 * Starts a redis-server on a free loopback port with a fresh data dir, AOF on (`appendfsync
 * always` unless told otherwise) and no RDB saves, and waits until it answers PING.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'stockflow-redis-'));
  const args = [
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    options.appendonly ?? 'yes',
    '--appendfsync',
    options.appendfsync ?? 'always',
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(options.args ?? []),
  ];
  let last = '';
  // The port is free when picked but may be taken before redis-server binds it: pick again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = new RedisProcess(await freePort(), dir, args);
    if (await server.start()) return server;
    last = server.describe();
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not start:\n${last}`);
}
