import type { Logger } from 'pino';
import type { SnapshotItem, SnapshotHeader } from '../engine/index.ts';
import { PersistenceError } from './persistence-error.ts';
import { isChunk, packBlob, unpackBlob } from './record-codec.ts';
import type { RedisCalls } from './redis-calls.ts';
import type { RedisKeys } from './redis-keys.ts';
import type { LoadedSnapshot, SnapshotInfo, SnapshotWriter } from './store.ts';

/** Chunk keys removed per UNLINK when their number is unknown (a crashed writer's leftovers). */
const SWEEP_BATCH = 256;

interface Manifest {
  readonly header: SnapshotHeader;
  readonly coversSeq: number;
  readonly chunks: number;
  readonly bytes: number;
}

function isManifest(value: unknown, startSeq: number): value is Manifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  const header = m.header as Record<string, unknown> | null | undefined;
  return (
    typeof header === 'object' &&
    header !== null &&
    header.startSeq === startSeq &&
    // Any format: the engine refuses one newer than it reads, rather than skip the snapshot.
    typeof header.format === 'number' &&
    typeof m.coversSeq === 'number' &&
    typeof m.bytes === 'number' &&
    Number.isSafeInteger(m.chunks) &&
    (m.chunks as number) >= 0
  );
}

function infoOf(m: Manifest): SnapshotInfo {
  return { startSeq: m.header.startSeq, coversSeq: m.coversSeq, bytes: m.bytes, chunks: m.chunks };
}

/**
 * Snapshots in Redis: chunk keys `snap:<startSeq>:<i>` (each a CRC-checked blob of books), then
 * the manifest `snap:<startSeq>` and the member of the `snaps` sorted set, written together last
 * (MULTI): a snapshot without its manifest is never loaded. A writer is listed in `snaps:pending`
 * until it commits or aborts, so the chunks a crashed writer leaves are found and removed.
 */
export class RedisSnapshots {
  corruptSnapshots = 0;
  /** startSeqs being written by this process (a pending entry not here is a crash's leftover). */
  readonly writing = new Set<number>();

  constructor(
    private readonly calls: RedisCalls,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
  ) {}

  async begin(header: SnapshotHeader): Promise<SnapshotWriter> {
    const startSeq = header.startSeq;
    if (!Number.isSafeInteger(startSeq) || startSeq < 1) {
      throw new RangeError(`snapshot startSeq must be a whole number >= 1, got ${startSeq}`);
    }
    if (this.writing.has(startSeq)) {
      throw new Error(`a snapshot starting at seq ${startSeq} is already being written`);
    }
    this.writing.add(startSeq);
    try {
      const existing = await this.whole(startSeq);
      if (typeof existing !== 'string') {
        // Same startSeq: no record was journaled since that snapshot began, so it holds this
        // very state. Keep it rather than overwrite chunks a loader may be reading.
        this.writing.delete(startSeq);
        this.log.debug({ startSeq }, 'snapshot at this sequence already committed; kept');
        return new ExistingSnapshot(infoOf(existing.manifest));
      }
      const client = this.calls.client;
      const added = await this.calls.run('snapshot begin', () =>
        client.zadd(this.keys.pendingSnapshots, startSeq, String(startSeq)),
      );
      // Already pending: a writer crashed at this startSeq; its chunks may outnumber ours.
      if (added === 0 || existing !== 'no manifest') await this.remove(startSeq, null);
      return new RedisSnapshotWriter(this, header);
    } catch (error) {
      this.writing.delete(startSeq);
      throw error;
    }
  }

  /** The newest snapshot whose manifest and chunks are all whole, or null. */
  async load(): Promise<LoadedSnapshot | null> {
    const client = this.calls.client;
    const members = await this.calls.run('snapshot load', () =>
      client.zrevrange(this.keys.snapshots, 0, -1),
    );
    for (const member of members) {
      const startSeq = Number(member);
      const found = await this.whole(startSeq, true);
      if (typeof found !== 'string') {
        return new RedisLoadedSnapshot(this, startSeq, found.manifest);
      }
      this.corruptSnapshots++;
      this.log.warn(
        { startSeq, reason: found },
        'snapshot is torn or corrupt; falling back to an older one',
      );
    }
    return null;
  }

  /** Deletes every committed snapshot but the newest `keep`, and what crashed writers left. */
  async trim(keep: number): Promise<void> {
    const client = this.calls.client;
    const members = await this.calls.run('snapshot trim', () =>
      client.zrevrange(this.keys.snapshots, 0, -1),
    );
    for (const member of members.slice(Math.max(0, Math.floor(keep)))) {
      const startSeq = Number(member);
      const manifest = await this.manifest(startSeq);
      await this.remove(startSeq, typeof manifest === 'string' ? null : manifest.chunks);
    }
    const pending = await this.calls.run('snapshot trim', () =>
      client.zrange(this.keys.pendingSnapshots, '0', '-1'),
    );
    const committed = new Set(members);
    for (const member of pending) {
      const startSeq = Number(member);
      if (this.writing.has(startSeq)) continue;
      if (committed.has(member)) {
        await this.calls.run('snapshot trim', () =>
          client.zrem(this.keys.pendingSnapshots, member),
        );
        continue;
      }
      this.log.info({ startSeq }, 'removing the chunks of a snapshot that was never committed');
      await this.remove(startSeq, null);
    }
  }

  /**
   * Removes a snapshot: its set member and manifest first (it is never loaded again), then its
   * chunks. With an unknown chunk count it is listed as pending meanwhile, so an interrupted
   * removal is finished by a later trim; chunks are written in order, so they are removed in
   * batches until one comes back short.
   */
  async remove(startSeq: number, chunks: number | null): Promise<void> {
    const client = this.calls.client;
    const keys = this.keys;
    const member = String(startSeq);
    if (chunks !== null) {
      const doomed = [keys.manifest(startSeq)];
      for (let i = 0; i < chunks; i++) doomed.push(keys.chunk(startSeq, i));
      await this.calls.run('snapshot removal', () =>
        client
          .multi()
          .zrem(keys.snapshots, member)
          .unlink(...doomed)
          .zrem(keys.pendingSnapshots, member)
          .exec(),
      );
      return;
    }
    await this.calls.run('snapshot removal', () =>
      client
        .multi()
        .zadd(keys.pendingSnapshots, startSeq, member)
        .zrem(keys.snapshots, member)
        .unlink(keys.manifest(startSeq))
        .exec(),
    );
    for (let from = 0; ; from += SWEEP_BATCH) {
      const batch: string[] = [];
      for (let i = from; i < from + SWEEP_BATCH; i++) batch.push(keys.chunk(startSeq, i));
      const removed = await this.calls.run('snapshot removal', () => client.unlink(...batch));
      if (removed < SWEEP_BATCH) break;
    }
    if (!this.writing.has(startSeq)) {
      await this.calls.run('snapshot removal', () => client.zrem(keys.pendingSnapshots, member));
    }
  }

  /** Reads and checks one chunk: its books, or why it is unusable. */
  async chunk(startSeq: number, index: number): Promise<SnapshotItem[] | string> {
    const client = this.calls.client;
    const blob = await this.calls.run('snapshot chunk read', () =>
      client.getBuffer(this.keys.chunk(startSeq, index)),
    );
    if (blob === null) return `chunk ${index} is missing`;
    try {
      const value = unpackBlob(blob);
      return isChunk(value) ? value : `chunk ${index} does not hold books`;
    } catch (error) {
      return `chunk ${index}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  private async manifest(startSeq: number): Promise<Manifest | string> {
    const client = this.calls.client;
    const blob = await this.calls.run('snapshot manifest read', () =>
      client.getBuffer(this.keys.manifest(startSeq)),
    );
    if (blob === null) return 'no manifest';
    try {
      const value = unpackBlob(blob);
      return isManifest(value, startSeq) ? value : 'manifest does not describe this snapshot';
    } catch (error) {
      return `manifest: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /**
   * The manifest of a snapshot whose chunks are all present (and, with `decode`, all pass their
   * CRC and decode, read one at a time), or why it is unusable.
   */
  private async whole(startSeq: number, decode = false): Promise<{ manifest: Manifest } | string> {
    if (!Number.isSafeInteger(startSeq)) return 'not a snapshot sequence';
    const manifest = await this.manifest(startSeq);
    if (typeof manifest === 'string') return manifest;
    if (decode) {
      for (let i = 0; i < manifest.chunks; i++) {
        const chunk = await this.chunk(startSeq, i);
        if (typeof chunk === 'string') return chunk;
      }
    } else if (manifest.chunks > 0) {
      const keys: string[] = [];
      for (let i = 0; i < manifest.chunks; i++) keys.push(this.keys.chunk(startSeq, i));
      const client = this.calls.client;
      const present = await this.calls.run('snapshot check', () => client.exists(...keys));
      if (present !== manifest.chunks) return `${manifest.chunks - present} chunks are missing`;
    }
    return { manifest };
  }

  /** Called by a writer: writes one chunk. */
  async writeChunk(startSeq: number, index: number, blob: Buffer): Promise<void> {
    const client = this.calls.client;
    await this.calls.run(`snapshot chunk ${index} write`, () =>
      client.set(this.keys.chunk(startSeq, index), blob),
    );
  }

  /** Called by a writer: makes it whole and visible, atomically. */
  async commit(manifest: Manifest): Promise<void> {
    const client = this.calls.client;
    const keys = this.keys;
    const startSeq = manifest.header.startSeq;
    const member = String(startSeq);
    const replies = await this.calls.run('snapshot commit', () =>
      client
        .multi()
        .set(keys.manifest(startSeq), packBlob(manifest))
        .zadd(keys.snapshots, startSeq, member)
        .zrem(keys.pendingSnapshots, member)
        .exec(),
    );
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (replies === null || failed !== undefined) {
      throw new PersistenceError('STORE_UNREACHABLE', 'snapshot commit was not applied', {
        cause: failed ?? undefined,
      });
    }
  }
}

class ExistingSnapshot implements SnapshotWriter {
  constructor(private readonly info: SnapshotInfo) {}

  writeChunk(): Promise<void> {
    return Promise.resolve();
  }

  commit(): Promise<SnapshotInfo> {
    return Promise.resolve(this.info);
  }

  abort(): Promise<void> {
    return Promise.resolve();
  }
}

class RedisSnapshotWriter implements SnapshotWriter {
  private chunks = 0;
  private bytes = 0;
  private state: 'open' | 'committed' | 'failed' | 'aborted' = 'open';
  private readonly writes: Promise<void>[] = [];

  constructor(
    private readonly owner: RedisSnapshots,
    private readonly header: SnapshotHeader,
  ) {}

  async writeChunk(items: readonly SnapshotItem[]): Promise<void> {
    this.assertOpen();
    const index = this.chunks++;
    const blob = packBlob(items);
    this.bytes += blob.length;
    const write = this.owner
      .writeChunk(this.header.startSeq, index, blob)
      .catch((error: unknown) => {
        // A chunk that may be missing: this snapshot can no longer be committed.
        this.fail();
        throw error;
      });
    this.writes.push(write);
    await write;
  }

  async commit(coversSeq: number): Promise<SnapshotInfo> {
    this.assertOpen();
    await Promise.all(this.writes);
    this.assertOpen(); // abort() may have run meanwhile
    const manifest: Manifest = {
      header: this.header,
      coversSeq,
      chunks: this.chunks,
      bytes: this.bytes,
    };
    try {
      await this.owner.commit(manifest);
    } catch (error) {
      this.fail();
      throw error;
    }
    this.state = 'committed';
    this.owner.writing.delete(this.header.startSeq);
    return infoOf(manifest);
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new Error(`snapshot writer is ${this.state}`);
  }

  /** Can no longer commit; what it wrote is removed by abort() or else by a later trim. */
  private fail(): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.owner.writing.delete(this.header.startSeq);
  }

  /** Deletes everything written, the manifest too (a commit whose reply was lost may have landed). */
  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await Promise.allSettled(this.writes);
    const startSeq = this.header.startSeq;
    this.owner.writing.delete(startSeq);
    await this.owner.remove(startSeq, this.chunks);
  }
}

class RedisLoadedSnapshot implements LoadedSnapshot {
  readonly header: SnapshotHeader;
  readonly coversSeq: number;

  constructor(
    private readonly owner: RedisSnapshots,
    private readonly startSeq: number,
    private readonly manifest: Manifest,
  ) {
    this.header = manifest.header;
    this.coversSeq = manifest.coversSeq;
  }

  async *chunks(): AsyncGenerator<SnapshotItem[]> {
    for (let i = 0; i < this.manifest.chunks; i++) {
      const chunk = await this.owner.chunk(this.startSeq, i);
      if (typeof chunk === 'string') {
        throw new PersistenceError(
          'STORE_CORRUPT',
          `snapshot ${this.startSeq} changed while it was read: ${chunk}`,
        );
      }
      yield chunk;
    }
  }
}
