import { Packr, Unpackr } from 'msgpackr';
import { crc32 } from 'node:zlib';
import type { JournalRecord, SnapshotItem } from '../engine/index.ts';
import { PersistenceError } from './persistence-error.ts';
import { encodeJournalPayload, JOURNAL_MAGIC, RecordReader } from './journal-codec.ts';

// One packer for the process (habit 9). msgpackr's record extension is on: within one payload
// (a whole group commit, a snapshot chunk) objects of one shape share one key list, which makes
// encoding about twice as fast and payloads less than half the size. Each payload still carries
// its own definitions, so any frame decodes on its own (no structures are shared across frames).
const packr = new Packr({ useRecords: true, moreTypes: false });
const unpackr = new Unpackr({ useRecords: true, mapsAsObjects: true });

/** Frame layout: u32 payload length, u32 CRC-32 of the payload, payload (msgpack, or a journal
 * payload in the binary record layout of journal-codec.ts). */
export const FRAME_HEADER = 8;

/**
 * One frame per group commit, holding its records in order, in the binary record layout (format
 * 2). The group commit is the unit of acknowledgement (no record of it is answered before all are
 * durable), so it is also the unit of the length and CRC check: a torn frame drops only records
 * nobody was told about. Frames written before format 2 (a msgpack array of records) are still
 * read.
 */
export function encodeRecords(records: readonly JournalRecord[]): Buffer {
  const out = encodeJournalPayload(records, FRAME_HEADER);
  const payload = out.subarray(FRAME_HEADER);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  return out;
}

/** Journal records written with format 1 (msgpack), as earlier versions wrote them; for tests of
 * reading old data directories and streams. */
export function encodeRecordsV1(records: readonly JournalRecord[]): Buffer {
  return encodeFrame(records);
}

export function encodeFrame(value: unknown): Buffer {
  const payload = packr.pack(value);
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  writeFrame(out, 0, payload);
  return out;
}

function writeFrame(out: Buffer, at: number, payload: Buffer): number {
  out.writeUInt32LE(payload.length, at);
  out.writeUInt32LE(crc32(payload), at + 4);
  payload.copy(out, at + FRAME_HEADER);
  return at + FRAME_HEADER + payload.length;
}

export type FrameRead =
  | {
      readonly kind: 'frame';
      readonly value: unknown;
      readonly next: number;
      /** Of a binary journal payload: its last record's sequence (0 for any other payload). */
      readonly lastSeq: number;
    }
  | { readonly kind: 'end' }
  | { readonly kind: 'torn'; readonly reason: string };

const MAX_PAYLOAD = 256 * 1024 * 1024;

export type FrameCheck =
  | { readonly kind: 'frame'; readonly payload: Buffer; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'torn'; readonly reason: string };

/** Checks the frame at `at` (length and CRC) without decoding its payload. */
export function checkFrame(buf: Buffer, at: number): FrameCheck {
  if (at === buf.length) return { kind: 'end' };
  if (buf.length - at < FRAME_HEADER) return { kind: 'torn', reason: 'truncated frame header' };
  const length = buf.readUInt32LE(at);
  const crc = buf.readUInt32LE(at + 4);
  if (length > MAX_PAYLOAD) return { kind: 'torn', reason: `implausible frame length ${length}` };
  const end = at + FRAME_HEADER + length;
  if (end > buf.length) return { kind: 'torn', reason: 'truncated frame payload' };
  const payload = buf.subarray(at + FRAME_HEADER, end);
  if (crc32(payload) !== crc) return { kind: 'torn', reason: 'CRC mismatch' };
  return { kind: 'frame', payload, next: end };
}

/**
 * Reads the frame at `at`: a whole valid frame, the clean end, or a torn/corrupt one. Of a binary
 * journal payload only the records with seq >= `fromSeq` are built (the others are checked and
 * stepped over); a msgpack payload is decoded whole.
 */
export function readFrame(buf: Buffer, at: number, fromSeq = -Infinity): FrameRead {
  const checked = checkFrame(buf, at);
  return checked.kind === 'frame' ? decodeFrame(checked.payload, checked.next, fromSeq) : checked;
}

function decodeFrame(payload: Buffer, next: number, fromSeq: number): FrameRead {
  try {
    if (payload[0] !== JOURNAL_MAGIC) {
      return { kind: 'frame', value: unpackr.unpack(payload), next, lastSeq: 0 };
    }
    const reader = new RecordReader(payload);
    const value = reader.records(fromSeq);
    return { kind: 'frame', value, next, lastSeq: reader.lastSeq };
  } catch (error) {
    if (error instanceof PersistenceError) throw error;
    return { kind: 'torn', reason: `undecodable payload: ${String(error)}` };
  }
}

export type JournalFrameRead =
  | FrameRead
  | {
      /** A binary journal payload, checked whole (see RecordReader.check): `reader` reads it
       * from its first record, a slice at a time. */
      readonly kind: 'records';
      readonly reader: RecordReader;
      readonly next: number;
      readonly lastSeq: number;
    };

/**
 * Reads the journal frame at `at` as `readFrame` does, except that a binary journal payload is
 * only checked (every record stepped over, nothing built) and handed back with a reader, for the
 * caller to build its records a slice at a time.
 */
export function openJournalFrame(buf: Buffer, at: number): JournalFrameRead {
  const checked = checkFrame(buf, at);
  if (checked.kind !== 'frame') return checked;
  const { payload, next } = checked;
  if (payload[0] !== JOURNAL_MAGIC) return decodeFrame(payload, next, -Infinity);
  let lastSeq: number;
  try {
    const probe = new RecordReader(payload);
    probe.check();
    lastSeq = probe.lastSeq;
  } catch (error) {
    if (error instanceof PersistenceError) throw error;
    return { kind: 'torn', reason: `undecodable payload: ${String(error)}` };
  }
  return { kind: 'records', reader: new RecordReader(payload), next, lastSeq };
}

/** A msgpack payload a frame check passed (snapshot chunks are decoded as they are imported). */
export function unpackPayload(payload: Buffer): unknown {
  return unpackr.unpack(payload);
}

/** msgpack of a value with its CRC, for stores that keep whole blobs (Redis). */
export function packBlob(value: unknown): Buffer {
  return encodeFrame(value);
}

export function unpackBlob(buf: Buffer): unknown {
  const r = readFrame(buf, 0);
  if (r.kind !== 'frame' || r.next !== buf.length) {
    throw new Error(r.kind === 'torn' ? r.reason : 'empty blob');
  }
  return r.value;
}

/**
 * The records of one group commit, or null when the value is not one. Entries written before
 * journal extensions existed carried the order service's records as their own types (`order`:
 * `{event}`, `acks`: `{acks}`); they are read as the `order` extension's records, so a data
 * directory or Redis stream written then recovers unchanged.
 */
export function decodeRecords(value: unknown): JournalRecord[] | null {
  if (!Array.isArray(value) || !value.every(isRecord)) return null;
  const records = value;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as JournalRecord;
    const legacy = r.entry as {
      readonly type: string;
      readonly event?: unknown;
      readonly acks?: unknown;
    };
    if (legacy.type === 'order') {
      records[i] = {
        seq: r.seq,
        at: r.at,
        entry: { type: 'ext', kind: 'order', record: { event: legacy.event } },
      };
    } else if (legacy.type === 'acks') {
      records[i] = {
        seq: r.seq,
        at: r.at,
        entry: { type: 'ext', kind: 'order', record: { acks: legacy.acks } },
      };
    }
  }
  return records;
}

function isRecord(value: unknown): value is JournalRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.seq === 'number' &&
    typeof v.at === 'number' &&
    typeof v.entry === 'object' &&
    v.entry !== null
  );
}

export function isChunk(value: unknown): value is SnapshotItem[] {
  return Array.isArray(value);
}
