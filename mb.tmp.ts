import { IdTable, idHash } from './engine/id-table.ts';
const N = 1_000_000, M = 400_000;
const keys = Array.from({ length: N + M }, (_, i) => 'bench-a-' + String(1_000_000_000 + i));
for (let r = 0; r < 3; r++) {
  const t = new IdTable<object>();
  for (let i = 0; i < N; i++) t.set(keys[i]!, { i });
  let t0 = performance.now();
  for (let i = N; i < N + M; i++) { const id = keys[i]!; const h = idHash(id); if (t.get(id, h) === undefined) t.set(id, { i }, h); t.set(id, {i}, h); t.delete(keys[i - N]!); }
  const a = (performance.now() - t0) * 1e6 / M;
  const m = new Map<string, object>();
  for (let i = 0; i < N; i++) m.set(keys[i]!, { i });
  t0 = performance.now();
  for (let i = N; i < N + M; i++) { const id = keys[i]!; if (m.get(id) === undefined) m.set(id, { i }); m.set(id,{i}); m.delete(keys[i - N]!); }
  const b = (performance.now() - t0) * 1e6 / M;
  console.log(`IdTable ${a.toFixed(0)} ns, Map ${b.toFixed(0)} ns, sizes ${t.size} ${m.size}`);
}
