/**
 * Stock engine benchmark (`npm run bench:engine`, or `-- --quick` for a smoke test): the engine
 * against a plain-Map baseline and the nact-actor-per-position design, in the same run, each
 * scenario in a child process of its own. Writes bench/results/engine.json and engine.md (full
 * runs only) and prints the table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { childSpec, serveChild } from './engine-child-process.ts';
import { buildReport, renderMarkdown } from './engine-report.ts';
import { FULL_PLAN, QUICK_PLAN, runSuite } from './engine-suite.ts';

const spec = childSpec(process.argv);
if (spec !== null) {
  await serveChild(spec);
} else {
  const plan = process.argv.includes('--quick') ? QUICK_PLAN : FULL_PLAN;
  const started = performance.now();
  const report = buildReport(await runSuite(plan, fileURLToPath(import.meta.url)));
  const markdown = renderMarkdown(report);
  if (plan.mode === 'full') {
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    await writeFile(new URL('engine.json', dir), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(new URL('engine.md', dir), markdown);
  }
  console.log(`\n${markdown}`);
  console.error(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
