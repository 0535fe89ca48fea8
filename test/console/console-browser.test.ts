import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../tools/build-console.ts';
import { startServer, type ServerHandle } from '../persistence/server-process.ts';

/**
 * The operators' console in a real browser: Debian's chromium driven by playwright-core (no
 * browser download), against the real server (gateway/main.ts as `npm start` runs it) serving
 * a console built into a temp dir by the same code as `npm run build`.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, 'test-output', 'console.png');

const KEYS = {
  admin: 'console-admin-key-00000000',
  web: 'console-web-key-0000000000',
  dc1: 'console-dc1-key-0000000000',
} as const;

/** 10,000 SKUs: the grid must stay virtualised at this size. */
const SKU_COUNT = 10_000;
const sku = (i: number): string => `SKU-${String(i).padStart(5, '0')}`;
const SKUS = Array.from({ length: SKU_COUNT }, (_, i) => sku(i + 1));

function request(
  base: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function ok(res: Promise<Response>): Promise<unknown> {
  const r = await res;
  const text = await r.text();
  if (r.status >= 300) throw new Error(`HTTP ${r.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.locator('#api-key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the console in chromium', () => {
  let dir = '';
  let consoleDir = '';
  let server: ServerHandle | null = null;
  let context: BrowserContext | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stockflow-console-'));
    consoleDir = join(dir, 'console');
    server = await startServer(
      {
        server: { consoleDir },
        auth: {
          apiKeys: [
            { key: KEYS.admin, name: 'ops', role: 'admin' },
            { key: KEYS.web, name: 'web-shop', role: 'storefront', channel: 'web' },
            { key: KEYS.dc1, name: 'dc1-wms', role: 'location', location: 'dc1' },
          ],
        },
        rules: {
          channels: [
            { id: 'web', priority: 1 },
            { id: 'marketplace', priority: 2 },
          ],
        },
        locations: [
          { id: 'dc1', type: 'dc', lat: 51.5, lon: -0.12 },
          { id: 'store1', type: 'store', lat: 53.8, lon: -1.55 },
        ],
        products: SKUS.map((s) => ({ sku: s })),
        persistence: { store: 'memory' },
        log: { level: 'warn' },
      },
      dir,
    );
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (server !== null) {
      server.process.kill('SIGTERM');
      await server.exited();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('says how to build it before it is built, then serves it with types and caching', async () => {
    if (server === null) throw new Error('no server');
    const missing = await fetch(`${server.base}/console/`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('npm run build');

    const files = await buildConsole(consoleDir);
    const page = await fetch(`${server.base}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    const script = files.find((f) => f.endsWith('.js'));
    expect(script).toBeDefined();
    expect(html).toContain(`/console/${script ?? ''}`);
    const js = await fetch(`${server.base}/console/${script ?? ''}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await js.arrayBuffer();
    const css = await fetch(
      `${server.base}/console/${files.find((f) => f.endsWith('.css')) ?? ''}`,
    );
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    await css.arrayBuffer();
    const unknown = await fetch(`${server.base}/console/../../package.json`);
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
  }, 60_000);

  it('signs in, follows a live value, shows an order and its history', async () => {
    if (server === null) throw new Error('no server');
    const base = server.base;
    const feed = SKUS.slice(0, 50)
      .map((s) => JSON.stringify({ sku: s, onHand: 20 }))
      .join('\n');
    await ok(
      request(
        base,
        'POST',
        '/v1/inventory/snapshots?location=dc1&asOf=1',
        KEYS.dc1,
        feed,
        'application/x-ndjson',
      ),
    );

    const started = Date.now();
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 1000 },
      colorScheme: 'light',
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));

    await page.goto(`${base}/console/`);
    await signIn(page, KEYS.admin);
    await expect.poll(() => page.locator('.who').textContent()).toContain('admin');

    // The grid: 10,000 SKUs, a few dozen rows in the page.
    const cell = page.locator('td[data-topic="availability:web:SKU-00002"]');
    await expect.poll(() => cell.textContent(), { timeout: 20_000 }).toBe('20');
    await expect.poll(() => page.locator('.count').textContent()).toContain('10,000');
    expect(await page.locator('tr[data-sku]').count()).toBeLessThan(80);

    // An adjustment over HTTP: the cell shows it within a second of the response.
    // In the page (a string: this file is compiled without the DOM's types): the time the cell
    // first shows the new value, by the same clock as Date.now() here.
    await page.evaluate(`(() => {
      window.changedAt = null;
      new MutationObserver(() => {
        const td = document.querySelector('td[data-topic="availability:web:SKU-00002"]');
        if (td?.textContent === '27' && window.changedAt === null) window.changedAt = Date.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    await ok(
      request(base, 'POST', '/v1/inventory/adjustments', KEYS.admin, [
        { adjustmentId: 'adj-1', sku: 'SKU-00002', location: 'dc1', delta: 7, asOf: 2 },
      ]),
    );
    const answeredAt = Date.now();
    await expect.poll(() => cell.textContent(), { timeout: 10_000 }).toBe('27');
    const changedAt = await page.evaluate<number | null>('window.changedAt');
    expect(changedAt).not.toBeNull();
    const lag = (changedAt ?? Infinity) - answeredAt;
    console.log(`console: cell changed ${lag} ms after the adjustment's response`);
    expect(lag).toBeLessThan(1_000);
    expect(await cell.getAttribute('class')).toContain('changed');

    // Per location for the chosen SKU.
    await page.locator('tr[data-sku="SKU-00002"] button').click();
    await expect
      .poll(() => page.locator('td[data-topic="availability:web:SKU-00002@dc1"]').textContent())
      .toBe('27');

    // Search, and scrolling to the end of 10,000 rows.
    await page.getByPlaceholder('Search SKUs').fill('SKU-0999');
    await expect.poll(() => page.locator('tr[data-sku]').count()).toBe(10);
    await page.getByPlaceholder('Search SKUs').fill('');
    await page.evaluate("document.querySelector('.grid-viewport').scrollTop = 1e9");
    await page.locator(`tr[data-sku="${sku(SKU_COUNT)}"]`).waitFor();
    expect(await page.locator('tr[data-sku]').count()).toBeLessThan(80);
    await page.evaluate("document.querySelector('.grid-viewport').scrollTop = 0");

    // An order placed over HTTP appears; clicking it shows its history.
    await ok(
      request(base, 'POST', '/v1/orders', KEYS.web, {
        orderId: 'o-console-1',
        channel: 'web',
        customer: { id: 'cust-1', name: 'Ada' },
        lines: [{ sku: 'SKU-00003', qty: 2, unitPrice: 1_000 }],
        delivery: { type: 'ship', address: { city: 'Leeds', lat: 53.8, lon: -1.5 } },
        payment: { amount: 2_000, currency: 'GBP' },
      }),
    );
    const row = page.locator('tr[data-order="o-console-1"]');
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('button').click();
    await expect
      .poll(() => page.locator('.history li').count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(await page.locator('.detail').textContent()).toContain('dc1');

    // The stats feed draws the rates; the location panel lists the feed and the fulfilment.
    await expect
      .poll(() => page.locator('polyline.ok').first().getAttribute('points'), {
        timeout: 10_000,
      })
      .toMatch(/\d/);
    await expect
      .poll(() => page.locator('section[aria-labelledby="location-title"]').textContent(), {
        timeout: 10_000,
      })
      .toContain('applied 50');
    await expect
      .poll(() => page.locator('section[aria-labelledby="location-title"]').textContent(), {
        timeout: 10_000,
      })
      .toContain('o-console-1');

    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: SCREENSHOT.replace('.png', '-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // A location key sees its location, and no grid (it may not read channels).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, KEYS.dc1);
    await expect.poll(() => page.locator('.who').textContent()).toContain('location');
    await expect
      .poll(() => page.locator('section[aria-labelledby="location-title"]').textContent())
      .toContain('applied 50');
    expect(await page.locator('.grid-viewport').count()).toBe(0);

    expect(problems).toEqual([]);
    console.log(`console: browser part took ${Date.now() - started} ms`);
  }, 180_000);
});
