import type { Logger } from 'pino';
import type { JournalRecord } from '../engine/index.ts';
import { PersistenceError } from './persistence-error.ts';
import { decodeRecords, encodeRecords, unpackBlob } from './record-codec.ts';
import { replyErrorKind, type RedisCalls } from './redis-calls.ts';
import { entryId, entrySeq, type RedisKeys } from './redis-keys.ts';

/** Stream entries per XRANGE page (an entry is one group commit of up to a few thousand records). */
const PAGE_ENTRIES = 200;
/** The one field of an entry: the group commit's records, packed with a CRC. */
const RECORDS_FIELD = 'r';

type StreamEntry = [id: Buffer, fields: Buffer[]];

/** Acknowledged writes Redis no longer holds (a restart without AOF, a failover, a deleted key). */
interface Loss {
  readonly acknowledgedSeq: number;
  readonly foundEntrySeq: number | null;
}

/**
 * The journal as a Redis stream: one XADD per group commit, entry id `${firstSeq}-0`, so Redis
 * itself refuses a second write of a sequence it holds (an id must grow).
 */
export class RedisJournal {
  corruptRecords = 0;
  appendErrors = 0;
  bytesAppended = 0;
  /** First sequence of the last entry Redis acknowledged to this process (0: none yet). */
  private ackedEntrySeq = 0;
  private ackedSeq = 0;
  private loss: Loss | null = null;

  constructor(
    private readonly calls: RedisCalls,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
    private readonly strict: boolean,
  ) {}

  /** Set in strict mode once Redis was found to have lost acknowledged writes. */
  get refusal(): string | null {
    return this.loss !== null && this.strict ? describeLoss(this.loss) : null;
  }

  async append(records: readonly JournalRecord[]): Promise<void> {
    const first = records[0];
    const last = records[records.length - 1];
    if (first === undefined || last === undefined) return;
    const action = `journal append of seq ${first.seq}..${last.seq}`;
    try {
      this.assertWritable(action);
      this.calls.assertReady(action);
    } catch (error) {
      this.appendErrors++;
      throw error;
    }
    const blob = encodeRecords(records);
    const client = this.calls.client;
    try {
      await this.calls.withTimeout(() =>
        client.xadd(this.keys.journal, entryId(first.seq), RECORDS_FIELD, blob),
      );
    } catch (error) {
      this.appendErrors++;
      if (replyErrorKind(error) === 'ERR') {
        // The only plain ERR this XADD can get: the id is not above the stream's last one.
        this.log.warn({ seq: first.seq }, 'journal already holds this sequence; resync needed');
        throw new PersistenceError(
          'STORE_CONFLICT',
          `${action}: the journal already holds seq ${first.seq} (an earlier write that timed ` +
            'out reached Redis after all, or another writer uses this key prefix); resync reads it',
          { cause: error },
        );
      }
      throw this.calls.failure(action, error);
    }
    this.bytesAppended += blob.length;
    this.ackedEntrySeq = first.seq;
    this.ackedSeq = last.seq;
  }

  /**
   * The records after `durableSeq` that Redis holds: those of a write whose reply was lost
   * (timed out or cut off) but which Redis applied. The commands of one connection run in order,
   * so an XADD still queued in a paused Redis is applied before this read. Rejects while Redis
   * is unreachable, and in strict mode after acknowledged writes were lost.
   */
  async resync(durableSeq: number): Promise<JournalRecord[]> {
    await this.checkTail();
    this.assertWritable(`journal resync after seq ${durableSeq}`);
    const out: JournalRecord[] = [];
    for await (const batch of this.read(durableSeq + 1, `journal resync after seq ${durableSeq}`)) {
      for (const record of batch) out.push(record);
    }
    return out;
  }

  /**
   * Records with seq >= fromSeq in order, a page of entries per batch. An entry that fails its
   * CRC or decoding, or that does not continue the sequence, ends the journal there.
   */
  async *read(fromSeq: number, action = 'journal read'): AsyncGenerator<JournalRecord[]> {
    const from = Math.max(1, Math.floor(fromSeq));
    const client = this.calls.client;
    const key = this.keys.journal;
    // Entries are keyed by their first record: the one holding `from` may start before it.
    const head = await this.calls.run(action, () =>
      client.xrevrangeBuffer(key, entryId(from), '-', 'COUNT', 1),
    );
    let start = head[0] === undefined ? '-' : head[0][0].toString('latin1');
    let expected: number | null = null;
    let yielded = false;
    for (;;) {
      const page: StreamEntry[] = await this.calls.run(action, () =>
        client.xrangeBuffer(key, start, '+', 'COUNT', PAGE_ENTRIES),
      );
      const batch: JournalRecord[] = [];
      for (const [id, fields] of page) {
        const records = decodeEntry(id, fields, expected);
        if (typeof records === 'string') {
          this.corruptRecords++;
          this.log.warn(
            { entry: id.toString('latin1'), reason: records, key },
            'corrupt journal entry: the journal ends before it',
          );
          if (batch.length > 0) yield batch;
          return;
        }
        for (const record of records) if (record.seq >= from) batch.push(record);
        expected = (records[records.length - 1] as JournalRecord).seq + 1;
      }
      if (batch.length > 0) {
        const firstSeq = (batch[0] as JournalRecord).seq;
        if (!yielded && firstSeq > from) {
          this.log.warn({ from, firstSeq, key }, 'journal starts after the requested sequence');
        }
        yielded = true;
        yield batch;
      }
      const lastEntry = page[page.length - 1];
      if (page.length < PAGE_ENTRIES || lastEntry === undefined) return;
      start = `(${lastEntry[0].toString('latin1')}`;
    }
  }

  /**
   * Drops entries wholly below `beforeSeq`. Entries are keyed by their first record, so the one
   * holding `beforeSeq` (the newest starting at or before it) stays, with everything after it;
   * the stream therefore never becomes empty, and its last entry always stays.
   */
  async trim(beforeSeq: number): Promise<number> {
    const client = this.calls.client;
    const key = this.keys.journal;
    const head = await this.calls.run('journal trim', () =>
      client.xrevrangeBuffer(key, entryId(Math.max(1, Math.floor(beforeSeq))), '-', 'COUNT', 1),
    );
    const keepFrom = head[0] === undefined ? null : entrySeq(head[0][0]);
    if (keepFrom === null) return 0;
    return this.calls.run('journal trim', () => client.xtrim(key, 'MINID', '=', entryId(keepFrom)));
  }

  /**
   * After a reconnect or a failed write: does Redis still hold the last entry it acknowledged?
   * Trim never removes the last entry, so a stream that ends before it lost acknowledged writes
   * (a restart without appendonly/appendfsync always, a failover to a lagging replica, a deleted
   * key). Logged as an error; in strict mode every later append and resync is refused, so the
   * journal never gets a hole that recovery would stop at.
   */
  async checkTail(): Promise<void> {
    const acknowledged = this.ackedEntrySeq;
    if (acknowledged === 0 || this.loss !== null) return;
    const client = this.calls.client;
    const tail = await this.calls.run('journal tail check', () =>
      client.xrevrangeBuffer(this.keys.journal, '+', '-', 'COUNT', 1),
    );
    const found = tail[0] === undefined ? null : entrySeq(tail[0][0]);
    if (found !== null && found >= acknowledged) return;
    this.loss = { acknowledgedSeq: this.ackedSeq, foundEntrySeq: found };
    this.log.error(
      { acknowledgedSeq: this.ackedSeq, lastEntrySeq: found, strict: this.strict },
      describeLoss(this.loss),
    );
  }

  private assertWritable(action: string): void {
    const refusal = this.refusal;
    if (refusal !== null) throw new PersistenceError('STORE_CORRUPT', `${action}: ${refusal}`);
  }
}

function describeLoss(loss: Loss): string {
  const found =
    loss.foundEntrySeq === null
      ? 'the journal stream is empty or gone'
      : `its last entry starts at seq ${loss.foundEntrySeq}`;
  return (
    `Redis lost acknowledged journal writes: seq ${loss.acknowledgedSeq} was acknowledged but ` +
    `${found}; check appendonly/appendfsync and failovers, then restart from a snapshot`
  );
}

/** The records of one stream entry, or why it is not a valid group commit. */
function decodeEntry(
  id: Buffer,
  fields: readonly Buffer[],
  expected: number | null,
): JournalRecord[] | string {
  const seq = entrySeq(id);
  if (seq === null) return 'entry id is not a journal sequence';
  if (expected !== null && seq !== expected) return `sequence gap: expected ${expected}`;
  let blob: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i]?.toString('latin1') === RECORDS_FIELD) blob = fields[i + 1];
  }
  if (blob === undefined) return 'entry has no records field';
  let value: unknown;
  try {
    value = unpackBlob(blob);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const records = decodeRecords(value);
  if (records === null || records.length === 0) return 'entry does not hold journal records';
  for (let i = 0; i < records.length; i++) {
    if ((records[i] as JournalRecord).seq !== seq + i) return 'records out of sequence';
  }
  return records;
}
