// Preloaded into a server by bench/alloc.ts (`node --import=<this file> ...`): V8's sampling heap
// profiler, counting every sampled allocation, including objects the collectors already freed
// (so the profile is what was allocated, not what is alive). Plain JavaScript: the server runs
// without tsx. It runs on the main thread only (bench/alloc.ts starts Stockflow with one worker,
// which serves on the main thread).
//
// SIGUSR2 writes the profile since the last SIGUSR2 (or since start) to `<out>.<n>.heapprofile`
// and starts a new one, so the caller can bracket a window. `out` comes in the import's own URL
// (`--import=file:///…/alloc-sample.mjs?out=/tmp/x`): the servers get no environment from the bench.
import fs from 'node:fs';
import inspector from 'node:inspector';

const out = new URL(import.meta.url).searchParams.get('out');
if (out === null) throw new Error('alloc-sample.mjs needs ?out=<path prefix> in its URL');
const interval = 4096;
const session = new inspector.Session();
session.connect();
const post = (method, params) =>
  new Promise((resolve, reject) => {
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result)));
  });
const start = () =>
  post('HeapProfiler.startSampling', {
    samplingInterval: interval,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
await post('HeapProfiler.enable');
await start();
let n = 0;
process.on('SIGUSR2', () => {
  void (async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    await start();
    const file = `${out}.${n++}.heapprofile`;
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(profile));
    fs.renameSync(`${file}.tmp`, file);
  })();
});
