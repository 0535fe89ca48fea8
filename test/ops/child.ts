import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../persistence/server-process.ts';

/** A child process whose output is kept, for waiting on a line and for failure messages. */
export interface Child {
  readonly process: ChildProcess;
  /** stdout and stderr, interleaved as they came. */
  output(): string;
  stdout(): string;
  /** Resolves once the output matches `pattern`; rejects if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The exit code (or the signal's name). */
  exited(): Promise<number | string | null>;
  /** Sends `signal` (default SIGTERM) if still running, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let done = false;
  const exit = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal);
    }),
  );
  return {
    process: child,
    output: () => out,
    stdout: () => stdout,
    waitForOutput: async (pattern, timeoutMs = 30_000) => {
      let match: RegExpMatchArray | null = null;
      await waitFor(
        () => {
          match = pattern.exec(out);
          if (match === null && done) {
            throw new Error(`process exited before printing ${String(pattern)}:\n${out}`);
          }
          return match !== null;
        },
        timeoutMs,
        `output matching ${String(pattern)}`,
      );
      return match as unknown as RegExpMatchArray;
    },
    exited: () => exit,
    stop: async (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
      return exit;
    },
  };
}
