import { afterEach, describe, expect, it } from 'vitest';
import type { Command, CommandResult, ResultSink } from '../../engine/index.ts';
import { harness, stock, type Harness } from './fixtures.ts';

let h: Harness;
afterEach(async () => {
  await h.engine.stop();
});

class Tally implements ResultSink<number> {
  readonly codes = new Map<string, number>();
  deliver(result: CommandResult): void {
    const code = result.ok ? 'OK' : result.code;
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }
}

describe('mailbox bound', () => {
  it('answers BUSY beyond the per-SKU queue bound instead of queueing without limit', async () => {
    h = harness({ maxQueuedPerSku: 100 });
    await stock(h, 'A', { S1: 1_000_000 });
    await stock(h, 'C', { S1: 10 });
    const tally = new Tally();
    for (let i = 0; i < 250; i++) {
      h.engine.submit(
        { op: 'reserve', reservationId: `r${i}`, channel: 'web', sku: 'A', qty: 1, location: 'S1' },
        tally,
        i,
      );
    }
    // Another SKU is not held up by the hot one.
    h.engine.submit(
      { op: 'reserve', reservationId: 'c1', channel: 'web', sku: 'C', qty: 1, location: 'S1' },
      tally,
      0,
    );
    await h.engine.settle();
    expect(Object.fromEntries(tally.codes)).toEqual({ OK: 101, BUSY: 150 });
    expect(h.engine.stats().busyRejections).toBe(150);
    expect(h.engine.position('A', 'S1')?.reserved).toBe(100);
    // A refused id is free again: the BUSY answer left nothing behind.
    await h.ok({
      op: 'reserve',
      reservationId: 'r200',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
  });
});

describe('actor failure', () => {
  it('contains a command that throws to that command, restores the book and keeps serving', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10 });
    await h.ok({
      op: 'reserve',
      reservationId: 'ok1',
      channel: 'web',
      sku: 'A',
      qty: 2,
      location: 'S1',
    });
    let reads = 0;
    // A hostile command object whose quantity throws after validation read it once.
    const hostile = {
      op: 'reserve',
      reservationId: 'boom',
      channel: 'web',
      sku: 'A',
      location: 'S1',
      get qty(): number {
        reads++;
        if (reads > 1) throw new Error('boom');
        return 1;
      },
    } as Command;
    const [bad, good] = await Promise.all([
      h.run(hostile),
      h.run({
        op: 'reserve',
        reservationId: 'ok2',
        channel: 'web',
        sku: 'A',
        qty: 3,
        location: 'S1',
      }),
    ]);
    expect(bad).toMatchObject({ ok: false, code: 'INTERNAL', reason: 'ACTOR_FAILED' });
    expect(good.ok).toBe(true);
    expect(h.engine.stats().actorFailures).toBe(1);
    expect(h.engine.position('A', 'S1')).toMatchObject({ onHand: 10, reserved: 5 });
    expect(h.engine.reservation('boom')).toBeNull();
    await h.ok({ op: 'release', reservationId: 'ok1' });
    expect(h.engine.position('A', 'S1')?.reserved).toBe(3);
  });

  it('answers UNAVAILABLE after stop and loses nothing that was in flight', async () => {
    h = harness();
    await stock(h, 'A', { S1: 10 });
    const inFlight = h.run({
      op: 'reserve',
      reservationId: 'r1',
      channel: 'web',
      sku: 'A',
      qty: 1,
      location: 'S1',
    });
    await h.engine.stop();
    expect((await inFlight).ok).toBe(true);
    expect(await h.run({ op: 'release', reservationId: 'r1' })).toMatchObject({
      ok: false,
      code: 'UNAVAILABLE',
    });
  });
});
