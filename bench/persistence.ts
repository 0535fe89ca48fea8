/**
 * Persistence benchmark (`npm run bench:persistence`, `-- --quick` for a smoke test): flash-sale
 * reservations/s with the file store and with Redis against no persistence, in the same run;
 * recovery of 1M positions plus 1M journal records for each store; the longest event-loop stall
 * while 1M positions are snapshotted under load. Each scenario runs in a child process of its
 * own. Writes bench/results/persistence.json and persistence.md (full runs).
 *
 * `-- --recovery file` (or `redis`, or `file,redis`) runs only the recovery scenario, `--runs N`
 * times per store (default 1), and prints each outcome; with `--write` the recovery rows of the
 * results (median per store) are replaced and the throughput rows kept as they were. `--profile
 * DIR` writes a CPU profile of each recover() call (not the set-up before it) into DIR. `--data
 * DIR` (file store) prepares the data there once and reuses it in later runs: recovery alone.
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
      // Recovery is the server's start: it runs with the young generation the server gets from
      // `npm start` and the Dockerfile (`--default-semi-space` measures it with node's default instead).
      ...(spec.scenario === 'recovery' && !process.argv.includes('--default-semi-space')
        ? ['--max-semi-space-size=64']
        : []),
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
    ...recoveryTable(positions, records, recoveries),
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

function argValue(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

function recoveryTable(
  positions: number,
  records: number,
  recoveries: readonly RecoveryOutcome[],
): string[] {
  return [
    `| recovery (${positions.toLocaleString('en')} positions + ${records.toLocaleString('en')} journal records) | time | records replayed | snapshot size | snapshot took | longest event-loop stall while snapshotting all positions | longest chunk turn | targets |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...recoveries.map(
      (o) =>
        `| ${o.store} | ${(o.recoveryMs / 1000).toFixed(2)} s | ${o.replayed.toLocaleString('en')} | ${(o.snapshotBytes / 1e6).toFixed(0)} MB | ${(o.snapshotMs / 1000).toFixed(1)} s | ${o.snapshotStallMs.toFixed(1)} ms | ${o.longestChunkMs.toFixed(1)} ms | < 5 s; stall < 50 ms |`,
    ),
  ];
}

/** Only the recovery scenario, for the stores named, `runs` fresh processes each, interleaved. */
async function recoveryOnly(stores: readonly ('file' | 'redis')[]): Promise<void> {
  const runs = Number(argValue('--runs') ?? '1');
  const loadAtStart = loadavg()[0] ?? 0;
  const profileDir = argValue('--profile');
  const dataDir = argValue('--data');
  const positions = 1_000_000;
  const records = 1_000_000;
  const per = new Map<string, RecoveryOutcome[]>(stores.map((s) => [s, []]));
  for (let r = 0; r < runs; r++) {
    for (const store of stores) {
      const profile =
        profileDir === undefined
          ? {}
          : { profile: `${profileDir}/recovery-${store}-${r}.cpuprofile` };
      const o = (await runChild({
        scenario: 'recovery',
        store,
        positions,
        records,
        ...profile,
        ...(dataDir !== undefined && store === 'file' && { dataDir }),
      })) as RecoveryOutcome;
      per.get(store)?.push(o);
      console.log(JSON.stringify(o));
      console.error(
        `recovery ${store}: ${(o.recoveryMs / 1000).toFixed(2)} s, ${(o.recoveryCpuMs / 1000).toFixed(2)} s CPU (snapshot load ${(o.loadSnapshotMs / 1000).toFixed(2)} s, replay ${(o.replayMs / 1000).toFixed(2)} s)`,
      );
    }
  }
  if (!process.argv.includes('--write')) return;
  const dir = new URL('./results/', import.meta.url);
  const previous = JSON.parse(await readFile(new URL('persistence.json', dir), 'utf8')) as {
    throughput: unknown;
    recovery: RecoveryOutcome[];
  };
  const medians = stores.map((store) => {
    const os = [...(per.get(store) ?? [])].sort((a, b) => a.recoveryMs - b.recoveryMs);
    return os[Math.floor(os.length / 2)] as RecoveryOutcome;
  });
  // Prepared data is reused across runs, its snapshot taken once under whatever load the machine
  // had then: the snapshot columns stay those of the full run.
  const recovery = previous.recovery.map((o) => {
    const m = medians.find((r) => r.store === o.store);
    if (m === undefined) return o;
    if (dataDir === undefined) return m;
    const { snapshotMs, snapshotBytes, snapshotStallMs, longestChunkMs } = o;
    return { ...m, snapshotMs, snapshotBytes, snapshotStallMs, longestChunkMs };
  });
  await writeFile(
    new URL('persistence.json', dir),
    `${JSON.stringify({ ...previous, recoveryDate: new Date().toISOString(), recoveryNode: process.version, recovery }, null, 2)}\n`,
  );
  const md = await readFile(new URL('persistence.md', dir), 'utf8');
  // Everything above the recovery table, less the paragraph an earlier --write put there.
  let head = md.slice(0, md.indexOf('| recovery ('));
  const earlier = head.lastIndexOf('\nRecovery (');
  if (earlier !== -1) head = head.slice(0, earlier);
  await writeFile(
    new URL('persistence.md', dir),
    [
      head.trimEnd(),
      '',
      `Recovery (${stores.join(', ')}): ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, load average at start ${loadAtStart.toFixed(1)}, median of ${runs} fresh process(es) per store, the recovering process with \`--max-semi-space-size=64\` as the server runs (\`npm run bench:persistence -- --recovery ${stores.join(',')} --runs ${runs}${dataDir === undefined ? '' : ' --data DIR'} --write\`${dataDir === undefined ? '' : ': the data prepared once and recovered from in each run, the snapshot columns kept from the full run'}). Every other row (the throughput table above, any store not named) is from the full run dated at the top.`,
      '',
      ...recoveryTable(positions, records, recovery),
      '',
    ].join('\n'),
  );
}

const i = process.argv.indexOf(FLAG);
const specJson = i === -1 ? undefined : process.argv[i + 1];
const only = argValue('--recovery');
if (specJson !== undefined) await child(JSON.parse(specJson) as PersistenceSpec);
else if (only !== undefined) await recoveryOnly(only.split(',') as ('file' | 'redis')[]);
else await main();
