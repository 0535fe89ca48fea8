import { Packr } from 'msgpackr';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import { FileStore, recover, Snapshotter } from '../../persistence/index.ts';
import { readFrame } from '../../persistence/record-codec.ts';
import { silent, tempDir } from '../persistence/engine-fixture.ts';
import { holdings, order, orderHarness, type OrderHarness } from './order-fixture.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** An order harness on the embedded file store in `dir`, recovered from what it holds. */
async function open(
  dir: string,
  clock: ManualClock,
): Promise<{ h: OrderHarness; store: FileStore }> {
  const store = new FileStore({ dir, fsync: 'always', segmentBytes: 1024 * 1024 }, silent);
  await store.open();
  const h = orderHarness({ clock, start: false });
  await recover(h.engine, store, silent);
  h.orders.start();
  return { h, store };
}

describe('orders on the file store', () => {
  it('come back after a restart from snapshot and journal, and go on where they were', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const first = await open(dir, clock);
    await first.h.stock('A', { paris: 6, lyon: 6 });
    const a = await first.h.placed(order([['A', 2]]), 'key-a');
    // A snapshot in the middle: orders are in its chunks, later events in the journal tail.
    const snapshotter = new Snapshotter(
      first.h.engine,
      first.store,
      { everyRecords: 1e9, everyMs: 1e9, chunkBooks: 1 },
      clock,
      silent,
      0,
    );
    expect(await snapshotter.take()).not.toBeNull();
    const fa = a.order.fulfilments[0]?.fulfilmentId ?? '';
    await first.h.orders.fulfilmentAnswer(fa, { type: 'rejected', reason: 'flood' }, 'paris');
    const b = await first.h.placed(order([['A', 1]]));
    await first.h.idle();
    const before = [first.h.orders.get(a.order.orderId), first.h.orders.get(b.order.orderId)];
    await first.h.orders.stop();
    await first.h.engine.stop();
    await first.store.close();

    const second = await open(dir, clock);
    expect([second.h.orders.get(a.order.orderId), second.h.orders.get(b.order.orderId)]).toEqual(
      before,
    );
    expect(holdings(second.h, a.order.orderId)).toEqual({ 'A@lyon': 2 });
    // The idempotency key survived, and the moved fulfilment can be answered.
    const again = await second.h.place(order([['A', 5]]), 'key-a');
    expect(again).toMatchObject({ ok: false, code: 'CONFLICT' });
    const moved = before[0]?.fulfilments[1]?.fulfilmentId ?? '';
    const shipped = await second.h.orders.fulfilmentAnswer(
      moved,
      { type: 'shipped', tracking: 'T' },
      'lyon',
    );
    expect(shipped.ok).toBe(true);
    expect(second.h.engine.position('A', 'lyon')).toMatchObject({ onHand: 4, allocated: 0 });
    expect(second.h.engine.position('A', 'paris')).toMatchObject({ onHand: 6, allocated: 1 });
    await second.h.orders.stop();
    await second.h.engine.stop();
    await second.store.close();
  });
});

/**
 * Rewrites every journal segment in `dir` the way Stockflow wrote them before journal extensions
 * existed: the order service's records as entries of their own types (`order` with the event,
 * `acks` with the acknowledgements), in journal format 1: the file store's frame (u32 payload
 * length, u32 CRC-32) around a msgpack payload (records extension on).
 */
function toLegacyJournal(dir: string): number {
  const packr = new Packr({ useRecords: true, moreTypes: false });
  let rewritten = 0;
  const journal = join(dir, 'journal');
  for (const name of readdirSync(journal)) {
    const buf = readFileSync(join(journal, name));
    const out: Buffer[] = [];
    for (let at = 0; at < buf.length;) {
      const frame = readFrame(buf, at);
      if (frame.kind !== 'frame') throw new Error(`unexpected ${frame.kind} frame`);
      at = frame.next;
      const records = frame.value as {
        seq: number;
        at: number;
        entry: { type: string; kind?: string; record?: { event?: unknown; acks?: unknown } };
      }[];
      const legacy = records.map((r) => {
        if (r.entry.type !== 'ext') return r;
        rewritten++;
        const record = r.entry.record ?? {};
        return {
          seq: r.seq,
          at: r.at,
          entry:
            record.event !== undefined
              ? { type: 'order', event: record.event }
              : { type: 'acks', acks: record.acks },
        };
      });
      const packed = packr.pack(legacy);
      const header = Buffer.alloc(8);
      header.writeUInt32LE(packed.length, 0);
      header.writeUInt32LE(crc32(packed), 4);
      out.push(header, packed);
    }
    writeFileSync(join(journal, name), Buffer.concat(out));
  }
  return rewritten;
}

describe('a journal written before journal extensions existed', () => {
  it('recovers its orders unchanged (order and acks entries read as the order extension)', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const first = await open(dir, clock);
    await first.h.stock('A', { paris: 6, lyon: 6 });
    const a = await first.h.placed(order([['A', 2]]), 'key-a');
    const fa = a.order.fulfilments[0]?.fulfilmentId ?? '';
    await first.h.orders.fulfilmentAnswer(fa, { type: 'accepted' }, 'paris');
    await first.h.idle();
    const before = first.h.orders.get(a.order.orderId);
    const held = holdings(first.h, a.order.orderId);
    await first.h.orders.stop();
    await first.h.engine.stop();
    await first.store.close();

    // Events and at least one turn of delivery acknowledgements were journaled.
    expect(toLegacyJournal(dir)).toBeGreaterThanOrEqual(3);

    const second = await open(dir, clock);
    expect(second.h.orders.get(a.order.orderId)).toEqual(before);
    expect(holdings(second.h, a.order.orderId)).toEqual(held);
    // Nothing is sent twice: the legacy acks were applied.
    expect(second.h.orders.get(a.order.orderId)?.pendingMessages).toBe(0);
    await second.h.orders.stop();
    await second.h.engine.stop();
    await second.store.close();
  });
});
