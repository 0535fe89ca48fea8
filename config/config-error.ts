/** One problem with one setting. */
export interface ConfigIssue {
  /** Dotted path of the setting, e.g. `server.port` or `auth.apiKeys.2.channel`; '' for the whole document. */
  readonly path: string;
  /** What was expected and what was given. */
  readonly message: string;
  /** Where the value came from: `env STOCKFLOW_SERVER__PORT`, `file ./stockflow.json` or `default`. */
  readonly source: string;
}

/**
 * Thrown by loadConfig when the configuration cannot be used. It lists every problem at once, so
 * an operator fixes the deployment in one round instead of one restart per typo. It is a start-up
 * failure, never a wire error, which is why its code lives here and not in engine/errors.ts.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'BAD_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    super(describe(issues), options.cause === undefined ? undefined : { cause: options.cause });
    this.issues = Object.freeze(issues.map((issue) => Object.freeze({ ...issue })));
  }
}

function describe(issues: readonly ConfigIssue[]): string {
  const lines = issues.map(
    (i) => `  - ${i.path === '' ? '(document)' : i.path}: ${i.message} [${i.source}]`,
  );
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return `invalid configuration, ${count}:\n${lines.join('\n')}`;
}
