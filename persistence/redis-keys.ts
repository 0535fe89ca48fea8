/**
 * Where one shard's data lives in Redis. Everything is under the shard's key prefix, so several
 * shards (or test runs) can share one Redis; the layout is described in docs/persistence-redis.md.
 */
export class RedisKeys {
  /** Stream of group commits: entry id `${firstSeq}-0`, field `r` = the records' blob. */
  readonly journal: string;
  /** Committed snapshots: member and score = the snapshot's startSeq. */
  readonly snapshots: string;
  /** Snapshots being written (member and score = startSeq); what a crash leaves here is swept. */
  readonly pendingSnapshots: string;
  private readonly snapshotBase: string;

  constructor(readonly prefix: string) {
    this.journal = `${prefix}:journal`;
    this.snapshots = `${prefix}:snaps`;
    this.pendingSnapshots = `${prefix}:snaps:pending`;
    this.snapshotBase = `${prefix}:snap:`;
  }

  /** The manifest of the snapshot that starts at `startSeq`; written last, on commit. */
  manifest(startSeq: number): string {
    return `${this.snapshotBase}${startSeq}`;
  }

  chunk(startSeq: number, index: number): string {
    return `${this.snapshotBase}${startSeq}:${index}`;
  }
}

/** The stream entry id of a group commit: its first record's sequence. */
export function entryId(firstSeq: number): string {
  return `${firstSeq}-0`;
}

/** The first sequence an entry id names, or null when the id is not one this store writes. */
export function entrySeq(id: Buffer | string): number | null {
  const text = typeof id === 'string' ? id : id.toString('latin1');
  const dash = text.indexOf('-');
  if (dash <= 0 || text.slice(dash + 1) !== '0') return null;
  const seq = Number(text.slice(0, dash));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : null;
}
