import {
  close,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  read,
  readdirSync,
} from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { JournalRecord, SnapshotItem, SnapshotHeader } from '../engine/index.ts';
import { PersistenceError } from './persistence-error.ts';
import {
  checkFrame,
  decodeRecords,
  encodeFrame,
  encodeRecords,
  openJournalFrame,
  readFrame,
  unpackPayload,
} from './record-codec.ts';
import type {
  LoadedSnapshot,
  SnapshotInfo,
  SnapshotWriter,
  Store,
  StoreHealth,
  StoreStats,
} from './store.ts';

export interface FileStoreOptions {
  /** Directory holding journal/ and snapshots/. Created when missing. */
  readonly dir: string;
  /** 'always': fdatasync every group commit before acknowledging (default). 'never': leave it to
   * the OS (a machine crash can lose acknowledged writes; a process crash cannot). */
  readonly fsync: 'always' | 'never';
  /** A journal segment is closed and a new one started past this size. */
  readonly segmentBytes: number;
}

const SEGMENT_SUFFIX = '.wal';
const SNAPSHOT_SUFFIX = '.snap';
const JOURNAL_DIR = 'journal';
const SNAPSHOT_DIR = 'snapshots';

/**
 * What a file store keeps in its directory: the entries to move when its state moves (the offline
 * re-shard), and the test of whether a directory holds any state (a segment or a snapshot).
 */
export const FILE_STORE_ENTRIES: readonly string[] = [JOURNAL_DIR, SNAPSHOT_DIR];

export function fileStoreHoldsState(dir: string): boolean {
  const any = (sub: string, suffix: string): boolean => {
    const path = join(dir, sub);
    return existsSync(path) && readdirSync(path).some((name) => name.endsWith(suffix));
  };
  return any(JOURNAL_DIR, SEGMENT_SUFFIX) || any(SNAPSHOT_DIR, SNAPSHOT_SUFFIX);
}
/** Records handed to replay at a time: few enough that a batch is applied and dropped before the
 * young generation fills (what is alive then is copied). */
const REPLAY_BATCH = 1_024;
const pad = (seq: number): string => String(seq).padStart(16, '0');

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
}

interface SnapshotManifest {
  readonly type: 'end';
  readonly coversSeq: number;
  readonly chunks: number;
}

/**
 * The embedded store: the default, so `npm start` needs no server.
 *
 * - journal/<first seq>.wal: append-only segments of frames (length, CRC-32, msgpack), one frame
 *   per group commit holding its records. A group commit is one positional write (then fdatasync). A write that fails is cut off
 *   again (ftruncate to the last durable end), so the file never keeps what the engine took back.
 * - snapshots/<start seq>.snap: a header frame, chunk frames, an end frame; written to a .tmp
 *   file, fdatasynced, renamed, and the directory fsynced: a half-written snapshot never has
 *   the .snap name, and one whose frames do not check out is skipped at load.
 */
export class FileStore implements Store {
  readonly kind = 'file' as const;
  private readonly journalDir: string;
  private readonly snapshotDir: string;
  private segments: Segment[] = [];
  private tail: FileHandle | null = null;
  /** Durable end of the tail segment. */
  private offset = 0;
  private lastSeq = 0;
  private broken: string | null = null;
  /** A segment being read ahead of replay (see `prefetch`). */
  private prefetched: { readonly path: string; readonly bytes: Promise<Buffer> } | null = null;
  private readonly counters = {
    corruptRecords: 0,
    corruptSnapshots: 0,
    appendErrors: 0,
    bytesAppended: 0,
  };

  constructor(
    private readonly options: FileStoreOptions,
    private readonly log: Logger,
  ) {
    this.journalDir = join(options.dir, JOURNAL_DIR);
    this.snapshotDir = join(options.dir, SNAPSHOT_DIR);
  }

  async open(): Promise<void> {
    try {
      await mkdir(this.journalDir, { recursive: true });
      await mkdir(this.snapshotDir, { recursive: true });
      this.segments = await this.listSegments();
      for (const name of await readdir(this.snapshotDir)) {
        if (name.endsWith('.tmp')) await rm(join(this.snapshotDir, name), { force: true });
      }
    } catch (error) {
      throw new PersistenceError(
        'STORE_UNREACHABLE',
        `cannot open data directory ${this.options.dir}`,
        {
          cause: error,
        },
      );
    }
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined) {
      // Position the tail after its last whole frame (recovery reads and checks the rest).
      const { end, lastSeq } = await this.scan(last);
      await this.openTail(last, end);
      if (lastSeq > 0) this.lastSeq = lastSeq;
    }
  }

  // ---- journal ----------------------------------------------------------------------------------

  async append(records: readonly JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.prefetched = null;
    const buf = encodeRecords(records);
    const first = records[0] as JournalRecord;
    try {
      if (
        this.tail === null ||
        (this.offset > 0 && this.offset + buf.length > this.options.segmentBytes)
      ) {
        await this.startSegment(first.seq);
      }
      // With fsync always the tail is open O_DSYNC: the write returns once durable, one trip to
      // the thread pool per group commit instead of a write and then an fdatasync.
      await (this.tail as FileHandle).write(buf, 0, buf.length, this.offset);
    } catch (error) {
      this.counters.appendErrors++;
      this.broken = error instanceof Error ? error.message : String(error);
      await this.cutBack();
      throw error;
    }
    this.offset += buf.length;
    this.counters.bytesAppended += buf.length;
    this.lastSeq = (records[records.length - 1] as JournalRecord).seq;
    this.broken = null;
  }

  /** Cuts the tail back to its durable end; the file store never keeps a failed write. */
  async resync(durableSeq: number): Promise<readonly JournalRecord[]> {
    await this.cutBack();
    if (this.broken !== null && this.tail !== null) {
      // Probe: the file must take a write and a sync again before the engine resumes.
      await this.tail.datasync();
    }
    this.broken = null;
    this.lastSeq = durableSeq;
    return [];
  }

  private async cutBack(): Promise<void> {
    this.prefetched = null;
    if (this.tail === null) return;
    try {
      await this.tail.truncate(this.offset);
    } catch (error) {
      this.log.error({ err: error }, 'could not cut the journal back to its durable end');
      throw error;
    }
  }

  async *readJournal(fromSeq: number): AsyncIterable<readonly JournalRecord[]> {
    const startIndex = this.segmentIndexOf(fromSeq);
    for (let i = startIndex; i < this.segments.length; i++) {
      const segment = this.segments[i] as Segment;
      const buf = await this.segmentBytes(segment);
      // The next segment is read while this one is replayed.
      this.prefetch(this.segments[i + 1]);
      let at = 0;
      let batch: JournalRecord[] = [];
      for (;;) {
        const frame = openJournalFrame(buf, at);
        if (frame.kind === 'end') break;
        if (frame.kind === 'records') {
          // Checked whole; built and handed over a slice at a time (see RecordReader.take).
          at = frame.next;
          if (frame.lastSeq < fromSeq) continue;
          const reader = frame.reader;
          while (!reader.done) {
            reader.take(fromSeq, REPLAY_BATCH, batch);
            if (batch.length >= REPLAY_BATCH) {
              yield batch;
              batch = [];
            }
          }
          continue;
        }
        const records = frame.kind === 'frame' ? decodeRecords(frame.value) : null;
        if (frame.kind === 'torn' || records === null) {
          const reason = frame.kind === 'torn' ? frame.reason : 'not a group of journal records';
          await this.endJournalAt(i, at, reason);
          if (batch.length > 0) yield batch;
          return;
        }
        at = frame.next;
        for (const record of records) if (record.seq >= fromSeq) batch.push(record);
        if (batch.length >= REPLAY_BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    }
  }

  /** Index of the segment holding `seq` (the first when none starts at or before it). */
  private segmentIndexOf(seq: number): number {
    return Math.max(
      0,
      this.segments.findLastIndex((s) => s.firstSeq <= seq),
    );
  }

  /**
   * Starts reading a segment ahead of its use, so that it is read while this thread imports the
   * snapshot or replays the segment before (about 0.4 s waited for otherwise, for the 100 MB of
   * a 1M-record recovery). Dropped by anything that changes the journal before it is used.
   */
  private prefetch(segment: Segment | undefined): void {
    if (segment === undefined) {
      this.prefetched = null;
      return;
    }
    const bytes = readAhead(segment.path);
    // A failed read fails where it is used; one never used must not be an unhandled rejection.
    bytes.catch(() => undefined);
    this.prefetched = { path: segment.path, bytes };
  }

  private segmentBytes(segment: Segment): Promise<Buffer> {
    const ahead = this.prefetched;
    this.prefetched = null;
    return ahead !== null && ahead.path === segment.path ? ahead.bytes : readFile(segment.path);
  }

  /** A torn or corrupt frame ends the journal: cut it there and drop every later segment. */
  private async endJournalAt(index: number, at: number, reason: string): Promise<void> {
    const segment = this.segments[index] as Segment;
    const dropped = this.segments.slice(index + 1);
    this.prefetched = null;
    this.counters.corruptRecords++;
    this.log.warn(
      { segment: segment.path, offset: at, reason, droppedSegments: dropped.length },
      'journal ends at a torn or corrupt record; replay stops there',
    );
    await this.tail?.close();
    this.tail = null;
    for (const s of dropped) await rm(s.path, { force: true });
    this.segments = this.segments.slice(0, index + 1);
    await this.openTail(segment, at);
    await (this.tail as FileHandle | null)?.truncate(at);
  }

  private async startSegment(firstSeq: number): Promise<void> {
    await this.tail?.close();
    const segment = { firstSeq, path: join(this.journalDir, pad(firstSeq) + SEGMENT_SUFFIX) };
    this.tail = await open(segment.path, this.tailFlags(constants.O_CREAT | constants.O_TRUNC));
    this.offset = 0;
    this.segments.push(segment);
    await this.syncDir(this.journalDir);
  }

  private async openTail(segment: Segment, end: number): Promise<void> {
    this.tail = await open(segment.path, this.tailFlags(0));
    this.offset = end;
  }

  /**
   * The tail segment is read-write, and with fsync always O_DSYNC: each write returns once its
   * data (and the file size that reaches it) is on stable storage, as write then fdatasync would
   * (PostgreSQL's wal_sync_method open_datasync).
   */
  private tailFlags(extra: number): number {
    const dsync = this.options.fsync === 'always' ? constants.O_DSYNC : 0;
    return constants.O_RDWR | dsync | extra;
  }

  private async scan(segment: Segment): Promise<{ end: number; lastSeq: number }> {
    const buf = await readFile(segment.path);
    let at = 0;
    let lastSeq = 0;
    for (;;) {
      // Binary frames are only checked here, their records not built (they are read at recovery).
      const frame = readFrame(buf, at, Infinity);
      if (frame.kind !== 'frame') break;
      if (frame.lastSeq > 0) {
        lastSeq = frame.lastSeq;
        at = frame.next;
        continue;
      }
      const records = decodeRecords(frame.value);
      if (records === null) break;
      const last = records[records.length - 1];
      if (last !== undefined) lastSeq = last.seq;
      at = frame.next;
    }
    return { end: at, lastSeq };
  }

  private async listSegments(): Promise<Segment[]> {
    return (await readdir(this.journalDir))
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => ({
        firstSeq: Number(n.slice(0, -SEGMENT_SUFFIX.length)),
        path: join(this.journalDir, n),
      }))
      .filter((s) => Number.isSafeInteger(s.firstSeq))
      .sort((a, b) => a.firstSeq - b.firstSeq);
  }

  private async syncDir(dir: string): Promise<void> {
    if (this.options.fsync !== 'always') return;
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  // ---- snapshots --------------------------------------------------------------------------------

  async beginSnapshot(header: SnapshotHeader): Promise<SnapshotWriter> {
    const final = join(this.snapshotDir, pad(header.startSeq) + SNAPSHOT_SUFFIX);
    const temp = `${final}.tmp`;
    const handle = await open(temp, 'w');
    const first = encodeFrame({ type: 'header', header });
    await handle.write(first, 0, first.length, 0);
    return new FileSnapshotWriter(handle, temp, final, first.length, header.startSeq, (dir) =>
      this.syncDir(dir),
    );
  }

  async loadSnapshot(): Promise<LoadedSnapshot | null> {
    const names = (await readdir(this.snapshotDir))
      .filter((n) => n.endsWith(SNAPSHOT_SUFFIX))
      .sort()
      .reverse();
    for (const name of names) {
      const path = join(this.snapshotDir, name);
      const loaded = parseSnapshot(await readFile(path), path);
      if (typeof loaded !== 'string') {
        // Recovery reads the journal from the snapshot's start next: its first segment is read
        // from disk while the snapshot is imported.
        this.prefetch(this.segments[this.segmentIndexOf(loaded.header.startSeq)]);
        return loaded;
      }
      this.counters.corruptSnapshots++;
      this.log.warn(
        { snapshot: path, reason: loaded },
        'snapshot is torn or corrupt; trying an older one',
      );
    }
    return null;
  }

  async trim(beforeSeq: number, keep: number): Promise<void> {
    this.prefetched = null;
    // A segment can go when the next one starts at or below beforeSeq: all its records are older.
    while (this.segments.length > 1 && (this.segments[1] as Segment).firstSeq <= beforeSeq) {
      const old = this.segments.shift() as Segment;
      await rm(old.path, { force: true });
    }
    const snaps = (await readdir(this.snapshotDir))
      .filter((n) => n.endsWith(SNAPSHOT_SUFFIX))
      .sort()
      .reverse();
    for (const name of snaps.slice(keep)) await rm(join(this.snapshotDir, name), { force: true });
  }

  health(): StoreHealth {
    return this.broken === null
      ? { ready: true, detail: `file store at ${this.options.dir}` }
      : { ready: false, detail: `journal write failed: ${this.broken}` };
  }

  stats(): StoreStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    await this.tail?.close();
    this.tail = null;
  }
}

class FileSnapshotWriter implements SnapshotWriter {
  private chunks = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly temp: string,
    private readonly final: string,
    private offset: number,
    private readonly startSeq: number,
    private readonly syncDir: (dir: string) => Promise<void>,
  ) {}

  async writeChunk(items: readonly SnapshotItem[]): Promise<void> {
    const frame = encodeFrame({ type: 'chunk', skus: items });
    await this.handle.write(frame, 0, frame.length, this.offset);
    this.offset += frame.length;
    this.chunks++;
  }

  async commit(coversSeq: number): Promise<SnapshotInfo> {
    const manifest: SnapshotManifest = { type: 'end', coversSeq, chunks: this.chunks };
    const end = encodeFrame(manifest);
    await this.handle.write(end, 0, end.length, this.offset);
    this.offset += end.length;
    await this.handle.datasync();
    await this.handle.close();
    await rename(this.temp, this.final);
    await this.syncDir(join(this.final, '..'));
    return { startSeq: this.startSeq, coversSeq, bytes: this.offset, chunks: this.chunks };
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}

/**
 * A whole file, read by one read on libuv's threads that is started before this returns: unlike
 * `readFile`, which issues a read per 512 KB from this thread's event loop (so makes no progress
 * while this thread computes), it is read while the caller works without yielding.
 */
function readAhead(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let fd: number;
    let size: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    try {
      size = fstatSync(fd).size;
    } catch (error) {
      closeSync(fd);
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const buf = Buffer.allocUnsafe(size);
    const done = (error: Error | null, at: number): void => {
      close(fd, () => {
        if (error === null) resolve(at === size ? buf : buf.subarray(0, at));
        else reject(error);
      });
    };
    const step = (at: number): void => {
      if (at === size) {
        done(null, at);
        return;
      }
      read(fd, buf, at, size - at, at, (error, n) => {
        if (error !== null) done(error, at);
        else if (n === 0) done(null, at);
        else step(at + n);
      });
    };
    step(0);
  });
}

/**
 * Checks every frame of a snapshot file (length and CRC; the header and end frames decoded);
 * returns why it is unusable, or the snapshot. Chunks are decoded one at a time as they are
 * imported, so a million positions are never held twice (decoded and imported) at once: that
 * doubled what the young-generation collector had to copy at recovery. A chunk whose CRC checks
 * out but that does not decode as one (a bug, never a torn write) ends the start with
 * STORE_CORRUPT, as a Redis snapshot that changes while read does.
 */
function parseSnapshot(buf: Buffer, path: string): LoadedSnapshot | string {
  const head = readFrame(buf, 0);
  if (head.kind !== 'frame') return head.kind === 'torn' ? head.reason : 'empty file';
  const h = head.value as { type?: unknown; header?: SnapshotHeader };
  if (h.type !== 'header' || h.header === undefined) return 'no header frame';
  const payloads: Buffer[] = [];
  for (let at = head.next; ;) {
    const frame = checkFrame(buf, at);
    if (frame.kind === 'torn') return frame.reason;
    if (frame.kind === 'end') break;
    payloads.push(frame.payload);
    at = frame.next;
  }
  const last = payloads.pop();
  if (last === undefined) return 'no end frame';
  let v: { type?: unknown; coversSeq?: number; chunks?: number } | null;
  try {
    v = unpackPayload(last) as typeof v;
  } catch (error) {
    return `undecodable end frame: ${String(error)}`;
  }
  if (typeof v !== 'object' || v?.type !== 'end') return 'no end frame';
  if (v.chunks !== payloads.length) return 'chunk count does not match the end frame';
  const header = h.header;
  const coversSeq = v.coversSeq ?? 0;
  return {
    header,
    coversSeq,
    *chunks() {
      for (let i = 0; i < payloads.length; i++) {
        const skus = decodeChunk(payloads[i] as Buffer);
        if (typeof skus === 'string') {
          throw new PersistenceError(
            'STORE_CORRUPT',
            `snapshot ${path}: chunk ${i} passes its CRC but does not decode as one (${skus}); ` +
              'move the file aside to start from the snapshot before it',
          );
        }
        yield skus;
      }
    },
  };
}

/** A snapshot chunk frame's books, or why it is not one. */
function decodeChunk(payload: Buffer): SnapshotItem[] | string {
  let value: { type?: unknown; skus?: unknown } | null;
  try {
    value = unpackPayload(payload) as typeof value;
  } catch (error) {
    return String(error);
  }
  return typeof value === 'object' && value?.type === 'chunk' && Array.isArray(value.skus)
    ? (value.skus as SnapshotItem[])
    : 'not a chunk';
}
