/**
 * Stock feeds at volume (`npm run bench:feeds`, `-- --quick` for a smoke run), issue #13: a
 * 1M-row snapshot feed over HTTP (`POST /v1/feeds`) into the real server on its default file
 * store, alone and beside a flash sale; the flash sale alone is the baseline, in the same run.
 * Then returns: receipts with disposition restock (`POST /v1/returns/:id/receipts`) per second,
 * for orders placed, shipped and returned through the API beforehand, against the flash sale's
 * granted reserves per second on the same server. Writes bench/results/feeds.json and feeds.md
 * (full runs) and prints the table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  CHANNEL,
  HOT_SKU,
  LOCATION,
  spreadSku,
  WARM_SKU,
  type LoadJob,
  type MeasureResult,
} from './durable-load.ts';
import { StockflowServer } from './durable-server.ts';
import { runChild } from './durable-suite.ts';
import { LatencyHistogram } from './gateway-wire.ts';

const KEYS = {
  admin: 'bench-feeds-admin-key-000000',
  storefront: 'bench-feeds-web-key-00000000',
};
const FULL = { rows: 1_000_000, skus: 100_000, flashMs: 5_000, returns: 5_000 };
const QUICK = { rows: 100_000, skus: 10_000, flashMs: 2_000, returns: 500 };
/**
 * Requests in flight while orders are set up and while receipts are measured. A receipt waits
 * for two group commits (the engine's adjust, then the return event), so its rate is about the
 * requests in flight over twice the commit latency: the flash sale keeps 1,024 in flight.
 */
const IN_FLIGHT = 256;
const HOT_STOCK = 100_000_000;
const MiB = 2 ** 20;

interface FlashSale {
  readonly granted: number;
  readonly perSecond: number;
  readonly p99Ms: number;
}

interface FeedRun {
  readonly rows: number;
  readonly applied: number;
  readonly unchanged: number;
  readonly rejected: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** Server RSS at its highest while the feed ran, over its RSS just before. */
  readonly peakExtraRssMiB: number;
}

interface Returns {
  /** Orders placed, shipped and returned (one unit each) before the clock starts. */
  readonly returns: number;
  readonly setupSeconds: number;
  readonly receipts: number;
  readonly seconds: number;
  readonly receiptsPerSecond: number;
  readonly p99Ms: number;
  /** Units the location's availability gained: one per receipt, restocked. */
  readonly restocked: number;
  /** The flash sale alone's granted reserves per second, the same run and server. */
  readonly reservesPerSecond: number;
}

interface Report {
  readonly at: string;
  readonly mode: 'full' | 'quick';
  readonly machine: string;
  readonly node: string;
  readonly rows: number;
  readonly positions: number;
  readonly feedAlone: FeedRun;
  readonly flashAlone: FlashSale;
  readonly flashWithFeed: FlashSale;
  readonly feedWithFlash: FeedRun;
  readonly returns: Returns;
  /** os.loadavg() (what `uptime` shows) at the start and the end: the machine is shared. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
}

/**
 * The feed's body: NDJSON rows cycling over the positions with a rising as-of and a changing
 * count, so every row is newer than the last and is applied (journaled): the worst case. Made
 * before the clock starts, in 1 MiB chunks.
 */
function feedBody(rows: number, skus: number, round: number): Uint8Array[] {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let text = '';
  for (let i = 0; i < rows; i++) {
    const asOf = round * rows + i + 1;
    text += `{"sku":"${spreadSku(i % skus)}","onHand":${(i + round) % 997},"asOf":${asOf}}\n`;
    if (text.length >= MiB) {
      chunks.push(encoder.encode(text));
      text = '';
    }
  }
  if (text.length > 0) chunks.push(encoder.encode(text));
  return chunks;
}

async function sendFeed(
  server: StockflowServer,
  feedId: string,
  body: Uint8Array[],
): Promise<FeedRun> {
  const rss0 = server.proc().rssBytes;
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, server.proc().rssBytes);
  }, 20);
  const t0 = performance.now();
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = body[next++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
  const res = await fetch(`${server.base}/v1/feeds?feedId=${feedId}&kind=snapshot&location=dc-0`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/x-ndjson' },
    body: stream,
    duplex: 'half',
  });
  const result = (await res.json()) as {
    rows: number;
    applied: number;
    unchanged: number;
    rejected: number;
  };
  const seconds = (performance.now() - t0) / 1_000;
  clearInterval(sampler);
  if (res.status !== 200)
    throw new Error(`feed refused (${res.status}): ${JSON.stringify(result)}`);
  return {
    rows: result.rows,
    applied: result.applied,
    unchanged: result.unchanged,
    rejected: result.rejected,
    seconds: Math.round(seconds * 100) / 100,
    rowsPerSecond: Math.round(result.rows / seconds),
    peakExtraRssMiB: Math.round((peak - rss0) / MiB),
  };
}

async function flashSale(
  server: StockflowServer,
  durationMs: number,
  tag: string,
  atGo: () => Promise<void> | void,
): Promise<FlashSale> {
  const job: LoadJob = {
    mode: 'measure',
    port: server.port,
    key: KEYS.storefront,
    connections: 8,
    window: 128,
    durationMs,
    target: { kind: 'one', sku: HOT_SKU },
    warmupMs: 1_000,
    tag,
    seed: 1,
  };
  const r = await runChild<MeasureResult>('load', job, atGo);
  const granted = r.outcomes.granted ?? 0;
  const latency = new LatencyHistogram();
  latency.addPairs(r.latency);
  return {
    granted,
    perSecond: Math.round(granted / ((r.endMs - r.startMs) / 1_000)),
    p99Ms: latency.quantileMs(0.99),
  };
}

/** Runs `count` tasks, `inFlight` at a time; each task's latency goes into `latency`. */
async function pool(
  count: number,
  inFlight: number,
  task: (i: number) => Promise<void>,
  latency: LatencyHistogram | null = null,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await task(i);
      latency?.recordMs(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

async function post(
  server: StockflowServer,
  key: string,
  path: string,
  body: unknown,
  expected: readonly number[],
): Promise<unknown> {
  const res = await fetch(`${server.base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer: unknown = await res.json();
  if (!expected.includes(res.status)) {
    throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(answer).slice(0, 400)}`);
  }
  return answer;
}

/**
 * Returns: `count` one-unit orders of WARM_SKU placed by the storefront, shipped by the location
 * and returned by the storefront (all through the API, before the clock), then one receipt each
 * with disposition restock at LOCATION, `IN_FLIGHT` at a time, measured.
 */
async function returnsCase(
  server: StockflowServer,
  count: number,
  reservesPerSecond: number,
): Promise<Returns> {
  const t0 = performance.now();
  await pool(count, IN_FLIGHT, async (i) => {
    const orderId = `bench-ret-${i}`;
    const placed = (await post(
      server,
      KEYS.storefront,
      '/v1/orders',
      {
        orderId,
        channel: CHANNEL,
        customer: { id: `c-${i}`, name: 'Bench' },
        lines: [{ sku: WARM_SKU, qty: 1, unitPrice: 1_000 }],
        delivery: { type: 'ship', address: { city: 'Paris', lat: 48.86, lon: 2.35 } },
        payment: { amount: 1_000, currency: 'EUR' },
      },
      [201],
    )) as { fulfilments: { fulfilmentId: string }[] };
    const fulfilment = placed.fulfilments[0]?.fulfilmentId ?? '';
    await post(
      server,
      KEYS.admin,
      `/v1/fulfilments/${encodeURIComponent(fulfilment)}/answers`,
      { type: 'shipped', carrier: 'UPS', tracking: `1Z${i}` },
      [200],
    );
    await post(
      server,
      KEYS.storefront,
      `/v1/orders/${orderId}/returns`,
      { returnId: `rma-${i}`, lines: [{ lineId: '1', qty: 1, reason: 'size' }] },
      [201],
    );
  });
  const setupSeconds = (performance.now() - t0) / 1_000;
  const before = await server.available(WARM_SKU);
  const latency = new LatencyHistogram();
  const t1 = performance.now();
  await pool(
    count,
    IN_FLIGHT,
    async (i) => {
      await post(
        server,
        KEYS.admin,
        `/v1/returns/rma-${i}/receipts`,
        {
          receiptId: `parcel-${i}`,
          location: LOCATION,
          lines: [{ lineId: '1', disposition: 'restock', qty: 1 }],
        },
        [200],
      );
    },
    latency,
  );
  const seconds = (performance.now() - t1) / 1_000;
  const restocked = (await server.available(WARM_SKU)) - before;
  return {
    returns: count,
    setupSeconds: Math.round(setupSeconds * 10) / 10,
    receipts: count,
    seconds: Math.round(seconds * 100) / 100,
    receiptsPerSecond: Math.round(count / seconds),
    p99Ms: latency.quantileMs(0.99),
    restocked,
    reservesPerSecond,
  };
}

function render(r: Report): string {
  const ratio = r.flashWithFeed.perSecond / r.flashAlone.perSecond;
  const met = (ok: boolean): string => (ok ? 'yes' : '**no**');
  return [
    '# Stock feeds benchmark',
    '',
    `${r.at} (${r.mode} run), ${r.machine}, Node ${r.node}. The real server (\`node dist/gateway/main.js\`, file store, fsync always) with ${r.positions.toLocaleString('en')} positions; a ${r.rows.toLocaleString('en')}-row NDJSON snapshot feed over HTTP (\`POST /v1/feeds\`), every row newer than the last and changing the count (all journaled: the worst case). Flash sale: 8 WebSocket connections × 128 in flight, qty-1 reserves on one SKU, granted counted (\`npm run bench:feeds\`).`,
    '',
    '| measure | target | measured | met |',
    '| --- | --- | --- | --- |',
    `| 1M-row feed, alone | < 5 s | ${r.feedAlone.seconds} s (${r.feedAlone.rowsPerSecond.toLocaleString('en')} rows/s) | ${met(r.feedAlone.seconds < 5 || r.rows < 1_000_000)} |`,
    `| extra server RSS while it runs | < 300 MiB | ${r.feedAlone.peakExtraRssMiB} MiB alone, ${r.feedWithFlash.peakExtraRssMiB} MiB beside the flash sale | ${met(Math.max(r.feedAlone.peakExtraRssMiB, r.feedWithFlash.peakExtraRssMiB) < 300)} |`,
    `| flash sale beside the feed, against alone | >= 0.70 | ${ratio.toFixed(2)} (${r.flashWithFeed.perSecond.toLocaleString('en')}/s against ${r.flashAlone.perSecond.toLocaleString('en')}/s) | ${met(ratio >= 0.7)} |`,
    '',
    '| run | rows/s | seconds | applied | unchanged | rejected | peak extra RSS MiB | flash sale granted/s | flash p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| flash sale alone |  |  |  |  |  |  | ${r.flashAlone.perSecond} | ${r.flashAlone.p99Ms} |`,
    `| feed alone | ${r.feedAlone.rowsPerSecond} | ${r.feedAlone.seconds} | ${r.feedAlone.applied} | ${r.feedAlone.unchanged} | ${r.feedAlone.rejected} | ${r.feedAlone.peakExtraRssMiB} |  |  |`,
    `| feed beside the flash sale | ${r.feedWithFlash.rowsPerSecond} | ${r.feedWithFlash.seconds} | ${r.feedWithFlash.applied} | ${r.feedWithFlash.unchanged} | ${r.feedWithFlash.rejected} | ${r.feedWithFlash.peakExtraRssMiB} | ${r.flashWithFeed.perSecond} | ${r.flashWithFeed.p99Ms} |`,
    '',
    "The flash sale beside the feed is measured over the feed's first seconds (the flash window starts with the feed). Server, load generator and the bench process (which streams the feed) share the machine's 2 cores.",
    '',
    '## Returns',
    '',
    `${r.returns.returns.toLocaleString('en')} one-unit orders placed, shipped and returned through the API beforehand (${r.returns.setupSeconds} s), then one receipt each with disposition \`restock\` at ${LOCATION} (\`POST /v1/returns/:id/receipts\`, JSON over HTTP, ${IN_FLIGHT} in flight from the bench process), on the same server as the flash sale above. A receipt is an order step in the order's mailbox that waits for two group commits in turn (the engine's \`adjust\`, then the return event), where a reserve is one engine command and one commit; the flash sale keeps 1,024 in flight.`,
    '',
    '| measure | per second | p99 ms | checked |',
    '| --- | ---: | ---: | --- |',
    `| receipts with restock | ${r.returns.receiptsPerSecond.toLocaleString('en')} | ${r.returns.p99Ms} | availability +${r.returns.restocked.toLocaleString('en')} for ${r.returns.receipts.toLocaleString('en')} receipts |`,
    `| granted durable reserves (flash sale alone, same run) | ${r.returns.reservesPerSecond.toLocaleString('en')} | ${r.flashAlone.p99Ms} | |`,
    '',
    `Load average (\`uptime\`) at the start: ${r.loadAverage.start.map((x) => x.toFixed(2)).join(', ')}; at the end: ${r.loadAverage.end.map((x) => x.toFixed(2)).join(', ')} (the machine is shared).`,
    '',
  ].join('\n');
}

async function main(args: readonly string[]): Promise<void> {
  const quick = args.includes('--quick');
  const loadAtStart = os.loadavg();
  const plan = quick ? QUICK : FULL;
  const products = [
    HOT_SKU,
    WARM_SKU,
    ...Array.from({ length: plan.skus }, (_, i) => spreadSku(i)),
  ];
  console.log(`feeds: ${plan.rows} rows over ${plan.skus} positions (${quick ? 'quick' : 'full'})`);
  const server = await StockflowServer.start('file', KEYS, products);
  try {
    await server.loadStock(
      new Map([
        [HOT_SKU, HOT_STOCK],
        [WARM_SKU, HOT_STOCK],
      ]),
      0,
    );
    const first = feedBody(plan.rows, plan.skus, 0);
    // A warm-up feed (JIT, the positions' first values), then the measured ones.
    await sendFeed(server, 'warm', first);
    const alone = feedBody(plan.rows, plan.skus, 1);
    const feedAlone = await sendFeed(server, 'alone', alone);
    console.log(
      `  feed alone: ${feedAlone.rowsPerSecond} rows/s, ${feedAlone.seconds} s, +${feedAlone.peakExtraRssMiB} MiB`,
    );
    const flashAlone = await flashSale(server, plan.flashMs, 'fa', () => undefined);
    console.log(`  flash sale alone: ${flashAlone.perSecond}/s, p99 ${flashAlone.p99Ms} ms`);
    const beside = feedBody(plan.rows, plan.skus, 2);
    let feeding: Promise<FeedRun> | null = null;
    const flashWithFeed = await flashSale(
      server,
      Math.min(plan.flashMs, feedAlone.seconds * 1_000),
      'fb',
      () => {
        feeding = sendFeed(server, 'beside', beside);
      },
    );
    const feedWithFlash = await (feeding as unknown as Promise<FeedRun>);
    console.log(
      `  beside: flash ${flashWithFeed.perSecond}/s, feed ${feedWithFlash.rowsPerSecond} rows/s`,
    );
    const returns = await returnsCase(server, plan.returns, flashAlone.perSecond);
    console.log(
      `  returns: ${returns.receiptsPerSecond} receipts/s (p99 ${returns.p99Ms} ms), reserves ${returns.reservesPerSecond}/s`,
    );
    const report: Report = {
      at: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`,
      node: process.version,
      rows: plan.rows,
      positions: plan.skus,
      feedAlone,
      flashAlone,
      flashWithFeed,
      feedWithFlash,
      returns,
      loadAverage: { start: loadAtStart, end: os.loadavg() },
    };
    const md = render(report);
    console.log(md);
    if (!quick) {
      const dir = fileURLToPath(new URL('./results/', import.meta.url));
      await mkdir(dir, { recursive: true });
      await writeFile(`${dir}feeds.json`, `${JSON.stringify(report, null, 2)}\n`);
      await writeFile(`${dir}feeds.md`, md);
    }
  } catch (error) {
    console.error(server.describe());
    throw error;
  } finally {
    await server.stop();
  }
}

await main(process.argv.slice(2));
