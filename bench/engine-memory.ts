import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/** Heap and RSS as the benchmark compares them: after full collections, with nothing pending. */
export interface MemorySample {
  readonly heapUsed: number;
  readonly rss: number;
}

export async function settledMemory(): Promise<MemorySample> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  // Let pending immediates and microtasks finish so nothing in flight is counted.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

/** A full collection before a timed run, so no run inherits another's garbage. */
export function collectGarbage(): void {
  globalThis.gc?.();
}

/** Time spent in garbage collection while it is running (how much of a run is GC). */
export class GcTimer {
  private ms = 0;
  private readonly observer = new PerformanceObserver((list) => {
    this.add(list.getEntries());
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Stops observing; answers the GC milliseconds seen since start. */
  stop(): number {
    this.add(this.observer.takeRecords());
    this.observer.disconnect();
    return this.ms;
  }

  private add(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) this.ms += e.duration;
  }
}
