import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../engine/index.ts';
import { FeedLog, FEEDS_PER_LOCATION } from '../../gateway/feed-log.ts';

describe('the feed log', () => {
  it('keeps the last feeds of each location, newest first', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const log = new FeedLog(clock);
    for (let i = 0; i < FEEDS_PER_LOCATION + 5; i++) {
      log.record({
        location: 'dc1',
        asOf: i,
        format: 'csv',
        lines: i,
        result: 'ok',
        summary: null,
        error: null,
      });
      clock.advance(1_000);
    }
    log.record({
      location: 's1',
      asOf: 1,
      format: 'ndjson',
      lines: 0,
      result: 'BAD_REQUEST',
      summary: null,
      error: 'line 1',
    });
    const dc1 = log.of('dc1');
    expect(dc1).toHaveLength(FEEDS_PER_LOCATION);
    expect(dc1[0]?.asOf).toBe(FEEDS_PER_LOCATION + 4);
    expect(dc1[0]?.at).toBe('2026-01-01T00:00:24.000Z');
    expect(log.of('s1')[0]?.error).toBe('line 1');
    expect(log.of('nowhere')).toEqual([]);
  });
});
