import { describe, expect, it } from 'vitest';
import type { AvailabilityValue } from '../../client/index.ts';
import { TopicFeed } from '../../client/topic-feed.ts';

const TOPIC = 'availability:web:SKU-1';

function listener(): { seen: AvailabilityValue[]; deliver(v: AvailabilityValue): void } {
  const seen: AvailabilityValue[] = [];
  return {
    seen,
    deliver(v) {
      seen.push(v);
    },
  };
}

function fresh(): { feed: TopicFeed; seen: AvailabilityValue[] } {
  const feed = new TopicFeed(TOPIC);
  const l = listener();
  feed.attach(l);
  return { feed, seen: l.seen };
}

const shown = (seen: AvailabilityValue[]) => seen.map((v) => [v.available, v.seq, v.resynced]);

describe('a topic feed (seq handling)', () => {
  it('shows the snapshot, then each next delta', () => {
    const { feed, seen } = fresh();
    expect(feed.snapshot(10, 4)).toBe('ok');
    expect(feed.delta(9, 5)).toBe('ok');
    expect(feed.delta(7, 6)).toBe('ok');
    expect(shown(seen)).toEqual([
      [10, 4, false],
      [9, 5, false],
      [7, 6, false],
    ]);
  });

  it('drops deltas at or below the snapshot seq, also when they overtake the reply', () => {
    const { feed, seen } = fresh();
    // deltas published while the subscribe was answered arrive before its reply
    feed.delta(11, 3);
    feed.delta(10, 4);
    feed.delta(9, 5);
    feed.snapshot(10, 4);
    feed.delta(9, 5); // a repeat of what the buffer already gave
    feed.delta(12, 4);
    expect(shown(seen)).toEqual([
      [10, 4, false],
      [9, 5, false],
    ]);
  });

  it('on a gap shows nothing until a fresh snapshot, then marks it resynced', () => {
    const { feed, seen } = fresh();
    feed.snapshot(10, 1);
    expect(feed.delta(8, 3)).toBe('resync');
    expect(feed.pending).toBe(true);
    expect(feed.delta(7, 4)).toBe('ok'); // waits for the snapshot
    expect(feed.snapshot(7, 4)).toBe('ok');
    feed.delta(6, 5);
    expect(shown(seen)).toEqual([
      [10, 1, false],
      [7, 4, true],
      [6, 5, false],
    ]);
  });

  it('asks again when the deltas buffered behind a snapshot have a gap', () => {
    const { feed, seen } = fresh();
    feed.delta(5, 9);
    expect(feed.snapshot(6, 7)).toBe('resync');
    expect(shown(seen)).toEqual([[6, 7, false]]);
    expect(feed.pending).toBe(true);
  });

  it('takes a resync snapshot whatever its seq (a restarted server counts from the start)', () => {
    const { feed, seen } = fresh();
    feed.snapshot(10, 40);
    feed.delta(9, 41);
    feed.expectSnapshot(); // reconnected
    feed.delta(100, 42); // not shown: deltas wait for the snapshot
    feed.expectSnapshot(); // and a second drop forgets them
    expect(feed.snapshot(3, 0)).toBe('ok');
    feed.delta(2, 1);
    expect(shown(seen)).toEqual([
      [10, 40, false],
      [9, 41, false],
      [3, 0, true],
      [2, 1, false],
    ]);
  });

  it('a second subscription to a held topic takes only a newer snapshot', () => {
    const { feed, seen } = fresh();
    feed.snapshot(10, 5);
    feed.snapshot(11, 5);
    feed.snapshot(12, 4);
    feed.snapshot(8, 6);
    expect(shown(seen)).toEqual([
      [10, 5, false],
      [8, 6, false],
    ]);
  });

  it('hands a new listener the current value when primed, and detaches cleanly', () => {
    const { feed, seen } = fresh();
    feed.snapshot(10, 5);
    const late = listener();
    feed.prime(late);
    feed.prime(late);
    feed.delta(9, 6);
    feed.detach(late);
    feed.delta(8, 7);
    expect(shown(late.seen)).toEqual([
      [10, 5, false],
      [9, 6, false],
    ]);
    expect(seen).toHaveLength(3);
    expect(feed.listenerCount).toBe(1);
  });
});
