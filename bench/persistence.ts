/**
 * Persistence benchmark (`npm run bench:persistence`, `-- --quick` for a smoke test): flash-sale
 * reservations/s with the file store and with Redis against no persistence, in the same run;
 * recovery of 1M positions plus 1M journal records for each store; the longest event-loop stall
 * while 1M positions are snapshotted under load. Each scenario runs in a child process of its
 * own. Writes bench/results/persistence.json and persistence.md (full runs).
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  runPersistenceScenario,
  type PersistenceOutcome,
  type PersistenceSpec,
  type RecoveryOutcome,
  type ThroughputOutcome,
} from './persistence-scenarios.ts';

const MARK = '@@persistence-bench ';
const FLAG = '--child';

async function child(spec: PersistenceSpec): Promise<void> {
  const outcome = await runPersistenceScenario(spec);
  process.stdout.write(`${MARK}${JSON.stringify(outcome)}\n`);
  process.exit(0);
}

function runChild(spec: PersistenceSpec): Promise<PersistenceOutcome> {
  const entry = fileURLToPath(import.meta.url);
  const proc = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=8192',
      '--import',
      'tsx',
      entry,
      FLAG,
      JSON.stringify(spec),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let outcome: PersistenceOutcome | null = null;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith(MARK)) outcome = JSON.parse(line.slice(MARK.length)) as PersistenceOutcome;
  });
  return new Promise((resolve, reject) => {
    proc.on('close', (code) => {
      if (code === 0 && outcome !== null) resolve(outcome);
      else reject(new Error(`child ${JSON.stringify(spec)} exited ${String(code)}`));
    });
  });
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const k = (n: number): string => `${Math.round(n / 1000)}k/s`;

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runs = quick ? 1 : 3;
  const reservesN = quick ? 100_000 : 600_000;
  const throughputRows: {
    shape: string;
    store: string;
    perSecond: number;
    recordsPerCommit: number;
  }[] = [];
  for (const shape of ['hot', 'spread'] as const) {
    // The three stores alternate inside each round, so drift in machine load hits all alike.
    const per: Record<string, ThroughputOutcome[]> = { memory: [], file: [], redis: [] };
    for (let r = 0; r < runs; r++) {
      for (const store of ['memory', 'file', 'redis'] as const) {
        const o = (await runChild({
          scenario: 'throughput',
          store,
          shape,
          reserves: reservesN,
        })) as ThroughputOutcome;
        if (o.granted !== reservesN)
          throw new Error(`${store} ${shape}: granted ${o.granted} of ${reservesN}`);
        per[store]?.push(o);
        console.error(
          `throughput ${shape} ${store}: ${k(o.perSecond)} (${o.recordsPerCommit.toFixed(0)} records/commit)`,
        );
      }
    }
    for (const store of ['memory', 'file', 'redis']) {
      const os = per[store] ?? [];
      throughputRows.push({
        shape,
        store,
        perSecond: median(os.map((o) => o.perSecond)),
        recordsPerCommit: median(os.map((o) => o.recordsPerCommit)),
      });
    }
  }
  const positions = quick ? 100_000 : 1_000_000;
  const records = quick ? 100_000 : 1_000_000;
  const recoveries: RecoveryOutcome[] = [];
  for (const store of ['file', 'redis'] as const) {
    const o = (await runChild({
      scenario: 'recovery',
      store,
      positions,
      records,
    })) as RecoveryOutcome;
    recoveries.push(o);
    console.error(
      `recovery ${store}: ${(o.recoveryMs / 1000).toFixed(2)} s, snapshot stall ${o.snapshotStallMs.toFixed(1)} ms`,
    );
  }

  const mem = (shape: string): number =>
    throughputRows.find((r) => r.shape === shape && r.store === 'memory')?.perSecond ?? 1;
  const lines = [
    `# Persistence benchmark${quick ? ' (quick)' : ''}`,
    '',
    `${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length} · median of ${runs} run(s) each in a fresh process · ${reservesN.toLocaleString('en')} reservations per run (hot: one SKU-location; spread: 10,000 SKU-locations), 4,096 per turn, ≤ 65,536 in flight · file store: fdatasync every group commit · Redis 7 (redis-server started by the bench): appendonly yes, appendfsync always · \`npm run bench:persistence\``,
    '',
    '| flash sale | no persistence | file store | Redis | file ÷ memory | Redis ÷ memory | targets |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...(['hot', 'spread'] as const).map((shape) => {
      const get = (store: string) =>
        throughputRows.find((r) => r.shape === shape && r.store === store);
      const file = get('file');
      const redis = get('redis');
      return `| ${shape} | ${k(mem(shape))} | ${k(file?.perSecond ?? 0)} (${Math.round(file?.recordsPerCommit ?? 0)} rec/commit) | ${k(redis?.perSecond ?? 0)} (${Math.round(redis?.recordsPerCommit ?? 0)} rec/commit) | ${((file?.perSecond ?? 0) / mem(shape)).toFixed(2)} | ${((redis?.perSecond ?? 0) / mem(shape)).toFixed(2)} | file ≥ 0.70, Redis ≥ 0.50 |`;
    }),
    '',
    `| recovery (${positions.toLocaleString('en')} positions + ${records.toLocaleString('en')} journal records) | time | records replayed | snapshot size | snapshot took | longest event-loop stall while snapshotting all positions | longest chunk turn | targets |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...recoveries.map(
      (o) =>
        `| ${o.store} | ${(o.recoveryMs / 1000).toFixed(2)} s | ${o.replayed.toLocaleString('en')} | ${(o.snapshotBytes / 1e6).toFixed(0)} MB | ${(o.snapshotMs / 1000).toFixed(1)} s | ${o.snapshotStallMs.toFixed(1)} ms | ${o.longestChunkMs.toFixed(1)} ms | < 10 s; stall < 50 ms |`,
    ),
    '',
  ];
  const markdown = lines.join('\n');
  if (!quick) {
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    await writeFile(
      new URL('persistence.json', dir),
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, throughput: throughputRows, recovery: recoveries }, null, 2)}\n`,
    );
    await writeFile(new URL('persistence.md', dir), markdown);
  }
  console.log(markdown);
}

const i = process.argv.indexOf(FLAG);
const specJson = i === -1 ? undefined : process.argv[i + 1];
if (specJson !== undefined) await child(JSON.parse(specJson) as PersistenceSpec);
else await main();
