/**
 * Growth stalls (`npm run bench:growth`, `-- --quick` for a smoke run): the structures that grow
 * with the held reservations, filled from empty to millions as a flash sale fills them, each
 * against the one-array layout it replaced, side by side in one run, each in a process of its own.
 * What counts is the longest single insert (the event loop waits it out, and so does every
 * request in flight) and how much time the inserts over 5 ms took together. Writes
 * bench/results/growth.json and growth.md (full runs) and prints the table.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ExpiryHeap } from '../engine/expiry-heap.ts';
import { IdTable, SegmentedIdTable } from '../engine/id-table.ts';
import { ReservationTimes } from '../engine/reservation-times.ts';

const QUICK = process.argv.includes('--quick');
const N = QUICK ? 300_000 : 2_000_000;
const RUNS = QUICK ? 1 : 3;
const SLOW_MS = 5;

type Kind =
  'index-one' | 'index-segmented' | 'times-doubling' | 'times-paged' | 'heap-array' | 'heap-paged';

interface Outcome {
  readonly kind: Kind;
  readonly totalMs: number;
  readonly maxMs: number;
  readonly slowOps: number;
  readonly slowMs: number;
}

/** The layout ReservationTimes had: one Float64Array of rows, doubled (allocated and copied). */
class DoublingTimes {
  private rows = new Float64Array(1_024 * 3);
  private next = 0;

  take(expiresAt: number, endedAt: number, dueAt: number): number {
    if ((this.next + 1) * 3 > this.rows.length) {
      const bigger = new Float64Array(this.rows.length * 2);
      bigger.set(this.rows);
      this.rows = bigger;
    }
    const h = this.next++;
    this.rows[h * 3] = expiresAt;
    this.rows[h * 3 + 1] = endedAt;
    this.rows[h * 3 + 2] = dueAt;
    return h;
  }
}

/** The layout ExpiryHeap had: an array of items (grown by push) and a doubled Float64Array of
 * keys. Keys come in rising, as reservations of one TTL do, so a push never sifts. */
class ArrayHeap {
  private readonly items: { dueAt: number }[] = [];
  private keys = new Float64Array(64);

  push(item: { dueAt: number }): void {
    const index = this.items.length;
    if (index === this.keys.length) {
      const keys = new Float64Array(index * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.items.push(item);
    this.keys[index] = item.dueAt;
  }
}

/** What a heap holds: made before the clock starts, so the loop allocates only what the
 * structure itself does. */
interface Due {
  dueAt: number;
  heapIndex: number;
}

function insertFor(kind: Kind, due: readonly Due[]): (i: number, id: string) => void {
  switch (kind) {
    case 'index-one': {
      const t = new IdTable<number>();
      return (i, id) => {
        t.set(id, i);
      };
    }
    case 'index-segmented': {
      const t = new SegmentedIdTable<number>();
      return (i, id) => {
        t.set(id, i);
      };
    }
    case 'times-doubling': {
      const t = new DoublingTimes();
      return (i) => t.take(i, 0, i);
    }
    case 'times-paged': {
      const t = new ReservationTimes();
      return (i) => t.take(i, 0, i);
    }
    case 'heap-array': {
      const h = new ArrayHeap();
      return (i) => {
        h.push(due[i] as Due);
      };
    }
    case 'heap-paged': {
      const h = new ExpiryHeap<Due>();
      return (i) => {
        h.push(due[i] as Due);
      };
    }
  }
}

function measure(kind: Kind): Outcome {
  const ids = Array.from({ length: N }, (_, i) => `res-${i}-${(i * 2654435761) >>> 0}`);
  const due = kind.startsWith('heap')
    ? Array.from({ length: N }, (_, i): Due => ({ dueAt: i, heapIndex: -1 }))
    : [];
  const insert = insertFor(kind, due);
  let maxMs = 0;
  let slowOps = 0;
  let slowMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const a = performance.now();
    insert(i, ids[i] as string);
    const d = performance.now() - a;
    if (d > maxMs) maxMs = d;
    if (d > SLOW_MS) {
      slowOps++;
      slowMs += d;
    }
  }
  const totalMs = performance.now() - t0;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { kind, totalMs: r(totalMs), maxMs: r(maxMs), slowOps, slowMs: r(slowMs) };
}

function child(kind: Kind): Promise<Outcome> {
  const entry = fileURLToPath(import.meta.url);
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', entry, '--child', kind, ...(QUICK ? ['--quick'] : [])],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    proc.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Outcome);
      else reject(new Error(`growth child ${kind} exited with ${String(code)}`));
    });
  });
}

const PAIRS: readonly [string, Kind, Kind][] = [
  ['reservation index (ids to reservations)', 'index-one', 'index-segmented'],
  ['reservation times (three doubles each)', 'times-doubling', 'times-paged'],
  ['expiry heap (one entry each)', 'heap-array', 'heap-paged'],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  process.stdout.write(JSON.stringify(measure(process.argv[childAt + 1] as Kind)));
} else {
  const results: Outcome[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const [, before, after] of PAIRS) {
      // Alternated: the order within a pair flips every run.
      const order = run % 2 === 0 ? [before, after] : [after, before];
      for (const kind of order) {
        const o = await child(kind);
        results.push(o);
        console.error(`run ${run + 1}: ${kind} ${JSON.stringify(o)}`);
      }
    }
  }
  const of = (kind: Kind, f: (o: Outcome) => number): number =>
    median(results.filter((o) => o.kind === kind).map(f));
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const lines = [
    '# Growth stalls (`npm run bench:growth`)',
    '',
    `${new Date().toISOString()}, ${String(os.cpus().length)} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}: ${fmt(N)} inserts from empty into each structure, each in a process of its own, median of ${String(RUNS)} alternated run(s). "Longest insert" is the one call the event loop waited longest for; "inserts over ${String(SLOW_MS)} ms" are the stalls a request in flight would see.`,
    '',
    '| structure | layout | total ms | longest insert, ms | inserts over 5 ms | their time, ms |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, before, after] of PAIRS) {
    for (const [label, kind] of [
      ['one array, doubled (before)', before],
      ['pages or segments (now)', after],
    ] as const) {
      lines.push(
        `| ${name} | ${label} | ${fmt(of(kind, (o) => o.totalMs))} | ${String(of(kind, (o) => o.maxMs))} | ${String(of(kind, (o) => o.slowOps))} | ${fmt(of(kind, (o) => o.slowMs))} |`,
      );
    }
  }
  const md = `${lines.join('\n')}\n`;
  if (!QUICK) {
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    await writeFile(new URL('growth.json', dir), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(new URL('growth.md', dir), md);
  }
  console.log(md);
}
