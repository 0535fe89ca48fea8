import type { ShardRouter } from './shard-router.ts';

/**
 * Open fulfilments per location across the order services of every worker (docs/scaling.md,
 * "Orders on workers"). Sourcing weighs a location's backlog against its daily capacity; with
 * orders sharded by order id, each service holds only its own orders' fulfilments, so each worker
 * tells the others what changed in its counts every `everyMs` and adds theirs to its own. A count
 * is at most that old: two services may each send a location its last slot in that window.
 */

const BACKLOG = 'orders.backlog';
const DEFAULT_EVERY_MS = 50;

export class BacklogBoard {
  /** worker → location → its open fulfilments there (as last told). */
  private readonly peers = new Map<number, Map<string, number>>();
  /** What this worker last told the others. */
  private told = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly router: ShardRouter,
    private readonly mine: () => ReadonlyMap<string, number>,
    private readonly everyMs = DEFAULT_EVERY_MS,
  ) {
    router.handle(BACKLOG, (peer, payload) => {
      let counts = this.peers.get(peer);
      if (counts === undefined) this.peers.set(peer, (counts = new Map<string, number>()));
      const flat = payload as (string | number)[];
      for (let i = 0; i < flat.length; i += 2) {
        const n = flat[i + 1] as number;
        if (n === 0) counts.delete(flat[i] as string);
        else counts.set(flat[i] as string, n);
      }
    });
  }

  /** Fulfilments open at a location in the other workers' order services. */
  readonly elsewhere = (location: string): number => {
    let n = 0;
    for (const counts of this.peers.values()) n += counts.get(location) ?? 0;
    return n;
  };

  start(): void {
    this.timer ??= setInterval(() => {
      this.publish();
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Tells the others what changed since the last time (a location gone is told as 0). */
  publish(): void {
    const now = this.mine();
    const changed: (string | number)[] = [];
    for (const [location, n] of now) if (this.told.get(location) !== n) changed.push(location, n);
    for (const location of this.told.keys()) if (!now.has(location)) changed.push(location, 0);
    if (changed.length === 0) return;
    this.told = new Map(now);
    this.router.tellPeers(BACKLOG, changed);
  }
}
