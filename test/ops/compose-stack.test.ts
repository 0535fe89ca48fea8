import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { startRedis, type RedisHandle } from '../persistence/redis-server.ts';
import { freePort, waitFor } from '../persistence/server-process.ts';
import { run, type Child } from './child.ts';
import { readText, readYaml, ROOT } from './ops-files.ts';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const COMPOSE = 'deploy/docker-compose.yml';
const DEPLOY = join(ROOT, 'deploy');

function compose(): Compose {
  return readYaml(COMPOSE) as Compose;
}

function service(name: string): Service {
  const s = compose().services[name];
  if (s === undefined) throw new Error(`no service ${name} in ${COMPOSE}`);
  return s;
}

/** A volume entry `source:target[:mode]`: a bind mount when the source is a path. */
function mounts(s: Service): { source: string; target: string; bind: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = ''] = v.split(':');
    const bind = source.startsWith('.') || source.startsWith('/');
    return { source: bind ? resolve(DEPLOY, source) : source, target, bind };
  });
}

describe('the compose stack (deploy/docker-compose.yml)', () => {
  it('has Stockflow, Redis, Prometheus and Grafana, each image pinned to a version', () => {
    const c = compose();
    expect(Object.keys(c.services).sort()).toEqual(['grafana', 'prometheus', 'redis', 'stockflow']);
    for (const [name, s] of Object.entries(c.services)) {
      if (s.build !== undefined) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('mounts only files and directories that exist, and declares every named volume', () => {
    const c = compose();
    for (const [name, s] of Object.entries(c.services)) {
      for (const m of mounts(s)) {
        if (m.bind) expect(existsSync(m.source), `${name}: ${m.source}`).toBe(true);
        else
          expect(Object.keys(c.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
      }
    }
    const build = service('stockflow').build;
    expect(build).toBeDefined();
    const context = resolve(DEPLOY, build?.context ?? '');
    expect(statSync(join(context, build?.dockerfile ?? '')).isFile()).toBe(true);
  });

  it('wires Prometheus to the rules and to Stockflow’s metrics port, as job stockflow', () => {
    const p = mounts(service('prometheus'));
    const config = p.find((m) => m.target === '/etc/prometheus/prometheus.yml');
    const rules = p.find((m) => m.target === '/etc/prometheus/rules.yml');
    expect(config?.source).toBe(join(DEPLOY, 'prometheus', 'prometheus.yml'));
    expect(rules?.source).toBe(join(DEPLOY, 'prometheus', 'rules.yml'));
    const prom = readYaml('deploy/prometheus/prometheus.yml') as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    // Relative rule files are read next to the config file: both sit in /etc/prometheus.
    expect(prom.rule_files).toEqual(['rules.yml']);
    const job = prom.scrape_configs.find((j) => j.job_name === 'stockflow');
    const metricsPort = service('stockflow').environment?.STOCKFLOW_SERVER__METRICS_PORT;
    expect(job?.static_configs[0]?.targets).toEqual([`stockflow:${metricsPort ?? ''}`]);
  });

  it('provisions Grafana with the data source the dashboard names and the dashboard itself', () => {
    const g = mounts(service('grafana'));
    const provisioning = g.find((m) => m.target === '/etc/grafana/provisioning');
    expect(provisioning?.source).toBe(join(DEPLOY, 'grafana', 'provisioning'));
    const ds = readYaml('deploy/grafana/provisioning/datasources/prometheus.yml') as {
      datasources: { uid: string; type: string; url: string }[];
    };
    const providers = readYaml('deploy/grafana/provisioning/dashboards/stockflow.yml') as {
      providers: { options: { path: string } }[];
    };
    expect(ds.datasources[0]?.url).toBe('http://prometheus:9090');
    const dashboard = JSON.parse(readText('deploy/grafana/stockflow-dashboard.json')) as {
      panels: { datasource?: { uid: string } }[];
    };
    const uids = new Set(dashboard.panels.flatMap((p) => (p.datasource ? [p.datasource.uid] : [])));
    expect([...uids]).toEqual([ds.datasources[0]?.uid]);
    const dashboardMount = g.find((m) => m.source.endsWith('stockflow-dashboard.json'));
    expect(dirname(dashboardMount?.target ?? '')).toBe(providers.providers[0]?.options.path);
  });

  it('gives Stockflow settings its configuration accepts: the Redis store, strict', () => {
    const env = service('stockflow').environment ?? {};
    const config = loadConfig({ env });
    expect(config.persistence.store).toBe('redis');
    expect(config.persistence.redis.url).toBe('redis://redis:6379');
    expect(config.persistence.redis.strict).toBe(true);
    expect(config.server.metricsPort).toBe(9464);
  });

  describe('its Redis and Stockflow settings, run for real', () => {
    let redis: RedisHandle | null = null;
    let server: Child | null = null;
    const dir = mkdtempSync(join(tmpdir(), 'stockflow-compose-'));

    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('start: strict Stockflow accepts the compose Redis (AOF always, noeviction) and serves metrics', async () => {
      const [binary, ...args] = service('redis').command ?? [];
      expect(binary).toBe('redis-server');
      // Start from settings strict mode refuses, so only the compose's own arguments can pass it.
      redis = await startRedis({
        appendonly: 'no',
        appendfsync: 'everysec',
        args: [...args],
      });
      const [port, metricsPort] = [await freePort(), await freePort()];
      const env: Record<string, string> = {
        ...service('stockflow').environment,
        PATH: process.env.PATH ?? '',
        STOCKFLOW_PERSISTENCE__REDIS__URL: redis.url,
        STOCKFLOW_PERSISTENCE__DIR: join(dir, 'data'),
        STOCKFLOW_SERVER__HOST: '127.0.0.1',
        STOCKFLOW_SERVER__PORT: String(port),
        STOCKFLOW_SERVER__METRICS_PORT: String(metricsPort),
        STOCKFLOW_SERVER__METRICS_HOST: '127.0.0.1',
      };
      server = run(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], { cwd: ROOT, env });
      const s = server;
      await waitFor(
        async () => {
          if (s.process.exitCode !== null) throw new Error(`server exited:\n${s.output()}`);
          try {
            return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
          } catch {
            return false;
          }
        },
        30_000,
        'the server on the compose settings',
      );
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain('stockflow_journal_available 1');
      const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as {
        detail: { store: string };
      };
      expect(ready.detail.store).toBe('redis');
    });
  });
});
