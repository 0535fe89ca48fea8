import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../persistence/server-process.ts';
import { ROOT } from './ops-files.ts';

/** One series of an instant query's answer. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PrometheusHandle {
  readonly base: string;
  /** An instant query through the HTTP API; throws on a query Prometheus refuses. */
  query(expr: string): Promise<Sample[]>;
  output(): string;
  stop(): Promise<void>;
}

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Sample[] };
}

/**
 * A real Prometheus (Debian's `prometheus` binary) in `dir` on a free port, scraping `target`
 * (host:port) every second as job `stockflow`, with the repository's rules loaded (a rule that
 * does not load stops the start).
 */
export async function startPrometheus(dir: string, target: string): Promise<PrometheusHandle> {
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(join(ROOT, 'deploy', 'prometheus', 'rules.yml'))}`,
      'scrape_configs:',
      '  - job_name: stockflow',
      `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (exited) throw new Error(`prometheus exited during start:\n${out}`);
      try {
        return (await fetch(`${base}/-/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    30_000,
    'prometheus to be ready',
  );
  return {
    base,
    output: () => out,
    query: async (expr) => {
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const answer = (await res.json()) as QueryAnswer;
      if (answer.status !== 'success' || answer.data === undefined) {
        throw new Error(`prometheus refused ${expr}: ${answer.error ?? res.status}`);
      }
      return answer.data.result;
    },
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}
