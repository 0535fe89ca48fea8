import { afterEach, describe, expect, it } from 'vitest';
import { available, harness, stock, type Harness } from './fixtures.ts';

let h: Harness;
afterEach(async () => {
  await h.engine.stop();
});

describe('setOnHand (absolute feed)', () => {
  it('sets onHand and ignores an update that is not newer, counting it', async () => {
    h = harness();
    await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 7, asOf: 10 });
    const stale = await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 3, asOf: 9 });
    expect(stale.applied).toBe(false);
    const same = await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 4, asOf: 10 });
    expect(same.applied).toBe(false);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(7);
    expect(h.engine.stats().staleFeeds).toBe(2);
    const newer = await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 2, asOf: 11 });
    expect(newer.applied).toBe(true);
    expect(newer.position).toEqual({
      sku: 'A',
      location: 'S1',
      onHand: 2,
      reserved: 0,
      allocated: 0,
    });
  });

  it('refuses unknown SKUs and locations, and bad quantities', async () => {
    h = harness();
    const sku = await h.fails({ op: 'setOnHand', sku: 'nope', location: 'S1', onHand: 1, asOf: 1 });
    expect([sku.code, sku.reason]).toEqual(['NOT_FOUND', 'UNKNOWN_SKU']);
    const loc = await h.fails({ op: 'setOnHand', sku: 'A', location: 'X9', onHand: 1, asOf: 1 });
    expect([loc.code, loc.reason]).toEqual(['NOT_FOUND', 'UNKNOWN_LOCATION']);
    for (const onHand of [-1, 1.5, Number.NaN, Infinity, 2e9]) {
      const bad = await h.fails({ op: 'setOnHand', sku: 'A', location: 'S1', onHand, asOf: 1 });
      expect([bad.code, bad.reason]).toEqual(['BAD_REQUEST', 'INVALID_QUANTITY']);
    }
    const badAsOf = await h.fails({
      op: 'setOnHand',
      sku: 'A',
      location: 'S1',
      onHand: 1,
      asOf: Number.NaN,
    });
    expect(badAsOf.code).toBe('BAD_REQUEST');
    const badId = await h.fails({
      op: 'setOnHand',
      sku: 'a:b',
      location: 'S1',
      onHand: 1,
      asOf: 1,
    });
    expect([badId.code, badId.reason]).toEqual(['BAD_REQUEST', 'INVALID_ID']);
    expect(h.engine.position('A', 'S1')).toBeNull();
  });
});

describe('adjust (delta feed)', () => {
  it('applies a delta once per id and answers a retry with the first answer', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const first = await h.ok({
      op: 'adjust',
      adjustmentId: 'adj-1',
      sku: 'A',
      location: 'S1',
      delta: 3,
    });
    expect(first.position?.onHand).toBe(8);
    const retry = await h.ok({
      op: 'adjust',
      adjustmentId: 'adj-1',
      sku: 'A',
      location: 'S1',
      delta: 3,
    });
    expect(retry.duplicate).toBe(true);
    expect(retry.applied).toBe(false);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(8);
  });

  it('refuses an id reused with other content, and zero or fractional deltas', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    await h.ok({ op: 'adjust', adjustmentId: 'adj-1', sku: 'A', location: 'S1', delta: 3 });
    const reused = await h.fails({
      op: 'adjust',
      adjustmentId: 'adj-1',
      sku: 'A',
      location: 'S1',
      delta: 4,
    });
    expect([reused.code, reused.reason]).toEqual(['CONFLICT', 'ID_REUSED']);
    for (const delta of [0, 0.5, Number.NaN]) {
      const bad = await h.fails({
        op: 'adjust',
        adjustmentId: `x${delta}`,
        sku: 'A',
        location: 'S1',
        delta,
      });
      expect(bad.code).toBe('BAD_REQUEST');
    }
    expect(h.engine.position('A', 'S1')?.onHand).toBe(8);
  });

  it('ignores a delta that an absolute feed already contains (asOf ordering)', async () => {
    h = harness();
    await h.ok({ op: 'setOnHand', sku: 'A', location: 'S1', onHand: 10, asOf: 100 });
    const old = await h.ok({
      op: 'adjust',
      adjustmentId: 'a1',
      sku: 'A',
      location: 'S1',
      delta: -2,
      asOf: 99,
    });
    expect(old.applied).toBe(false);
    await h.ok({
      op: 'adjust',
      adjustmentId: 'a2',
      sku: 'A',
      location: 'S1',
      delta: -2,
      asOf: 101,
    });
    expect(h.engine.position('A', 'S1')?.onHand).toBe(8);
  });

  it('lets a negative delta make the position short: availability 0, nothing granted', async () => {
    h = harness();
    await stock(h, 'A', { S1: 3 });
    await h.ok({
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    await h.ok({ op: 'adjust', adjustmentId: 'lost', sku: 'A', location: 'S1', delta: -3 });
    expect(h.engine.position('A', 'S1')).toMatchObject({ onHand: 0, reserved: 2 });
    expect(available(h, 'web', 'A', 'S1')).toBe(0);
    const r = await h.fails({
      op: 'reserve',
      reservationId: 'r2',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    expect([r.code, r.available]).toEqual(['INSUFFICIENT_STOCK', 0]);
  });
});

describe('reserve', () => {
  it('grants at a location, and refuses beyond availability with the available quantity', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const r = await h.ok({
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 3,
      location: 'S1',
    });
    expect(r.reservation).toMatchObject({
      state: 'held',
      qty: 3,
      lines: [{ location: 'S1', qty: 3 }],
    });
    expect(h.engine.position('A', 'S1')).toMatchObject({ onHand: 5, reserved: 3 });
    const no = await h.fails({
      op: 'reserve',
      reservationId: 'r2',
      channel: 'web',
      sku: 'A',
      qty: 3,
      location: 'S1',
    });
    expect([no.code, no.available]).toEqual(['INSUFFICIENT_STOCK', 2]);
    expect(h.engine.reservation('r2')).toBeNull();
  });

  it('is idempotent on the reservation id, and refuses the id with other content', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const cmd = {
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    } as const;
    await h.ok(cmd);
    const again = await h.ok(cmd);
    expect(again.duplicate).toBe(true);
    expect(h.engine.position('A', 'S1')?.reserved).toBe(2);
    const other = await h.fails({ ...cmd, qty: 3 });
    expect([other.code, other.reason]).toEqual(['CONFLICT', 'ID_REUSED']);
    await stock(h, 'B', { S1: 5 });
    const otherSku = await h.fails({ ...cmd, sku: 'B' });
    expect([otherSku.code, otherSku.reason]).toEqual(['CONFLICT', 'ID_REUSED']);
  });

  it('gives the same id sent many times in one turn one effect', async () => {
    h = harness();
    await stock(h, 'A', { S1: 100 });
    const cmd = {
      op: 'reserve',
      reservationId: 'same',
      channel: 'web',
      sku: 'A',
      qty: 5,
      location: 'S1',
    } as const;
    const results = await Promise.all(Array.from({ length: 20 }, () => h.run(cmd)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.ok && r.applied)).toHaveLength(1);
    expect(h.engine.position('A', 'S1')?.reserved).toBe(5);
  });

  it('refuses bad input: quantities, ids, TTLs, unknown channel, SKU and location', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const base = {
      op: 'reserve',
      reservationId: 'r',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    } as const;
    for (const qty of [0, -1, 1.5, Number.NaN]) {
      expect((await h.fails({ ...base, qty })).reason).toBe('INVALID_QUANTITY');
    }
    expect((await h.fails({ ...base, reservationId: '' })).reason).toBe('INVALID_ID');
    expect((await h.fails({ ...base, reservationId: 'x'.repeat(129) })).reason).toBe('INVALID_ID');
    expect((await h.fails({ ...base, ttlMs: 10 })).reason).toBe('INVALID_TTL');
    expect((await h.fails({ ...base, ttlMs: 48 * 3_600_000 })).reason).toBe('INVALID_TTL');
    expect((await h.fails({ ...base, channel: 'fax' })).reason).toBe('UNKNOWN_CHANNEL');
    expect((await h.fails({ ...base, sku: 'Z' })).reason).toBe('UNKNOWN_SKU');
    expect((await h.fails({ ...base, location: 'X' })).reason).toBe('UNKNOWN_LOCATION');
    const unfed = await h.fails({ ...base, location: 'S2' });
    expect([unfed.code, unfed.available]).toEqual(['INSUFFICIENT_STOCK', 0]);
    expect(h.engine.position('A', 'S1')?.reserved).toBe(0);
  });

  it('splits a network reservation over locations, most available first', async () => {
    h = harness();
    await stock(h, 'A', { S1: 3, S2: 1, DC1: 4 });
    const r = await h.ok({ op: 'reserve', reservationId: 'n1', channel: 'web', sku: 'A', qty: 6 });
    expect(r.reservation?.lines).toEqual([
      { location: 'DC1', qty: 4 },
      { location: 'S1', qty: 2 },
    ]);
    expect(available(h, 'web', 'A')).toBe(2);
    const no = await h.fails({
      op: 'reserve',
      reservationId: 'n2',
      channel: 'web',
      sku: 'A',
      qty: 3,
    });
    expect([no.code, no.available]).toEqual(['INSUFFICIENT_STOCK', 2]);
  });
});

describe('release, confirm, deallocate, ship', () => {
  it('releases a hold once; a retry answers the same; after confirm it is a conflict', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    await h.ok({
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    const rel = await h.ok({ op: 'release', reservationId: 'r1' });
    expect(rel.reservation?.state).toBe('released');
    expect((await h.ok({ op: 'release', reservationId: 'r1' })).duplicate).toBe(true);
    expect(h.engine.position('A', 'S1')?.reserved).toBe(0);
    expect((await h.fails({ op: 'release', reservationId: 'nope' })).code).toBe('NOT_FOUND');

    await h.ok({
      op: 'reserve',
      reservationId: 'r2',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    await h.ok({ op: 'confirm', reservationId: 'r2', orderId: 'o1' });
    const late = await h.fails({ op: 'release', reservationId: 'r2' });
    expect([late.code, late.reason]).toEqual(['CONFLICT', 'RESERVATION_NOT_HELD']);
    const releasedThenConfirmed = await h.fails({
      op: 'confirm',
      reservationId: 'r1',
      orderId: 'o1',
    });
    expect(releasedThenConfirmed.reason).toBe('RESERVATION_NOT_HELD');
  });

  it("refuses a release or confirm that names another channel, even sent in the reserve's turn", async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    const [reserved, wrong, right] = await Promise.all([
      h.run({
        op: 'reserve',
        reservationId: 'k1',
        channel: 'kiosk',
        sku: 'A',
        qty: 1,
        location: 'S1',
      }),
      h.run({ op: 'release', reservationId: 'k1', channel: 'web' }),
      h.run({ op: 'confirm', reservationId: 'k1', orderId: 'o1', channel: 'kiosk' }),
    ]);
    expect(reserved.ok).toBe(true);
    expect(wrong).toMatchObject({ ok: false, code: 'FORBIDDEN', reason: 'OTHER_CHANNEL' });
    expect(right).toMatchObject({ ok: true, applied: true });
    const otherConfirm = await h.fails({
      op: 'confirm',
      reservationId: 'k1',
      orderId: 'o1',
      channel: 'web',
    });
    expect(otherConfirm.code).toBe('FORBIDDEN');
    expect((await h.fails({ op: 'release', reservationId: 'k1', channel: 'a:b' })).reason).toBe(
      'INVALID_ID',
    );
  });

  it('confirms a hold into an order allocation, idempotently per order', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5, S2: 5 });
    await h.ok({ op: 'reserve', reservationId: 'r1', channel: 'web', sku: 'A', qty: 7 });
    const c = await h.ok({ op: 'confirm', reservationId: 'r1', orderId: 'o1' });
    expect(c.reservation).toMatchObject({ state: 'confirmed', orderId: 'o1' });
    expect(h.engine.position('A', 'S1')).toMatchObject({ reserved: 0, allocated: 5 });
    expect(h.engine.position('A', 'S2')).toMatchObject({ reserved: 0, allocated: 2 });
    expect((await h.ok({ op: 'confirm', reservationId: 'r1', orderId: 'o1' })).duplicate).toBe(
      true,
    );
    const other = await h.fails({ op: 'confirm', reservationId: 'r1', orderId: 'o2' });
    expect([other.code, other.reason]).toEqual(['CONFLICT', 'ID_REUSED']);
    expect(available(h, 'web', 'A')).toBe(3);
  });

  it('deallocates and ships against the order allocation only', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    await h.ok({
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 4,
      location: 'S1',
    });
    await h.ok({ op: 'confirm', reservationId: 'r1', orderId: 'o1' });
    const d = await h.ok({
      op: 'deallocate',
      requestId: 'd1',
      orderId: 'o1',
      sku: 'A',
      location: 'S1',
      qty: 1,
    });
    expect(d.position).toMatchObject({ onHand: 5, allocated: 3 });
    expect(
      (
        await h.ok({
          op: 'deallocate',
          requestId: 'd1',
          orderId: 'o1',
          sku: 'A',
          location: 'S1',
          qty: 1,
        })
      ).duplicate,
    ).toBe(true);
    const s = await h.ok({
      op: 'ship',
      shipmentId: 's1',
      orderId: 'o1',
      sku: 'A',
      location: 'S1',
      qty: 3,
    });
    expect(s.position).toMatchObject({ onHand: 2, allocated: 0, reserved: 0 });
    expect(
      (
        await h.ok({
          op: 'ship',
          shipmentId: 's1',
          orderId: 'o1',
          sku: 'A',
          location: 'S1',
          qty: 3,
        })
      ).duplicate,
    ).toBe(true);
    expect(h.engine.position('A', 'S1')?.onHand).toBe(2);
    const over = await h.fails({
      op: 'ship',
      shipmentId: 's2',
      orderId: 'o1',
      sku: 'A',
      location: 'S1',
      qty: 1,
    });
    expect([over.code, over.reason]).toEqual(['CONFLICT', 'UNKNOWN_ALLOCATION']);
    const wrongOrder = await h.fails({
      op: 'deallocate',
      requestId: 'd2',
      orderId: 'o9',
      sku: 'A',
      location: 'S1',
      qty: 1,
    });
    expect(wrongOrder.reason).toBe('UNKNOWN_ALLOCATION');
    const reused = await h.fails({
      op: 'ship',
      shipmentId: 's1',
      orderId: 'o1',
      sku: 'A',
      location: 'S1',
      qty: 2,
    });
    expect(reused.reason).toBe('ID_REUSED');
  });
});

describe('full location snapshot', () => {
  it('sets listed SKUs and zeroes the positions the snapshot leaves out', async () => {
    h = harness();
    await stock(h, 'A', { S1: 5 });
    await stock(h, 'B', { S1: 5, S2: 9 });
    const summary = await h.engine.replaceLocationStock('S1', 2, [
      { sku: 'C', onHand: 4 },
      { sku: 'Z', onHand: 1 },
    ]);
    expect(summary).toMatchObject({ applied: 3, zeroed: 2, rejected: 1, stale: 0 });
    expect(summary.errors[0]).toMatchObject({ sku: 'Z', code: 'NOT_FOUND' });
    expect(h.engine.position('A', 'S1')?.onHand).toBe(0);
    expect(h.engine.position('B', 'S1')?.onHand).toBe(0);
    expect(h.engine.position('C', 'S1')?.onHand).toBe(4);
    expect(h.engine.position('B', 'S2')?.onHand).toBe(9);
    const old = await h.engine.replaceLocationStock('S1', 1, [{ sku: 'C', onHand: 1 }]);
    expect(old).toMatchObject({ applied: 0, stale: 3 });
    await expect(h.engine.replaceLocationStock('X', 3, [])).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
