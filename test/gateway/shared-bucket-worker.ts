// A worker thread for shared-bucket.test.ts: takes one token at a time from a shared TokenBucket
// in the memory it is given, as fast as it can, and reports how many takes were granted.
import { parentPort, workerData } from 'node:worker_threads';
import { sharedTokenBucket } from '../../gateway/rate-limit.ts';

const { memory, gate, attempts, burst, perSecond } = workerData as {
  memory: SharedArrayBuffer;
  /** [ready count, go]: every thread waits for go, so they all take at once. */
  gate: SharedArrayBuffer;
  attempts: number;
  burst: number;
  perSecond: number;
};
const bucket = sharedTokenBucket(memory, 0, burst, perSecond);
const flags = new Int32Array(gate);
Atomics.add(flags, 0, 1);
Atomics.wait(flags, 1, 0);
let granted = 0;
for (let i = 0; i < attempts; i++) if (bucket.take(1)) granted++;
parentPort?.postMessage(granted);
