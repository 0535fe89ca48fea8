import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { sharedRateMemory } from '../../gateway/auth.ts';

// A key's rate limit with server.workers > 1 is one budget for the process: its bucket lives in
// shared memory that every worker thread takes from (gateway/rate-limit.ts sharedTokenBucket).

const WORKER = fileURLToPath(new URL('./shared-bucket-worker.ts', import.meta.url));

function taker(
  memory: SharedArrayBuffer,
  gate: SharedArrayBuffer,
  attempts: number,
  burst: number,
): Promise<number> {
  // Workers load TypeScript through tsx's loader, as gateway/shards/supervisor.ts does.
  const boot =
    `import('tsx/esm/api').then(({ tsImport }) => ` +
    `tsImport(${JSON.stringify(WORKER)}, ${JSON.stringify(import.meta.url)}))`;
  const worker = new Worker(boot, {
    eval: true,
    workerData: { memory, gate, attempts, burst, perSecond: 1 },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (granted: number) => {
      resolve(granted);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('a TokenBucket in shared memory', () => {
  it('grants one budget across four threads taking at once', async () => {
    const burst = 20_000;
    const memory = sharedRateMemory(1, { burst, perSecond: 1 });
    const gate = new SharedArrayBuffer(8);
    const flags = new Int32Array(gate);
    const running = [1, 2, 3, 4].map(() => taker(memory, gate, 20_000, burst));
    while (Atomics.load(flags, 0) < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    const granted = await Promise.all(running);
    const total = granted.reduce((a, b) => a + b, 0);
    // 80,000 attempts against 20,000 tokens (+ at most a few refilled at 1/s meanwhile).
    expect(total).toBeGreaterThanOrEqual(burst);
    expect(total).toBeLessThanOrEqual(burst + 10);
    // Every thread got some: the threads really ran at once.
    expect(granted.filter((g) => g > 0).length).toBeGreaterThan(1);
  }, 30_000);
});
