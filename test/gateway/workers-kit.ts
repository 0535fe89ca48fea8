import { expect } from 'vitest';
import type { ServerHandle } from '../persistence/server-process.ts';
import { KEYS, LOCATIONS, RULES } from './harness.ts';

/**
 * What the tests of server.workers share: the real server's configuration (admin and web keys,
 * the harness channels and locations, the given SKUs as products, a persistence section of the
 * test's choosing) and the reads and writes they check it with, over HTTP.
 */
export function workersConfig(
  workers: number,
  skus: readonly string[],
  persistence: Record<string, unknown>,
): Record<string, unknown> {
  return {
    server: { workers, shutdownGraceMs: 5_000 },
    persistence,
    auth: {
      apiKeys: [
        { key: KEYS.admin, name: 'ops', role: 'admin' },
        { key: KEYS.web, name: 'web-shop', role: 'storefront', channel: 'web' },
      ],
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
    },
    rules: RULES,
    locations: LOCATIONS,
    products: skus.map((sku) => ({ sku })),
    log: { level: 'warn' },
  };
}

/** An admin HTTP request to the server. */
export function http(
  s: ServerHandle,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  return fetch(`${s.base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${KEYS.admin}`, ...init.headers },
  });
}

/** A location's full stock snapshot; answers its summary (asserted applied). */
export async function snapshot(
  s: ServerHandle,
  location: string,
  levels: Record<string, number>,
  asOf = Date.now(),
): Promise<Record<string, unknown>> {
  const body = Object.entries(levels)
    .map(([sku, onHand]) => JSON.stringify({ sku, onHand }))
    .join('\n');
  const res = await http(s, `/v1/inventory/snapshots?location=${location}&asOf=${asOf}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** The web channel's availability of a SKU, network-wide or at one location. */
export async function available(s: ServerHandle, sku: string, location?: string): Promise<number> {
  const at = location === undefined ? '' : `&location=${location}`;
  const res = await http(s, `/v1/availability?channel=web&sku=${sku}${at}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { available: number }).available;
}
