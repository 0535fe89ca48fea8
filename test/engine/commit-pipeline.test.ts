import { afterEach, describe, expect, it } from 'vitest';
import type { CommandResult, JournalRecord, JournalWriter } from '../../engine/index.ts';
import { harness, stock, type Harness } from './fixtures.ts';

/** A journal whose appends complete only when the test says so. */
class GatedJournal implements JournalWriter {
  readonly appends: {
    records: readonly JournalRecord[];
    done: () => void;
    failed: (e: Error) => void;
  }[] = [];

  append(records: readonly JournalRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.appends.push({ records, done: resolve, failed: reject });
    });
  }

  resync(): Promise<readonly JournalRecord[]> {
    return Promise.resolve([]);
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let h: Harness;
afterEach(async () => {
  await h.engine.stop();
});

describe('group commit', () => {
  it('answers nothing before the write that covers it is durable, and writes one append per cycle', async () => {
    h = harness();
    await stock(h, 'A', { S1: 100 });
    await stock(h, 'B', { S1: 100 });
    const journal = new GatedJournal();
    h.engine.storage.attachJournal(journal, 0);
    const answers: CommandResult[] = [];
    const first = Array.from({ length: 10 }, (_, i) =>
      h
        .run({
          op: 'reserve',
          reservationId: `a${i}`,
          channel: 'web',
          sku: i % 2 ? 'A' : 'B',
          qty: 1,
          location: 'S1',
        })
        .then((r) => answers.push(r)),
    );
    for (let i = 0; i < 5; i++) await turn();
    expect(journal.appends).toHaveLength(1);
    expect(journal.appends[0]?.records).toHaveLength(10);
    expect(answers).toEqual([]);
    // While that write is in flight, more commands gather for the next one.
    const second = Array.from({ length: 7 }, (_, i) =>
      h
        .run({
          op: 'reserve',
          reservationId: `b${i}`,
          channel: 'web',
          sku: 'A',
          qty: 1,
          location: 'S1',
        })
        .then((r) => answers.push(r)),
    );
    for (let i = 0; i < 5; i++) await turn();
    expect(journal.appends).toHaveLength(1);
    expect(answers).toEqual([]);
    journal.appends[0]?.done();
    await Promise.all(first);
    expect(answers).toHaveLength(10);
    for (let i = 0; i < 5; i++) await turn();
    expect(journal.appends).toHaveLength(2);
    expect(journal.appends[1]?.records.map((r) => r.seq)).toEqual([11, 12, 13, 14, 15, 16, 17]);
    expect(answers).toHaveLength(10);
    journal.appends[1]?.done();
    await Promise.all(second);
    expect(answers.every((r) => r.ok)).toBe(true);
  });

  it('answers UNAVAILABLE and takes the changes back when the write fails', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10 });
    const journal = new GatedJournal();
    h.engine.storage.attachJournal(journal, 0);
    const pending = h.run({
      op: 'reserve',
      reservationId: 'x',
      channel: 'web',
      sku: 'A',
      qty: 4,
      location: 'S1',
    });
    for (let i = 0; i < 5; i++) await turn();
    expect(h.engine.position('A', 'S1')?.reserved).toBe(4); // applied, not yet durable
    journal.appends[0]?.failed(new Error('disk gone'));
    expect(await pending).toMatchObject({
      ok: false,
      code: 'UNAVAILABLE',
      reason: 'STORE_UNAVAILABLE',
    });
    expect(h.engine.position('A', 'S1')?.reserved).toBe(0);
    expect(h.engine.reservation('x')).toBeNull();
    expect(h.engine.storage.journal().available).toBe(false);
    expect(
      await h.run({
        op: 'reserve',
        reservationId: 'y',
        channel: 'web',
        sku: 'A',
        qty: 1,
        location: 'S1',
      }),
    ).toMatchObject({ code: 'UNAVAILABLE' });
    expect(() => {
      h.engine.upsertProducts([{ sku: 'Q' }]);
    }).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
    // The engine finds the store again by itself (its retry timer runs on the clock).
    h.clock.advance(100);
    await turn();
    expect(h.engine.storage.journal().available).toBe(true);
    const again = h.run({
      op: 'reserve',
      reservationId: 'x',
      channel: 'web',
      sku: 'A',
      qty: 4,
      location: 'S1',
    });
    for (let i = 0; i < 5; i++) await turn();
    expect(journal.appends[1]?.records[0]?.seq).toBe(1);
    journal.appends[1]?.done();
    expect((await again).ok).toBe(true);
  });
});
