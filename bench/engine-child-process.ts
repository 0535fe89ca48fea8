import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { runScenario, type Outcome, type ScenarioSpec } from './engine-scenarios.ts';

/**
 * Each scenario runs in a child process of its own, so no heap, JIT state or GC debt carries
 * over between implementations. The child prints one marked JSON line with its outcome.
 */
const CHILD_FLAG = '--scenario';
const OUTCOME_MARK = '@@engine-bench ';

/** The spec this process was started with as a child, or null in the parent. */
export function childSpec(argv: readonly string[]): ScenarioSpec | null {
  const i = argv.indexOf(CHILD_FLAG);
  const json = i === -1 ? undefined : argv[i + 1];
  return json === undefined ? null : (JSON.parse(json) as ScenarioSpec);
}

/** The child's side: measure, print the outcome line, exit. */
export async function serveChild(spec: ScenarioSpec): Promise<void> {
  const outcome = await runScenario(spec);
  process.stdout.write(`${OUTCOME_MARK}${JSON.stringify(outcome)}\n`);
  // Actors and timers of a stopped target must not keep the measurement alive.
  process.exit(0);
}

/** The parent's side: run `entry` as a child on `spec` (with tsx and an exposed gc). */
export function runChild(entry: string, spec: ScenarioSpec): Promise<Outcome> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', entry, CHILD_FLAG, JSON.stringify(spec)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let outcome: Outcome | null = null;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith(OUTCOME_MARK))
      outcome = JSON.parse(line.slice(OUTCOME_MARK.length)) as Outcome;
    else console.log(line);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && outcome !== null) resolve(outcome);
      else reject(new Error(`benchmark child exited with ${String(code)} and no result`));
    });
  });
}
