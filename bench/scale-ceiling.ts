/**
 * The ceiling of sharding on this machine (`npm run bench:scale-ceiling`), beside bench:scale:
 * what N servers that share nothing do, each a process of its own with server.workers: 1 and
 * 8/N of the connections, against one server with all 8. No command crosses between them, so
 * this is what server.workers: N could reach if forwarding cost nothing. Durable spread reserves
 * over 10k SKU-locations (granted only; the file store with fsync always, or `--store memory`),
 * rounds alternating. Writes bench/results/scale-ceiling.md.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { StockflowServer } from './durable-server.ts';
import { runChild } from './durable-suite.ts';
import { serveDurableLoad, type MeasureJob } from './durable-load.ts';
import { KEYS, stockOf } from './scale-suite.ts';

const CONNECTIONS = 8;
const SECONDS = 5;

interface Round {
  readonly servers: number;
  readonly granted: number;
  readonly cores: number;
}

async function round(servers: number, store: 'file' | 'memory'): Promise<Round> {
  const { stock } = stockOf('spread');
  const list: StockflowServer[] = [];
  try {
    for (let i = 0; i < servers; i++) {
      const s = await StockflowServer.start(store, KEYS, [...stock.keys()]);
      list.push(s);
      await s.loadStock(stock, 1, 'dc-0');
    }
    let cpu0: number[] = [];
    let t0 = 0;
    let ready = 0;
    let allReady = (): void => undefined;
    const barrier = new Promise<void>((resolve) => (allReady = resolve));
    const results = await Promise.all(
      list.map((s, i) => {
        const job: MeasureJob = {
          mode: 'measure',
          port: s.port,
          key: KEYS.storefront,
          connections: CONNECTIONS / servers,
          window: 128,
          durationMs: SECONDS * 1_000,
          target: { kind: 'spread', skus: 10_000 },
          warmupMs: 1_000,
          tag: `c${i}`,
          seed: i + 1,
        };
        return runChild<{ outcomes: Record<string, number>; startMs: number; endMs: number }>(
          'load',
          job,
          () => {
            // Every generator goes at once, when the last is ready; the clock starts then.
            if (++ready === servers) {
              cpu0 = list.map((x) => x.proc().cpuMicros);
              t0 = performance.now();
              allReady();
            }
            return barrier;
          },
          import.meta.filename,
        );
      }),
    );
    const wall = (performance.now() - t0) / 1_000;
    const granted = results.reduce(
      (n, r) => n + (r.outcomes.granted ?? 0) / ((r.endMs - r.startMs) / 1_000),
      0,
    );
    const cpu = list.reduce((n, s, i) => n + s.proc().cpuMicros - (cpu0[i] ?? 0), 0);
    return { servers, granted: Math.round(granted), cores: cpu / 1e6 / wall };
  } finally {
    for (const s of list) await s.stop();
  }
}

async function main(args: readonly string[]): Promise<void> {
  const store =
    args.includes('--store') && args[args.indexOf('--store') + 1] === 'memory' ? 'memory' : 'file';
  const rounds: Round[] = [];
  for (let r = 0; r < 3; r++) {
    for (const n of r % 2 === 0 ? [1, 2] : [2, 1]) {
      const result = await round(n, store);
      rounds.push(result);
      console.log(`${n} server(s): ${result.granted} granted/s, ${result.cores.toFixed(2)} cores`);
    }
  }
  const median = (n: number): number => {
    const list = rounds
      .filter((r) => r.servers === n)
      .map((r) => r.granted)
      .sort((a, b) => a - b);
    return list[Math.floor(list.length / 2)] ?? 0;
  };
  const lines = [
    '# The ceiling of sharding on this machine (`npm run bench:scale-ceiling`)',
    '',
    `${new Date().toISOString()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, ` +
      `store ${store}, load average at end ${JSON.stringify(os.loadavg().map((l) => Math.round(l * 100) / 100))}. ` +
      `Durable spread reserves over 10k SKU-locations, ${CONNECTIONS} connections × 128 in flight in all, ` +
      `${SECONDS} s a round, granted only. Two servers share nothing: each is its own process ` +
      '(server.workers: 1) with half the connections and all the SKUs; nothing is forwarded.',
    '',
    '| servers | granted/s (median of 3) | every round | server cores |',
    '| ---: | ---: | --- | --- |',
    ...[1, 2].map((n) => {
      const mine = rounds.filter((r) => r.servers === n);
      return `| ${n} | ${median(n)} | ${mine.map((r) => r.granted).join(', ')} | ${mine.map((r) => r.cores.toFixed(2)).join(', ')} |`;
    }),
    '',
    `Two against one: ${(median(2) / Math.max(1, median(1))).toFixed(2)}x.`,
    '',
  ];
  const file = new URL(
    `./results/scale-ceiling${store === 'file' ? '' : `-${store}`}.md`,
    import.meta.url,
  );
  await writeFile(file, lines.join('\n'));
  console.log(lines.join('\n'));
}

if (process.argv.includes('--child')) serveDurableLoad();
else await main(process.argv.slice(2));
