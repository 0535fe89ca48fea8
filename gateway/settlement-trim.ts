import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../engine/index.ts';

/** A stream entry id, `<ms>-<seq>`, as two numbers that compare in order. */
type EntryId = readonly [bigint, bigint];

function parseId(id: string): EntryId | null {
  const m = /^(\d+)-(\d+)$/.exec(id);
  return m === null ? null : [BigInt(m[1] as string), BigInt(m[2] as string)];
}

function before(a: EntryId, b: EntryId): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** Field/value pairs of an XINFO reply as a map. */
function fields(reply: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1]);
  return out;
}

/**
 * The oldest entry some consumer group of `key` still needs: for each group, its oldest entry
 * delivered but not acknowledged (XPENDING), or, with none pending, the entry after the last one
 * it was given (everything up to that was acknowledged). Null when the stream has no group yet
 * (nobody has read anything: nothing may go) or does not exist.
 */
export async function oldestNeeded(client: Redis, key: string): Promise<string | null> {
  if ((await client.exists(key)) === 0) return null;
  const groups: unknown = await client.xinfo('GROUPS', key);
  if (!Array.isArray(groups) || groups.length === 0) return null;
  let oldest: EntryId | null = null;
  for (const g of groups) {
    const info = fields(g);
    const name = String(info.get('name'));
    const pending = Number(info.get('pending'));
    let needed: EntryId | null;
    if (pending > 0) {
      const summary = await client.xpending(key, name);
      needed = parseId(String(summary[1]));
    } else {
      const last = parseId(String(info.get('last-delivered-id')));
      needed = last === null ? null : [last[0], last[1] + 1n];
    }
    if (needed === null) return null; // unreadable: keep everything
    if (oldest === null || before(needed, oldest)) oldest = needed;
  }
  return oldest === null ? null : `${String(oldest[0])}-${String(oldest[1])}`;
}

/**
 * Trims the settlement stream only below what every consumer group acknowledged (XTRIM MINID at
 * `oldestNeeded`), so an entry no group has read or acknowledged is never removed, and entries
 * acknowledged by all do not pile up. No MAXLEN cap: it would drop unread events under a long
 * connector outage.
 */
export class SettlementTrimmer {
  private timer: TimerHandle | null = null;
  private running = false;
  private stopped = false;

  constructor(
    private readonly client: Redis,
    private readonly key: string,
    private readonly everyMs: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.everyMs > 0) this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
  }

  /** One trim; answers how many entries went. */
  async trim(): Promise<number> {
    const minId = await oldestNeeded(this.client, this.key);
    if (minId === null) return 0;
    return this.client.xtrim(this.key, 'MINID', minId);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.schedule(this.clock.now() + this.everyMs, () => {
      this.timer = null;
      if (this.running) {
        this.arm();
        return;
      }
      this.running = true;
      this.trim()
        .then(
          (n) => {
            if (n > 0) this.log.debug({ trimmed: n }, 'settlement stream trimmed');
          },
          (error: unknown) => {
            this.log.warn({ err: error }, 'settlement stream not trimmed; trying again later');
          },
        )
        .finally(() => {
          this.running = false;
          this.arm();
        });
    });
  }
}
