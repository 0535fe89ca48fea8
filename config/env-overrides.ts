import type { core } from 'zod';
import type { ConfigIssue } from './config-error.ts';
import { ENV_PREFIX, ENV_SEPARATOR, envTarget } from './schema-paths.ts';

/** Names the JSON file to read; the one STOCKFLOW_ variable that is not a setting. */
export const CONFIG_FILE_VARIABLE = 'STOCKFLOW_CONFIG';

export interface EnvOverride {
  readonly path: readonly string[];
  readonly value: unknown;
  readonly variable: string;
}

export interface EnvOverrides {
  /** Shallow paths first, so `STOCKFLOW_SERVER__PORT` wins over a whole `STOCKFLOW_SERVER` object. */
  readonly overrides: readonly EnvOverride[];
  /** Variables under the prefix that name no setting: a typo must not pass silently. */
  readonly issues: readonly ConfigIssue[];
}

/**
 * Turns `STOCKFLOW_<SECTION>__<KEY>=value` variables into settings. The prefix is matched as
 * written (upper case, as environment variables are by convention); the keys after it are
 * matched without regard to case or underscores. Values are JSON when they parse as JSON
 * (numbers, booleans, null, arrays, objects), except for text settings, which take the value as
 * written.
 */
export function readEnvOverrides(
  env: Readonly<Record<string, string | undefined>>,
  schema: core.$ZodType,
): EnvOverrides {
  const overrides: EnvOverride[] = [];
  const issues: ConfigIssue[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (
      raw === undefined ||
      !variable.startsWith(ENV_PREFIX) ||
      variable === CONFIG_FILE_VARIABLE
    ) {
      continue;
    }
    const segments = variable.slice(ENV_PREFIX.length).split(ENV_SEPARATOR);
    const target = envTarget(schema, segments);
    if (!target.ok) {
      issues.push({
        path: target.path.join('.'),
        message:
          target.expected.length === 0
            ? 'unknown setting: nothing can be set below this path'
            : `unknown setting; expected one of: ${target.expected.join(', ')}` +
              (target.path.length === 1 ? ' (nest with __, e.g. STOCKFLOW_SERVER__PORT)' : ''),
        source: `env ${variable}`,
      });
      continue;
    }
    overrides.push({ path: target.path, value: target.textual ? raw : parseJson(raw), variable });
  }
  overrides.sort((a, b) => a.path.length - b.path.length || a.variable.localeCompare(b.variable));
  return { overrides, issues };
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}
