/**
 * A snapshot of a flash sale's hot SKU (`npm run bench:hot-snapshot`, `-- --quick` for a smoke
 * run): one book holding a million reservations, snapshotted three times in a row through the
 * engine's snapshot cursor, in process. The book is frozen in the turn its first part is taken
 * (a snapshot says what it held at one sequence), and that turn holds the event loop: this prints
 * the longest turn of each snapshot and their total. Runs in any checkout of the engine, so a
 * worktree of an older commit gives the baseline (docs/engine.md, "Structures that grow").
 */
import { StockEngine, type Command, type CommandResult } from '../engine/index.ts';

const N = process.argv.includes('--quick') ? 100_000 : 1_000_000;

const engine = new StockEngine({
  rules: { channels: [{ id: 'web', priority: 1 }] },
  locations: [{ id: 'L', type: 'dc' }],
  products: [{ sku: 'HOT' }],
  partitions: 1,
});
await engine.execute({ op: 'setOnHand', sku: 'HOT', location: 'L', onHand: 10 * N, asOf: 1 });
let done = 0;
let refused = 0;
const sink = {
  deliver(result: CommandResult, _tag: number, _cmd: Command): void {
    done++;
    if (!result.ok) refused++;
  },
};
for (let i = 0; i < N; i++) {
  engine.submit(
    {
      op: 'reserve',
      reservationId: `r-${i}`,
      channel: 'web',
      sku: 'HOT',
      qty: 1,
      location: 'L',
      ttlMs: 3_600_000,
    },
    sink,
    0,
  );
  if (i % 4_096 === 0) await new Promise((resolve) => setImmediate(resolve));
}
while (done < N) await new Promise((resolve) => setImmediate(resolve));
if (refused > 0) throw new Error(`${String(refused)} reserves refused`);

for (let round = 1; round <= 3; round++) {
  const cursor = engine.storage.beginSnapshot();
  let longest = 0;
  let total = 0;
  let turns = 0;
  for (;;) {
    const t = performance.now();
    const items = cursor.next(64);
    const ms = performance.now() - t;
    if (items === null) break;
    turns++;
    total += ms;
    if (ms > longest) longest = ms;
  }
  console.log(
    `snapshot ${String(round)} of one book holding ${N.toLocaleString('en-US')} reservations: ` +
      `${String(turns)} turns, longest ${longest.toFixed(1)} ms, all ${total.toFixed(0)} ms`,
  );
}
await engine.stop();
