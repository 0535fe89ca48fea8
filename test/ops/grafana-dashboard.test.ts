import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { waitFor, type ServerHandle } from '../persistence/server-process.ts';
import { readText } from './ops-files.ts';
import { driveLoad, refusingReceiver, startOpsServer } from './ops-server.ts';
import { startPrometheus, type PrometheusHandle } from './prometheus-process.ts';

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
}

const DASHBOARD = 'deploy/grafana/stockflow-dashboard.json';

function dashboard(): Dashboard {
  return JSON.parse(readText(DASHBOARD)) as Dashboard;
}

/** A panel's query as Prometheus takes it: Grafana's variables replaced as Grafana would. */
function resolved(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '30s')
    .replaceAll('$__interval', '5s')
    .replaceAll('$instance', '.*');
}

function queries(): { panel: string; refId: string; expr: string }[] {
  return dashboard().panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: resolved(t.expr) })),
  );
}

describe('the Grafana dashboard (deploy/grafana)', () => {
  it('has the RED, USE and Domain rows and only known variables', () => {
    const d = dashboard();
    const rows = d.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows.map((r) => r.split(':')[0])).toEqual(['RED', 'USE', 'Domain']);
    expect(d.templating.list.map((v) => v.name)).toEqual(['instance']);
    for (const q of queries()) expect(q.expr, q.panel).not.toMatch(/\$/);
  });

  describe('against a real Prometheus scraping a real server under load', () => {
    let dir = '';
    let server: ServerHandle | null = null;
    let prometheus: PrometheusHandle | null = null;
    let receiver: Awaited<ReturnType<typeof refusingReceiver>> | null = null;
    const sockets: WebSocket[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'stockflow-dashboard-'));
      receiver = await refusingReceiver();
      server = await startOpsServer(dir, receiver.url);
      prometheus = await startPrometheus(dir, `127.0.0.1:${server.port}`);
      const p = prometheus;
      await waitFor(
        async () => (await p.query('up{job="stockflow"} == 1')).length === 1,
        30_000,
        'the first scrape',
      );
      // Two rounds a few scrapes apart, so every counter moves between two samples.
      sockets.push(await driveLoad(server, 1));
      // Scrapes so far, counted by Prometheus itself.
      const scrapes = async (): Promise<number> =>
        Number((await p.query('count_over_time(up{job="stockflow"}[10m])'))[0]?.value[1] ?? 0);
      const before = await scrapes();
      await waitFor(async () => (await scrapes()) >= before + 3, 30_000, 'three more scrapes');
      sockets.push(await driveLoad(server, 2));
    }, 120_000);

    afterAll(async () => {
      for (const ws of sockets) ws.close();
      await prometheus?.stop();
      if (server !== null) {
        server.process.kill('SIGTERM');
        await server.exited();
      }
      await receiver?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers every panel query with series (a renamed metric shows up empty)', async () => {
      const p = prometheus;
      if (p === null) throw new Error('no prometheus');
      const all = queries();
      expect(all.length).toBeGreaterThan(40);
      const empty = new Set(all.map((q) => `${q.panel} [${q.refId}]: ${q.expr}`));
      // Counters that moved in the load need a second sample before rate() sees them: wait for
      // every query to answer, and name the ones that never do.
      await waitFor(
        async () => {
          for (const q of all) {
            const name = `${q.panel} [${q.refId}]: ${q.expr}`;
            if (!empty.has(name)) continue;
            if ((await p.query(q.expr)).length > 0) empty.delete(name);
          }
          return empty.size === 0;
        },
        45_000,
        'every panel query to return series',
      ).catch(() => undefined);
      expect([...empty]).toEqual([]);
    });

    it('sees the load itself: rate-limited answers, dead letters and orders placed', async () => {
      const p = prometheus;
      if (p === null) throw new Error('no prometheus');
      const value = async (expr: string): Promise<number> =>
        Number((await p.query(expr))[0]?.value[1] ?? 'NaN');
      // The second round's orders are in Prometheus after its next scrape: wait for it (the
      // panel test before this one may finish first), then the count must be exactly six.
      const placed = 'sum(stockflow_orders_placed_total{job="stockflow"})';
      await waitFor(async () => (await value(placed)) >= 6, 30_000, 'both rounds scraped').catch(
        () => undefined,
      );
      expect(await value(placed)).toBe(6);
      expect(
        await value('sum(stockflow_gateway_ops_total{job="stockflow",result="RATE_LIMITED"})'),
      ).toBeGreaterThan(0);
      await waitFor(
        async () => (await value('sum(stockflow_outbox_dead_lettered_total)')) > 0,
        30_000,
        'a dead letter to be scraped',
      );
    });
  });
});
