import { readFileSync } from 'node:fs';

/**
 * How much CPU other processes took while a run was timed. The benchmark shares a small
 * machine; a run that competed with a compiler or a test suite is slower for reasons outside
 * the code measured, and the report says so instead of hiding it. Linux only (/proc/stat);
 * elsewhere it reports null.
 */
export class CpuContention {
  private readonly machineStart = machineBusySeconds();
  private readonly ownStart = process.cpuUsage();
  private readonly wallStart = performance.now();

  /** Average number of cores other processes kept busy since construction, or null. */
  othersCores(): number | null {
    const machineEnd = machineBusySeconds();
    if (machineEnd === null || this.machineStart === null) return null;
    const own = process.cpuUsage(this.ownStart);
    const ownSeconds = (own.user + own.system) / 1e6;
    const wallSeconds = (performance.now() - this.wallStart) / 1000;
    const others = machineEnd - this.machineStart - ownSeconds;
    return wallSeconds > 0 ? Math.max(0, others / wallSeconds) : null;
  }
}

/** Seconds of CPU the whole machine has spent busy (not idle, not waiting for I/O) since boot. */
function machineBusySeconds(): number | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'latin1');
  } catch {
    return null;
  }
  const fields = (stat.split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  // USER_HZ is 100 on every Linux that Node supports.
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * Waits, before a measurement, until other processes leave the CPU alone (below `maxCores` over
 * a half-second sample), spending at most `budgetMs` over the whole suite: on a shared machine
 * that buys quieter runs without letting the suite run away.
 */
export class QuietWindow {
  private spentMs = 0;

  constructor(
    private readonly budgetMs: number,
    private readonly maxCores = 0.25,
  ) {}

  async wait(): Promise<void> {
    while (this.spentMs < this.budgetMs) {
      const sample = new CpuContention();
      await new Promise((resolve) => setTimeout(resolve, 500));
      this.spentMs += 500;
      const others = sample.othersCores();
      if (others === null || others < this.maxCores) return;
    }
  }

  get waitedMs(): number {
    return this.spentMs;
  }
}
