import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import {
  OutboxDispatcher,
  type DeliveryOutcome,
  type OutboxMessage,
  type OutboxOptions,
  type OutboxTransport,
} from '../../orders/outbox-dispatcher.ts';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const OK: DeliveryOutcome = { ok: true, status: 200 };
const RETRY: DeliveryOutcome = { ok: false, retryable: true, status: 503, error: 'busy' };
const REJECT: DeliveryOutcome = { ok: false, retryable: false, status: 400, error: 'bad' };

/** A seeded generator (mulberry32), so a failure pattern is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function msg(orderId: string, stream: string, n: number): OutboxMessage {
  return {
    messageId: `${orderId}/${stream}/${n}`,
    orderId,
    stream,
    type: 'order.updated',
    body: { n },
    createdAt: 0,
  };
}

interface Pending {
  readonly message: OutboxMessage;
  resolve(outcome: DeliveryOutcome): void;
  reject(error: unknown): void;
}

/** Every send hangs until the test settles it; `pending` is in send order. */
class HangingTransport implements OutboxTransport {
  readonly pending: Pending[] = [];
  readonly sent: string[] = [];

  send(message: OutboxMessage): Promise<DeliveryOutcome> {
    this.sent.push(message.messageId);
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
    });
  }

  /** Settles the pending send of `messageId`. */
  settle(messageId: string, outcome: DeliveryOutcome): void {
    const i = this.pending.findIndex((p) => p.message.messageId === messageId);
    if (i === -1) throw new Error(`${messageId} is not in flight`);
    const [p] = this.pending.splice(i, 1);
    p!.resolve(outcome);
  }

  inFlight(): string[] {
    return this.pending.map((p) => p.message.messageId);
  }
}

/** Answers at once with what `script` says for this message's nth attempt (1-based). */
class ScriptedTransport implements OutboxTransport {
  readonly sent: string[] = [];
  readonly sentAt: number[] = [];
  private readonly attempts = new Map<string, number>();

  constructor(
    private readonly clock: ManualClock,
    private readonly script: (message: OutboxMessage, attempt: number) => DeliveryOutcome | 'throw',
  ) {}

  send(message: OutboxMessage): Promise<DeliveryOutcome> {
    const attempt = (this.attempts.get(message.messageId) ?? 0) + 1;
    this.attempts.set(message.messageId, attempt);
    this.sent.push(message.messageId);
    this.sentAt.push(this.clock.now());
    const answer = this.script(message, attempt);
    if (answer === 'throw') return Promise.reject(new Error('socket hang up'));
    return Promise.resolve(answer);
  }
}

interface Rig {
  readonly clock: ManualClock;
  readonly dispatcher: OutboxDispatcher;
  readonly delivered: string[];
  readonly dead: { messageId: string; outcome: DeliveryOutcome }[];
}

function rig(
  transport: OutboxTransport | ((stream: string) => OutboxTransport | null),
  options: Partial<Omit<OutboxOptions, 'transportFor' | 'delivered' | 'deadLettered'>> & {
    readonly clock?: ManualClock;
  } = {},
): Rig {
  const clock = options.clock ?? new ManualClock();
  const delivered: string[] = [];
  const dead: Rig['dead'] = [];
  const transportFor = typeof transport === 'function' ? transport : () => transport;
  const dispatcher = new OutboxDispatcher({
    maxInFlight: 16,
    backoffBaseMs: 100,
    backoffMaxMs: 10_000,
    random: () => 0.5,
    ...options,
    clock,
    transportFor,
    delivered: (m) => delivered.push(m.messageId),
    deadLettered: (m, outcome) => dead.push({ messageId: m.messageId, outcome }),
  });
  return { clock, dispatcher, delivered, dead };
}

describe('OutboxDispatcher', () => {
  it('keeps each (orderId, stream) in order through random failures, throws and concurrency', async () => {
    const random = seeded(42);
    const inFlightByKey = new Map<string, number>();
    let overlap = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const clock = new ManualClock();
    const transport: OutboxTransport = {
      async send(message) {
        const key = `${message.orderId}|${message.stream}`;
        const n = (inFlightByKey.get(key) ?? 0) + 1;
        inFlightByKey.set(key, n);
        if (n > 1) overlap++;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await turn();
        inFlightByKey.set(key, n - 1);
        concurrent--;
        const roll = random();
        if (roll < 0.2) return RETRY;
        if (roll < 0.3) throw new Error('connection reset');
        return OK;
      },
    };
    const r = rig(transport, { clock, maxInFlight: 8, random: seeded(7), backoffMaxMs: 400 });
    const expected = new Map<string, string[]>();
    for (let n = 0; n < 5; n++) {
      for (let o = 0; o < 40; o++) {
        for (const stream of ['customer', `location:s${o % 3}`]) {
          const m = msg(`o${o}`, stream, n);
          r.dispatcher.enqueue(m);
          const key = `${m.orderId}|${m.stream}`;
          expected.set(key, [...(expected.get(key) ?? []), m.messageId]);
        }
      }
    }
    const total = 5 * 40 * 2;
    for (let i = 0; i < 10_000 && r.delivered.length < total; i++) {
      await turn();
      clock.advance(50);
    }
    expect(r.delivered).toHaveLength(total);
    expect(new Set(r.delivered).size).toBe(total);
    const seen = new Map<string, string[]>();
    for (const id of r.delivered) {
      const [orderId, stream] = id.split('/') as [string, string];
      const key = `${orderId}|${stream}`;
      seen.set(key, [...(seen.get(key) ?? []), id]);
    }
    expect(seen).toEqual(expected);
    expect(overlap).toBe(0);
    expect(maxConcurrent).toBe(8);
    expect(r.dispatcher.stats().retries).toBeGreaterThan(0);
    expect(r.dispatcher.stats()).toMatchObject({ queued: 0, inFlight: 0, delivered: total });
  });

  it('lets other orders and streams go on while one (orderId, stream) waits for its send', async () => {
    const t = new HangingTransport();
    const r = rig(t);
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 2));
    r.dispatcher.enqueue(msg('A', 'location:s1', 1));
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    expect(t.inFlight()).toEqual(['A/customer/1', 'A/location:s1/1', 'B/customer/1']);
    t.settle('A/location:s1/1', OK);
    t.settle('B/customer/1', OK);
    await turn();
    expect(r.delivered).toEqual(['A/location:s1/1', 'B/customer/1']);
    expect(t.inFlight()).toEqual(['A/customer/1']);
    t.settle('A/customer/1', OK);
    await turn();
    expect(t.inFlight()).toEqual(['A/customer/2']);
  });

  it('never has more than maxInFlight sends out, and fills a freed slot at once', async () => {
    const t = new HangingTransport();
    const r = rig(t, { maxInFlight: 3 });
    for (let o = 0; o < 10; o++) r.dispatcher.enqueue(msg(`o${o}`, 'customer', 1));
    expect(t.inFlight()).toEqual(['o0/customer/1', 'o1/customer/1', 'o2/customer/1']);
    expect(r.dispatcher.stats()).toMatchObject({ inFlight: 3, queued: 7 });
    t.settle('o1/customer/1', OK);
    await turn();
    expect(t.inFlight()).toEqual(['o0/customer/1', 'o2/customer/1', 'o3/customer/1']);
    expect(r.dispatcher.stats()).toMatchObject({ inFlight: 3, queued: 6, delivered: 1 });
  });

  it('takes ready (orderId, stream) pairs in turn, so a long queue cannot starve a short one', async () => {
    const t = new ScriptedTransport(new ManualClock(), () => OK);
    const r = rig(t, { maxInFlight: 1 });
    for (let n = 1; n <= 3; n++) r.dispatcher.enqueue(msg('A', 'customer', n));
    for (let n = 1; n <= 2; n++) r.dispatcher.enqueue(msg('B', 'customer', n));
    r.dispatcher.enqueue(msg('C', 'customer', 1));
    for (let i = 0; i < 10; i++) await turn();
    expect(t.sent).toEqual([
      'A/customer/1',
      'B/customer/1',
      'C/customer/1',
      'A/customer/2',
      'B/customer/2',
      'A/customer/3',
    ]);
  });

  it('backs off min(max, base × 2^(attempt−1)) × (0.5 + random/2) from each failure', async () => {
    const clock = new ManualClock();
    const t = new ScriptedTransport(clock, (_m, attempt) => (attempt <= 7 ? RETRY : OK));
    const r = rig(t, { clock, backoffBaseMs: 100, backoffMaxMs: 1_000, random: () => 0.5 });
    const start = clock.now();
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    // factor 0.75: 75, 150, 300, 600, then the 1000 cap: 750, 750, 750
    const delays = [75, 150, 300, 600, 750, 750, 750];
    for (const [i, delay] of delays.entries()) {
      await turn();
      expect(t.sent).toHaveLength(i + 1);
      clock.advance(delay - 1);
      await turn();
      expect(t.sent).toHaveLength(i + 1);
      clock.advance(1);
    }
    await turn();
    let at = start;
    expect(t.sentAt).toEqual([start, ...delays.map((delay) => (at += delay))]);
    expect(r.delivered).toEqual(['A/customer/1']);
    expect(r.dispatcher.stats()).toMatchObject({ retries: 7, delivered: 1 });
  });

  it('spreads the delay between half and all of the exponential step', async () => {
    const clock = new ManualClock();
    const rolls = [0, 0.75];
    const t = new ScriptedTransport(clock, () => RETRY);
    const r = rig(t, { clock, backoffBaseMs: 1_000, random: () => rolls.shift() ?? 0 });
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    await turn();
    clock.advance(500);
    await turn();
    expect(t.sentAt).toEqual([clock.now() - 500, clock.now()]);
    clock.advance(2_000 * 0.875 - 1);
    await turn();
    expect(t.sent).toHaveLength(2);
    clock.advance(1);
    await turn();
    expect(t.sent).toHaveLength(3);
  });

  it('keeps one clock timer for every waiting retry', async () => {
    const clock = new ManualClock();
    const t = new ScriptedTransport(clock, () => RETRY);
    const r = rig(t, { clock, maxInFlight: 1_000 });
    for (let o = 0; o < 1_000; o++) r.dispatcher.enqueue(msg(`o${o}`, 'customer', 1));
    await turn();
    expect(r.dispatcher.stats()).toMatchObject({ retries: 1_000, queued: 1_000, inFlight: 0 });
    expect(clock.pendingTimers).toBe(1);
    clock.advance(75);
    await turn();
    expect(t.sent).toHaveLength(2_000);
    expect(clock.pendingTimers).toBe(1);
  });

  it('counts a throwing transport, sync or async, as a retryable failure', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const transport: OutboxTransport = {
      send() {
        calls++;
        if (calls === 1) throw new Error('sync boom');
        if (calls === 2) return Promise.reject(new Error('async boom'));
        return Promise.resolve(OK);
      },
    };
    const r = rig(transport, { clock });
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    await turn();
    expect(r.dispatcher.stats()).toMatchObject({ retries: 1, deadLettered: 0 });
    clock.advance(75);
    await turn();
    expect(r.dispatcher.stats()).toMatchObject({ retries: 2, deadLettered: 0 });
    clock.advance(150);
    await turn();
    expect(r.delivered).toEqual(['A/customer/1']);
    expect(calls).toBe(3);
  });

  it('dead-letters a non-retryable failure and moves the stream on', async () => {
    const clock = new ManualClock();
    const t = new ScriptedTransport(clock, (m) => (m.messageId === 'A/customer/1' ? REJECT : OK));
    const r = rig(t, { clock });
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 2));
    for (let i = 0; i < 5; i++) await turn();
    expect(r.dead).toEqual([{ messageId: 'A/customer/1', outcome: REJECT }]);
    expect(r.delivered).toEqual(['A/customer/2']);
    expect(t.sent).toEqual(['A/customer/1', 'A/customer/2']);
    expect(r.dispatcher.stats()).toMatchObject({
      deadLettered: 1,
      delivered: 1,
      retries: 0,
      queued: 0,
    });
  });

  it('waits at backoff while a stream has no transport, and retries at once on wake', async () => {
    const clock = new ManualClock();
    const t = new ScriptedTransport(clock, () => OK);
    const connected = new Set<string>(['customer']);
    const r = rig((stream) => (connected.has(stream) ? t : null), { clock });
    r.dispatcher.enqueue(msg('A', 'location:s7', 1));
    r.dispatcher.enqueue(msg('A', 'location:s7', 2));
    r.dispatcher.enqueue(msg('B', 'location:s7', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    await turn();
    expect(t.sent).toEqual(['A/customer/1']);
    expect(r.dispatcher.stats()).toMatchObject({ retries: 2, queued: 3 });
    clock.advance(75);
    expect(r.dispatcher.stats()).toMatchObject({ retries: 4, queued: 3 });
    expect(clock.pendingTimers).toBe(1);
    connected.add('location:s7');
    r.dispatcher.wake('location:s8');
    expect(t.sent).toEqual(['A/customer/1']);
    r.dispatcher.wake('location:s7');
    for (let i = 0; i < 5; i++) await turn();
    expect(t.sent).toEqual([
      'A/customer/1',
      'A/location:s7/1',
      'B/location:s7/1',
      'A/location:s7/2',
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('retries a message waiting after a failed send at once on wake', async () => {
    const clock = new ManualClock();
    const t = new ScriptedTransport(clock, (_m, attempt) => (attempt === 1 ? RETRY : OK));
    const r = rig(t, { clock, backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    r.dispatcher.enqueue(msg('A', 'location:s1', 1));
    await turn();
    r.dispatcher.wake('location:s1');
    await turn();
    expect(t.sentAt).toEqual([clock.now(), clock.now()]);
    expect(r.delivered).toEqual(['A/location:s1/1']);
  });

  it('ignores a messageId already queued or in flight, and sends it again once settled', async () => {
    const t = new HangingTransport();
    const r = rig(t, { maxInFlight: 1 });
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 1)); // in flight
    r.dispatcher.enqueue(msg('B', 'customer', 1)); // queued
    expect(r.dispatcher.stats()).toMatchObject({ inFlight: 1, queued: 1 });
    t.settle('A/customer/1', OK);
    await turn();
    t.settle('B/customer/1', OK);
    await turn();
    expect(t.sent).toEqual(['A/customer/1', 'B/customer/1']);
    r.dispatcher.enqueue(msg('A', 'customer', 1)); // a restart re-enqueued it: not ours to judge
    expect(t.inFlight()).toEqual(['A/customer/1']);
  });

  it('forgets an order: drops its queued and waiting messages and reports nothing more about it', async () => {
    const clock = new ManualClock();
    const t = new HangingTransport();
    let locationUp = false;
    const r = rig((stream) => (stream === 'customer' || locationUp ? t : null), { clock });
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 2));
    r.dispatcher.enqueue(msg('A', 'location:s1', 1)); // waits: no transport
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    expect(clock.pendingTimers).toBe(1);
    r.dispatcher.forget('A');
    expect(clock.pendingTimers).toBe(0);
    expect(r.dispatcher.stats()).toMatchObject({ inFlight: 2, queued: 0 });
    t.settle('A/customer/1', OK);
    t.settle('B/customer/1', OK);
    await turn();
    locationUp = true;
    r.dispatcher.wake('location:s1');
    clock.advance(60_000);
    await turn();
    expect(r.delivered).toEqual(['B/customer/1']);
    expect(t.sent).toEqual(['A/customer/1', 'B/customer/1']);
    expect(r.dispatcher.stats()).toMatchObject({ inFlight: 0, queued: 0, oldestQueuedAgeMs: 0 });
    // the order's id is free again
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    expect(t.inFlight()).toEqual(['A/customer/1']);
  });

  it('counts what each stream still has to deliver, through sends, retries, dead letters and forgets', async () => {
    const t = new HangingTransport();
    const r = rig(t, { maxInFlight: 1 });
    r.dispatcher.enqueue(msg('A', 'erp:webhook', 1));
    r.dispatcher.enqueue(msg('A', 'erp:webhook', 2));
    r.dispatcher.enqueue(msg('A', 'erp:redis', 1));
    r.dispatcher.enqueue(msg('B', 'erp:webhook', 1));
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    r.dispatcher.enqueue(msg('B', 'customer', 1)); // a duplicate is not counted twice
    expect(r.dispatcher.pendingIn(['erp:webhook'])).toBe(3);
    expect(r.dispatcher.pendingIn(['erp:webhook', 'erp:redis'])).toBe(4);
    expect(r.dispatcher.pendingIn(['customer', 'nothing'])).toBe(1);
    t.settle('A/erp:webhook/1', RETRY); // retried: still to deliver
    await turn();
    expect(r.dispatcher.pendingIn(['erp:webhook'])).toBe(3);
    t.settle(t.inFlight()[0] as string, OK);
    await turn();
    t.settle(t.inFlight()[0] as string, REJECT);
    await turn();
    expect(r.dispatcher.pendingIn(['erp:webhook', 'erp:redis', 'customer'])).toBe(3);
    r.dispatcher.forget('A');
    r.dispatcher.forget('B');
    // the one send still out counts until it settles, as in stats().inFlight
    expect(t.inFlight()).toHaveLength(1);
    expect(r.dispatcher.pendingIn(['erp:webhook', 'erp:redis', 'customer'])).toBe(1);
    t.settle(t.inFlight()[0] as string, OK);
    await turn();
    expect(r.dispatcher.pendingIn(['erp:webhook', 'erp:redis', 'customer'])).toBe(0);
  });

  it('forgets a ready order that has not been sent yet', async () => {
    const t = new HangingTransport();
    const r = rig(t, { maxInFlight: 1 });
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    r.dispatcher.enqueue(msg('C', 'customer', 1));
    r.dispatcher.forget('A');
    t.settle('B/customer/1', OK);
    await turn();
    expect(t.inFlight()).toEqual(['C/customer/1']);
  });

  it('stop waits for in-flight sends, reports their outcome, and sends nothing more', async () => {
    const clock = new ManualClock();
    const t = new HangingTransport();
    const r = rig(t, { clock, maxInFlight: 2 });
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    r.dispatcher.enqueue(msg('A', 'customer', 2));
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    r.dispatcher.enqueue(msg('C', 'customer', 1));
    let stopped = false;
    const stopping = r.dispatcher.stop().then(() => {
      stopped = true;
    });
    t.settle('A/customer/1', OK);
    await turn();
    expect(stopped).toBe(false);
    expect(t.inFlight()).toEqual(['B/customer/1']);
    t.settle('B/customer/1', RETRY);
    await stopping;
    expect(r.delivered).toEqual(['A/customer/1']);
    expect(t.sent).toEqual(['A/customer/1', 'B/customer/1']);
    expect(clock.pendingTimers).toBe(0);
    r.dispatcher.enqueue(msg('D', 'customer', 1));
    expect(r.dispatcher.stats()).toMatchObject({ inFlight: 0, queued: 3 });
    await r.dispatcher.stop();
  });

  it('lets a callback enqueue the next message of the same stream', async () => {
    const clock = new ManualClock();
    const t = new ScriptedTransport(clock, () => OK);
    const sentNext: string[] = [];
    const dispatcher: OutboxDispatcher = new OutboxDispatcher({
      clock,
      transportFor: () => t,
      maxInFlight: 1,
      backoffBaseMs: 100,
      backoffMaxMs: 1_000,
      delivered: (m) => {
        sentNext.push(m.messageId);
        const n = (m.body as { n: number }).n;
        if (n < 3) dispatcher.enqueue(msg(m.orderId, m.stream, n + 1));
      },
      deadLettered: () => undefined,
    });
    dispatcher.enqueue(msg('A', 'customer', 1));
    for (let i = 0; i < 10; i++) await turn();
    expect(sentNext).toEqual(['A/customer/1', 'A/customer/2', 'A/customer/3']);
  });

  it('reports the age of the oldest message not yet settled', async () => {
    const clock = new ManualClock();
    const t = new HangingTransport();
    const r = rig(t, { clock, maxInFlight: 1 });
    expect(r.dispatcher.stats().oldestQueuedAgeMs).toBe(0);
    r.dispatcher.enqueue(msg('A', 'customer', 1));
    clock.advance(1_000);
    r.dispatcher.enqueue(msg('B', 'customer', 1));
    clock.advance(500);
    expect(r.dispatcher.stats().oldestQueuedAgeMs).toBe(1_500);
    t.settle('A/customer/1', OK);
    await turn();
    expect(r.dispatcher.stats().oldestQueuedAgeMs).toBe(500);
  });

  it('rejects limits that cannot work', () => {
    const base = {
      clock: new ManualClock(),
      transportFor: () => null,
      delivered: () => undefined,
      deadLettered: () => undefined,
    };
    expect(
      () => new OutboxDispatcher({ ...base, maxInFlight: 0, backoffBaseMs: 1, backoffMaxMs: 1 }),
    ).toThrow(RangeError);
    expect(
      () => new OutboxDispatcher({ ...base, maxInFlight: 1, backoffBaseMs: 10, backoffMaxMs: 5 }),
    ).toThrow(RangeError);
  });

  it('delivers 100,000 queued messages exactly once, in order per (orderId, stream)', async () => {
    const clock = new ManualClock();
    const transport: OutboxTransport = { send: () => Promise.resolve(OK) };
    const total = 100_000;
    let count = 0;
    const lastByKey = new Map<string, number>();
    let outOfOrder = 0;
    const seen = new Set<string>();
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const dispatcher = new OutboxDispatcher({
      clock,
      transportFor: () => transport,
      maxInFlight: 256,
      backoffBaseMs: 100,
      backoffMaxMs: 1_000,
      delivered: (m) => {
        seen.add(m.messageId);
        const key = `${m.orderId}|${m.stream}`;
        const n = (m.body as { n: number }).n;
        if ((lastByKey.get(key) ?? -1) !== n - 1) outOfOrder++;
        lastByKey.set(key, n);
        if (++count === total) done();
      },
      deadLettered: () => undefined,
    });
    // 10,000 orders × 2 streams × 5 messages, enqueued round by round as orders progress
    for (let n = 0; n < 5; n++) {
      for (let o = 0; o < 10_000; o++) {
        dispatcher.enqueue(msg(`o${o}`, 'customer', n));
        dispatcher.enqueue(msg(`o${o}`, `location:s${o % 50}`, n));
      }
    }
    expect(dispatcher.stats().queued + dispatcher.stats().inFlight).toBe(total);
    await finished;
    expect(seen.size).toBe(total);
    expect(outOfOrder).toBe(0);
    expect(dispatcher.stats()).toMatchObject({
      queued: 0,
      inFlight: 0,
      delivered: total,
      retries: 0,
      deadLettered: 0,
      oldestQueuedAgeMs: 0,
    });
  });
});
