import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Running } from './harness.ts';

const SKUS = 10_000;
const ROWS = 1_000_000;
/** The budget for a 1M-row feed: extra resident memory while it is applied. */
const EXTRA_RSS_BUDGET = 300 * 1024 * 1024;

let r: Running;
beforeAll(async () => {
  r = await start({ skus: SKUS });
});
afterAll(async () => {
  await r.stop();
});

/** A 1M-row NDJSON snapshot feed made on the fly, 64 KiB at a time, never held whole. */
function generated(): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const locations = ['dc1', 'store1', 'store2'];
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= ROWS) {
        controller.close();
        return;
      }
      let chunk = '';
      while (i < ROWS && chunk.length < 65_536) {
        const sku = `sku-${(i % SKUS) + 1}`;
        const location = locations[Math.floor(i / SKUS) % 3] as string;
        chunk += `{"sku":"${sku}","location":"${location}","onHand":${i % 1_000},"asOf":${i}}\n`;
        i++;
      }
      controller.enqueue(encoder.encode(chunk));
    },
  });
}

describe('a stock feed at volume', () => {
  it('applies 1,000,000 streamed rows within its memory budget', { timeout: 120_000 }, async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const res = await r.http('/v1/feeds?feedId=million&kind=snapshot', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: generated(),
      duplex: 'half',
    });
    clearInterval(sampler);
    expect(res.status).toBe(200);
    const result = (await res.json()) as {
      rows: number;
      applied: number;
      unchanged: number;
      durationMs: number;
    };
    // Rows cycle over the 30,000 positions with a rising as-of: each is newer than the last.
    expect(result).toMatchObject({ rows: ROWS, rejected: 0, stale: 0 });
    expect(result.applied + result.unchanged).toBe(ROWS);
    // The last row for sku-7 at store1 wins: i = 6 (mod SKUS) with floor(i / SKUS) = 1 (mod 3).
    let last = -1;
    for (let i = 6; i < ROWS; i += SKUS) if (Math.floor(i / SKUS) % 3 === 1) last = i;
    expect(r.engine.position('sku-7', 'store1')?.onHand).toBe(last % 1_000);
    expect(peak - before).toBeLessThan(EXTRA_RSS_BUDGET);
    console.log(
      `1M-row feed: ${result.durationMs} ms, peak extra RSS ${Math.round((peak - before) / 1048576)} MiB`,
    );
  });
});
