import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type ReserveCommand } from '../../engine/index.ts';
import { harness, stock, type Harness } from './fixtures.ts';
import { MemoryJournal } from './memory-journal.ts';

let h: Harness;
afterEach(async () => {
  await h.engine.stop();
});

describe('reservation expiry', () => {
  it('expires a hold at its TTL (channel default 10 min) on the injected clock', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const r = await h.ok({
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    expect(r.reservation?.expiresAt).toBe(h.clock.now() + 600_000);
    h.clock.advance(599_999);
    await h.engine.settle();
    expect(h.engine.reservation('r1')?.state).toBe('held');
    h.clock.advance(1);
    await h.engine.settle();
    expect(h.engine.reservation('r1')?.state).toBe('expired');
    expect(h.engine.position('A', 'S1')?.reserved).toBe(0);
    const late = await h.fails({ op: 'confirm', reservationId: 'r1', orderId: 'o1' });
    expect(late.reason).toBe('RESERVATION_NOT_HELD');
  });

  it('uses the per-channel TTL and a per-request TTL, in deadline order', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10 });
    await h.ok({
      op: 'reserve',
      reservationId: 'web',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    await h.ok({
      op: 'reserve',
      reservationId: 'kiosk',
      channel: 'kiosk',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    await h.ok({
      op: 'reserve',
      reservationId: 'short',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
      ttlMs: 5_000,
    });
    h.clock.advance(5_000);
    await h.engine.settle();
    expect(['web', 'kiosk', 'short'].map((id) => h.engine.reservation(id)?.state)).toEqual([
      'held',
      'held',
      'expired',
    ]);
    h.clock.advance(55_000);
    await h.engine.settle();
    expect(['web', 'kiosk'].map((id) => h.engine.reservation(id)?.state)).toEqual([
      'held',
      'expired',
    ]);
    expect(h.engine.position('A', 'S1')?.reserved).toBe(1);
  });

  it('does not expire what was released or confirmed, and purges tombstones after their TTL', async () => {
    h = harness({ tombstoneTtlMs: 60_000 });
    await stock(h, 'A', { S1: 10 });
    await h.ok({
      op: 'reserve',
      reservationId: 'a',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    await h.ok({
      op: 'reserve',
      reservationId: 'b',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    await h.ok({ op: 'confirm', reservationId: 'b', orderId: 'o1' });
    await h.ok({ op: 'release', reservationId: 'a' });
    h.clock.advance(59_999);
    await h.engine.settle();
    expect((await h.ok({ op: 'release', reservationId: 'a' })).duplicate).toBe(true);
    h.clock.advance(1);
    await h.engine.settle();
    expect(h.engine.reservation('a')).toBeNull();
    expect(h.engine.reservation('b')).toBeNull();
    expect((await h.fails({ op: 'release', reservationId: 'a' })).code).toBe('NOT_FOUND');
    expect(h.engine.position('A', 'S1')).toMatchObject({ reserved: 0, allocated: 2 });
    h.clock.advance(3_600_000);
    await h.engine.settle();
    expect(h.engine.stats().reservations).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('keeps one armed timer however many reservations are held', async () => {
    h = harness();
    await stock(h, 'A', { S1: 1_000 });
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        h.ok({
          op: 'reserve',
          reservationId: `r${i}`,
          channel: 'web',
          sku: 'A',
          qty: 1,
          location: 'S1',
          ttlMs: 1_000 + i * 10,
        }),
      ),
    );
    expect(h.clock.pendingTimers).toBe(1);
    h.clock.advance(1_000 + 250 * 10);
    await h.engine.settle();
    expect(h.engine.position('A', 'S1')?.reserved).toBe(249);
  });
});

describe('reservation expiry after a replay', () => {
  it('keeps no purged reservation in the schedule: holds granted after it still expire', async () => {
    const live = harness({ tombstoneTtlMs: 1_000 });
    h = live;
    const journal = new MemoryJournal();
    live.engine.storage.attachJournal(journal, 0);
    await stock(live, 'A', { S1: 10 });
    const reserve = (id: string, ttlMs?: number): ReserveCommand => ({
      op: 'reserve',
      reservationId: id,
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
      ...(ttlMs === undefined ? {} : { ttlMs }),
    });
    await live.ok(reserve('gone'));
    await live.ok({ op: 'release', reservationId: 'gone' });
    // Past its tombstone's time: the scheduler purges it, and the purge is journaled.
    live.clock.advance(1_001);
    await live.engine.settle();
    await live.engine.durable();
    expect(live.engine.reservation('gone')).toBeNull();
    await live.ok(reserve('later', 5_000));
    await live.engine.durable();

    // Recovery replays the purge while the released reservation is still scheduled for it (the
    // live scheduler had taken it out first); the hold granted after must still expire.
    const clock = new ManualClock(live.clock.now());
    const replayed = harness({ tombstoneTtlMs: 1_000, clock });
    try {
      replayed.engine.storage.replay(journal.records);
      expect(replayed.engine.reservation('gone')).toBeNull();
      expect(replayed.engine.reservation('later')?.state).toBe('held');
      clock.advance(5_000);
      await replayed.engine.settle();
      expect(replayed.engine.reservation('later')?.state).toBe('expired');
      expect(replayed.engine.position('A', 'S1')?.reserved).toBe(0);
    } finally {
      await replayed.engine.stop();
    }
  });
});
