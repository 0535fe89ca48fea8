import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';

/** The file in the data directory that keeps the generated admin key. */
export const FIRST_RUN_KEY_FILE = 'first-run-admin-key';

const KEY_PATTERN = /^sf_admin_[A-Za-z0-9_-]{32,}$/;

export interface FirstRun {
  /** The configuration to start with: the one given, or with the first-run admin key in it. */
  readonly config: Config;
  /** Prints the key, the console URL and a curl line, when the key was just generated. */
  announce(out: NodeJS.WritableStream): void;
}

/**
 * A first start that works: with no API keys configured, one admin key is generated and kept in
 * the data directory (mode 0600), reused on later starts, and printed once, when made. Every
 * start without configured keys logs a warning that production needs real ones. With keys
 * configured nothing changes.
 */
export function firstRun(config: Config, log: Logger): FirstRun {
  if (config.auth.apiKeys.length > 0) return { config, announce: () => undefined };
  const dir = resolve(config.persistence.dir);
  const file = join(dir, FIRST_RUN_KEY_FILE);
  let key = readKey(file);
  const generated = key === null;
  if (key === null) {
    key = `sf_admin_${randomBytes(24).toString('base64url')}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } else if ((statSync(file).mode & 0o077) !== 0) {
    // Someone loosened it: a key file readable by others is a key given away.
    chmodSync(file, 0o600);
  }
  log.warn(
    { keyFile: file, generated },
    'no API keys configured: using the first-run admin key; configure auth.apiKeys for production',
  );
  const apiKeys = [{ key, name: 'first-run admin', role: 'admin' as const }];
  const withKey: Config = { ...config, auth: { ...config.auth, apiKeys } };
  const host =
    config.server.host === '0.0.0.0' || config.server.host === '::'
      ? 'localhost'
      : config.server.host;
  const base = `http://${host}:${config.server.port}`;
  return {
    config: withKey,
    announce: (out) => {
      if (!generated) return;
      out.write(
        [
          '',
          'No API keys are configured, so Stockflow made one admin key for this first run.',
          `It is kept in ${file} (mode 0600) and shown only this once:`,
          '',
          `    ${key}`,
          '',
          `Console:  ${base}/console/`,
          `Try:      curl -H 'Authorization: Bearer ${key}' ${base}/v1/config/locations`,
          '',
          'For production, configure keys per storefront, location and operator (auth.apiKeys,',
          'docs/configuration.md); the first-run key is then no longer used.',
          '',
          '',
        ].join('\n'),
      );
    },
  };
}

function readKey(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const key = text.trim();
  if (!KEY_PATTERN.test(key)) {
    throw new Error(`${file} does not hold a first-run admin key; remove it to make a new one`);
  }
  return key;
}
