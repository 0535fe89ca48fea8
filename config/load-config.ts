import { readFileSync } from 'node:fs';
import type { core } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error.ts';
import { CONFIG_FILE_VARIABLE, readEnvOverrides } from './env-overrides.ts';
import { LayeredInput } from './layered-input.ts';
import { configSchema, type Config } from './schema.ts';
import { keysAt } from './schema-paths.ts';

export interface LoadConfigOptions {
  /** The environment to read; process.env when left out. Tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** A JSON file; when left out, the file named by STOCKFLOW_CONFIG, if any. */
  readonly file?: string | undefined;
  /**
   * Settings given in code (tests, benchmarks, an embedding program), over the file and under
   * the environment; validated like any other layer.
   */
  readonly values?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The service's configuration: defaults < JSON file < given values < environment, validated once
 * and frozen.
 * Throws ConfigError listing every bad setting with where its value came from.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const input = new LayeredInput();
  const issues: ConfigIssue[] = [];

  const file = options.file ?? env[CONFIG_FILE_VARIABLE];
  if (file !== undefined && file !== '') {
    const read = readJsonObject(file);
    if (typeof read === 'string') issues.push({ path: '', message: read, source: `file ${file}` });
    else input.apply([], read, `file ${file}`);
  }

  if (options.values !== undefined) input.apply([], options.values, 'given');

  const fromEnv = readEnvOverrides(env, configSchema);
  issues.push(...fromEnv.issues);
  for (const o of fromEnv.overrides) input.apply(o.path, o.value, `env ${o.variable}`);

  const parsed = configSchema.safeParse(input.value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push(...explain(issue, input));
  }
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  return deepFreeze(parsed.data);
}

/** The parsed object, or why there is none. */
function readJsonObject(file: string): Record<string, unknown> | string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `expected a JSON object, given ${shown(value, [])}`;
  }
  return value as Record<string, unknown>;
}

/** One ConfigIssue per bad key: zod groups unknown keys of one object in one issue. */
function explain(issue: core.$ZodIssue, input: LayeredInput): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    const allowed = keysAt(configSchema, issue.path).join(', ');
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return {
        path: path.map(String).join('.'),
        message: `unknown key; expected one of: ${allowed}`,
        source: input.sourceOf(path),
      };
    });
  }
  const given = input.valueAt(issue.path);
  // For an object, "given an object" says nothing the message does not (e.g. lat without lon).
  const isObject = typeof given === 'object' && given !== null && !Array.isArray(given);
  return [
    {
      path: issue.path.map(String).join('.'),
      message: isObject ? issue.message : `${issue.message}; given ${shown(given, issue.path)}`,
      source: input.sourceOf(issue.path),
    },
  ];
}

/** A short rendering of a given value. API keys are secrets: only their length is shown. */
function shown(value: unknown, path: readonly PropertyKey[]): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string' && isSecret(path)) return `a secret of ${value.length} characters`;
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An API key, or text given where the list of keys (or one of them) belongs. */
function isSecret(path: readonly PropertyKey[]): boolean {
  return path[0] === 'auth' && path[1] === 'apiKeys' && (path.length < 4 || path[3] === 'key');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
