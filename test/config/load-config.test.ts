import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigIssue } from '../../config/index.ts';
import { configSchema } from '../../config/schema.ts';
import { envVariable, settingPaths } from '../../config/schema-paths.ts';
import { StockEngine } from '../../engine/index.ts';

const EXAMPLE = fileURLToPath(new URL('../../config/stockflow.example.json', import.meta.url));
const DOCS = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'stockflow-config-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
/** Writes a config file; objects as JSON, strings as they are (for broken JSON). */
function configFile(content: unknown): string {
  const file = join(dir, `config-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The ConfigError that loading throws; fails the test when loading succeeds. */
function failure(options: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

function issueAt(error: ConfigError, path: string): ConfigIssue {
  const issue = error.issues.find((i) => i.path === path);
  if (issue === undefined) {
    throw new Error(`no issue at ${path}; issues: ${JSON.stringify(error.issues, null, 2)}`);
  }
  return issue;
}

const key = (n: number): string => `test-key-${String(n).padStart(8, '0')}`;

describe('loadConfig', () => {
  it('accepts the defaults alone', () => {
    const config = loadConfig({ env: {} });
    expect(config.server).toEqual({
      host: '0.0.0.0',
      port: 8080,
      metricsPort: null,
      metricsHost: '127.0.0.1',
      maxPayloadBytes: 65_536,
      maxBackpressureBytes: 1_048_576,
      idleTimeoutSec: 120,
      maxSubscriptionsPerConnection: 1_000,
      httpBodyLimitBytes: 67_108_864,
      feedBodyLimitBytes: 4_294_967_296,
      allowedOrigins: [],
      shutdownGraceMs: 10_000,
      consoleDir: 'dist/console',
      workers: 'auto',
    });
    expect(config.auth).toEqual({ apiKeys: [], rateLimit: { perSecond: 20_000, burst: 40_000 } });
    expect(config.engine).toEqual({
      partitions: 64,
      maxQueuedPerSku: 10_000,
      conflationMs: 50,
      maxReservationTtlMs: 86_400_000,
      tombstoneTtlMs: 3_600_000,
      idempotencyWindow: 4_096,
    });
    expect(config.rules).toEqual({
      channels: [{ id: 'web', priority: 1 }],
      buffers: [],
      exclusions: [],
      caps: [],
      pickupBuffers: [],
    });
    expect(config.locations).toEqual([]);
    expect(config.products).toEqual([]);
    expect(config.log).toEqual({ level: 'info' });
  });

  it('lets a file override the defaults, key by key', () => {
    const file = configFile({ server: { port: 9000 }, engine: { partitions: 8 } });
    const config = loadConfig({ env: {}, file });
    expect(config.server.port).toBe(9000);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.engine.partitions).toBe(8);
    expect(config.engine.conflationMs).toBe(50);
  });

  it('reads the file named by STOCKFLOW_CONFIG', () => {
    const file = configFile({ log: { level: 'warn' } });
    expect(loadConfig({ env: { STOCKFLOW_CONFIG: file } }).log.level).toBe('warn');
  });

  it('lets the environment override the file', () => {
    const file = configFile({ server: { port: 9000, host: '10.0.0.1' }, log: { level: 'warn' } });
    const config = loadConfig({
      file,
      env: {
        STOCKFLOW_SERVER__PORT: '9100',
        STOCKFLOW_LOG__LEVEL: 'debug',
        STOCKFLOW_ENGINE__MAX_QUEUED_PER_SKU: '5000',
        // Keys are matched without regard to case or underscores.
        STOCKFLOW_Engine__conflationMs: '20',
        STOCKFLOW_AUTH__RATE_LIMIT__PER_SECOND: '100',
        OTHER_VARIABLE: 'ignored',
      },
    });
    expect(config.server.port).toBe(9100);
    expect(config.server.host).toBe('10.0.0.1');
    expect(config.log.level).toBe('debug');
    expect(config.engine.maxQueuedPerSku).toBe(5000);
    expect(config.engine.conflationMs).toBe(20);
    expect(config.auth.rateLimit).toEqual({ perSecond: 100, burst: 40_000 });
  });

  it('reads environment values as JSON, except for text settings', () => {
    const config = loadConfig({
      env: {
        STOCKFLOW_SERVER__METRICS_PORT: '9464',
        STOCKFLOW_SERVER__ALLOWED_ORIGINS: '["https://a.example","https://b.example"]',
        // Text settings keep what is written, even when it would parse as JSON.
        STOCKFLOW_SERVER__HOST: '1e3',
        STOCKFLOW_RULES__CHANNELS: '[{"id":"web","priority":1},{"id":"app","priority":2}]',
        STOCKFLOW_AUTH__API_KEYS: JSON.stringify([
          { key: '1234567890123456', name: 'digits', role: 'admin' },
        ]),
      },
    });
    expect(config.server.metricsPort).toBe(9464);
    expect(config.server.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.server.host).toBe('1e3');
    expect(config.rules.channels.map((c) => c.id)).toEqual(['web', 'app']);
    expect(config.auth.apiKeys[0]?.key).toBe('1234567890123456');
    expect(loadConfig({ env: { STOCKFLOW_SERVER__METRICS_PORT: 'null' } }).server.metricsPort).toBe(
      null,
    );
  });

  it('lets a key-level variable win over a whole-section one', () => {
    const config = loadConfig({
      env: { STOCKFLOW_SERVER: '{"port":1000,"host":"h"}', STOCKFLOW_SERVER__PORT: '2000' },
    });
    expect(config.server.port).toBe(2000);
    expect(config.server.host).toBe('h');
  });

  it('names every bad key in one error, with what was given and where it came from', () => {
    const file = configFile({
      server: { port: 70_000 },
      engine: { partitions: 0 },
      rules: { channels: [{ id: 'web', priority: 0 }] },
    });
    const error = failure({
      file,
      env: {
        STOCKFLOW_LOG__LEVEL: 'loud',
        STOCKFLOW_SERVER__IDLE_TIMEOUT_SEC: '10',
        STOCKFLOW_ENGINE__CONFLATION_MS: 'fast',
      },
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.code).toBe('BAD_CONFIG');
    const expected: [string, string, string][] = [
      ['server.port', `file ${file}`, '70000'],
      ['engine.partitions', `file ${file}`, '0'],
      ['rules.channels.0.priority', `file ${file}`, '0'],
      ['log.level', 'env STOCKFLOW_LOG__LEVEL', '"loud"'],
      ['server.idleTimeoutSec', 'env STOCKFLOW_SERVER__IDLE_TIMEOUT_SEC', '10'],
      ['engine.conflationMs', 'env STOCKFLOW_ENGINE__CONFLATION_MS', '"fast"'],
    ];
    expect(error.issues).toHaveLength(expected.length);
    for (const [path, source, given] of expected) {
      const issue = issueAt(error, path);
      expect(issue.source).toBe(source);
      expect(issue.message).toContain('expected');
      expect(issue.message).toContain(`given ${given}`);
      expect(error.message).toContain(`${path}: ${issue.message} [${source}]`);
    }
  });

  it('reports checks across fields beside unrelated errors', () => {
    const error = failure({
      env: {
        STOCKFLOW_LOG__LEVEL: 'loud',
        STOCKFLOW_RULES__CHANNELS: '[{"id":"web","priority":1,"reservationTtlMs":90000000}]',
        STOCKFLOW_AUTH__API_KEYS: JSON.stringify([
          { key: key(1), name: 'app', role: 'storefront', channel: 'app' },
        ]),
      },
    });
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'auth.apiKeys.0.channel',
      'log.level',
      'rules.channels.0.reservationTtlMs',
    ]);
  });

  it('refuses an unknown environment variable under STOCKFLOW_', () => {
    const error = failure({
      env: {
        STOCKFLOW_SERVER__PORTT: '1',
        STOCKFLOW_SERVER_PORT: '1',
        STOCKFLOW_SERVER__PORT__X: '1',
      },
    });
    expect(issueAt(error, 'server.portt').source).toBe('env STOCKFLOW_SERVER__PORTT');
    expect(issueAt(error, 'server.portt').message).toContain('maxPayloadBytes');
    expect(issueAt(error, 'server_port').source).toBe('env STOCKFLOW_SERVER_PORT');
    expect(issueAt(error, 'server.port.x').source).toBe('env STOCKFLOW_SERVER__PORT__X');
    expect(error.issues).toHaveLength(3);
  });

  it('refuses unknown keys in the file, one issue per key', () => {
    const file = configFile({ server: { prot: 1, hots: 'x' }, extra: {} });
    const error = failure({ env: {}, file });
    expect(error.issues.map((i) => [i.path, i.source])).toEqual([
      ['server.prot', `file ${file}`],
      ['server.hots', `file ${file}`],
      ['extra', `file ${file}`],
    ]);
    expect(issueAt(error, 'extra').message).toContain('expected one of: server, auth, engine');
  });

  it('keeps a "__proto__" key a key, refused as unknown', () => {
    const file = configFile('{"server":{"__proto__":{"polluted":true}}}');
    const error = failure({ env: {}, file });
    expect(issueAt(error, 'server.__proto__').source).toBe(`file ${file}`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports a file it cannot read or parse', () => {
    const missing = join(dir, 'missing.json');
    expect(issueAt(failure({ env: {}, file: missing }), '').source).toBe(`file ${missing}`);
    const broken = configFile('{"server": ');
    expect(issueAt(failure({ env: {}, file: broken }), '').message).toContain('not valid JSON');
    const list = configFile([]);
    expect(issueAt(failure({ env: {}, file: list }), '').message).toContain('JSON object');
  });

  it('checks API keys: scope per role, length, uniqueness, and never echoes a key', () => {
    const apiKeys = [
      { key: 'short', name: 'a', role: 'admin' },
      { key: key(2), name: 'b', role: 'storefront' },
      { key: key(3), name: 'c', role: 'location' },
      { key: key(4), name: 'd', role: 'admin', channel: 'web', location: 'S1' },
      { key: key(2), name: 'e', role: 'storefront', channel: 'web' },
    ];
    const error = failure({ env: {}, file: configFile({ auth: { apiKeys } }) });
    expect(error.issues.map((i) => i.path)).toEqual([
      'auth.apiKeys.0.key',
      'auth.apiKeys.1.channel',
      'auth.apiKeys.2.location',
      'auth.apiKeys.3.channel',
      'auth.apiKeys.3.location',
      'auth.apiKeys.4.key',
    ]);
    expect(error.message).not.toContain('short');
    expect(error.message).not.toContain(key(2));
  });

  it('checks rules against the channels and each other, list by list', () => {
    const rules = {
      channels: [
        { id: 'web', priority: 1 },
        { id: 'web', priority: 2 },
      ],
      buffers: [{ channel: 'nope', units: 1 }, { sku: 'A' }],
      // The missing channel leaves this list's own cross checks for the next start...
      exclusions: [{ channel: 'web', sku: 'A' }, { channel: 'web', sku: 'A' }, { sku: 'B' }],
      // ...but not those of the other lists.
      caps: [
        { channel: 'web', percent: 101 },
        { channel: 'web', units: 1 },
      ],
      pickupBuffers: [
        { locationType: 'store', units: 1 },
        { locationType: 'store', percent: 5 },
      ],
    };
    const error = failure({ env: {}, file: configFile({ rules }) });
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'rules.buffers.0.channel',
      'rules.buffers.1',
      'rules.caps.0.percent',
      'rules.caps.1',
      'rules.channels.1.id',
      'rules.exclusions.2.channel',
      'rules.pickupBuffers.1',
    ]);
  });

  it('checks ids, coordinates and duplicates in master data', () => {
    const error = failure({
      env: {},
      file: configFile({
        locations: [
          { id: 'S1', type: 'store', lat: 91, lon: 0 },
          { id: 'S1', type: 'store' },
          { id: 'a:b', type: 'dc' },
          { id: 'S2', type: 'store', lat: 50 },
        ],
        products: [{ sku: 'A' }, { sku: 'A', group: 'g' }, { sku: '' }],
      }),
    });
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'locations.0.lat',
      'locations.1.id',
      'locations.2.id',
      'locations.3',
      'products.1.sku',
      'products.2.sku',
    ]);
  });

  it('takes only idle timeouts uWS accepts', () => {
    const idle = (value: number): number =>
      loadConfig({ env: { STOCKFLOW_SERVER__IDLE_TIMEOUT_SEC: String(value) } }).server
        .idleTimeoutSec;
    expect(idle(0)).toBe(0);
    expect(idle(8)).toBe(8);
    expect(idle(960)).toBe(960);
    for (const bad of [4, 7, 10, 964, -4, 12.5]) {
      expect(
        issueAt(
          failure({ env: { STOCKFLOW_SERVER__IDLE_TIMEOUT_SEC: String(bad) } }),
          'server.idleTimeoutSec',
        ),
      ).toBeDefined();
    }
  });

  it('holds every limit the gateway relies on, each refusal naming its key', () => {
    // These were checked a second time by the gateway (gateway/options.ts) and drifted apart;
    // the schema is now the one place they are written.
    const refused: [string, Record<string, unknown>][] = [
      ['server.maxPayloadBytes', { server: { maxPayloadBytes: 63 } }],
      ['server.maxBackpressureBytes', { server: { maxBackpressureBytes: 1_023 } }],
      ['server.httpBodyLimitBytes', { server: { httpBodyLimitBytes: 1_023 } }],
      ['auth.rateLimit.perSecond', { auth: { rateLimit: { perSecond: 0 } } }],
      ['auth.rateLimit.burst', { auth: { rateLimit: { burst: 0.5 } } }],
    ];
    for (const [path, values] of refused) {
      const error = failure({ env: {}, values });
      expect(error.code).toBe('BAD_CONFIG');
      expect(error.issues.map((i) => i.path)).toEqual([path]);
      expect(issueAt(error, path).source).toBe('given');
      expect(error.message).toContain(path);
    }
    const edge = loadConfig({
      env: {},
      values: {
        server: { maxPayloadBytes: 64, maxBackpressureBytes: 1_024, httpBodyLimitBytes: 1_024 },
        auth: { rateLimit: { perSecond: 0.5, burst: 1 } },
      },
    });
    expect(edge.server.maxPayloadBytes).toBe(64);
    expect(edge.auth.rateLimit.perSecond).toBe(0.5);
  });

  it('takes only printable API keys under names of their own', () => {
    const apiKeys = [
      { key: 'a key with spaces 0000', name: 'a', role: 'admin' },
      { key: `${key(2)}\u0007`, name: 'b', role: 'admin' },
      { key: key(3), name: 'c', role: 'admin' },
      { key: key(4), name: 'c', role: 'admin' },
    ];
    const error = failure({ env: {}, values: { auth: { apiKeys } } });
    expect(error.issues.map((i) => i.path)).toEqual([
      'auth.apiKeys.0.key',
      'auth.apiKeys.1.key',
      'auth.apiKeys.3.name',
    ]);
    expect(issueAt(error, 'auth.apiKeys.3.name').message).toContain('auth.apiKeys.2.name');
    expect(error.message).not.toContain('a key with spaces');
    expect(error.message).not.toContain(key(2));
  });

  it('takes values given in code over the file and under the environment', () => {
    const config = loadConfig({
      env: { STOCKFLOW_SERVER__PORT: '9002' },
      file: configFile({ server: { port: 9000, host: '127.0.0.2' } }),
      values: { server: { port: 9001, maxPayloadBytes: 4_096 } },
    });
    expect(config.server.port).toBe(9002);
    expect(config.server.host).toBe('127.0.0.2');
    expect(config.server.maxPayloadBytes).toBe(4_096);
  });

  it('refuses a metrics port equal to the main port', () => {
    const error = failure({
      env: { STOCKFLOW_SERVER__PORT: '9000', STOCKFLOW_SERVER__METRICS_PORT: '9000' },
    });
    expect(issueAt(error, 'server.metricsPort').source).toBe('env STOCKFLOW_SERVER__METRICS_PORT');
  });

  it('returns a configuration frozen all the way down', () => {
    const config = loadConfig({ env: {}, file: EXAMPLE });
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.rules.channels as unknown as unknown[]).push({ id: 'x' });
    }).toThrow(TypeError);
    expect(() => {
      (config.rules.channels[0] as { priority: number }).priority = 9;
    }).toThrow(TypeError);
    expect(Object.isFrozen(config.auth.rateLimit)).toBe(true);
    expect(Object.isFrozen(config.locations[0])).toBe(true);
  });

  it('gives every load its own objects', () => {
    const a = loadConfig({ env: {} });
    const b = loadConfig({ env: {} });
    expect(a.rules.channels).not.toBe(b.rules.channels);
    expect(a.server.allowedOrigins).not.toBe(b.server.allowedOrigins);
  });
});

describe('the example file', () => {
  it('loads, with every section filled in', () => {
    const config = loadConfig({ env: {}, file: EXAMPLE });
    const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(raw).sort()).toEqual(Object.keys(config).sort());
    expect(config.rules.channels.map((c) => [c.id, c.priority])).toEqual([
      ['web', 1],
      ['app', 1],
      ['kiosk', 2],
      ['callcentre', 2],
      ['marketplace', 3],
    ]);
    expect(config.locations.map((l) => l.type).sort()).toEqual([
      'dc',
      'dropship',
      'store',
      'store',
    ]);
    expect(new Set(config.auth.apiKeys.map((k) => k.role))).toEqual(
      new Set(['storefront', 'location', 'admin']),
    );
  });

  it('is accepted by the engine as it is', async () => {
    const config = loadConfig({ env: {}, file: EXAMPLE });
    const engine = new StockEngine({
      ...config.engine,
      rules: config.rules,
      locations: config.locations,
      products: config.products,
    });
    await engine.stop();
  });
});

describe('docs/configuration.md', () => {
  it('describes every setting with its environment variable', () => {
    const docs = readFileSync(DOCS, 'utf8');
    const missing = settingPaths(configSchema)
      .flatMap((path) => [`\`${path.join('.')}\``, `\`${envVariable(path)}\``])
      .filter((text) => !docs.includes(text));
    expect(missing).toEqual([]);
  });
});
