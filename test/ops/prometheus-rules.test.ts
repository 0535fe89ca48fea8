import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { headingAnchors, readText, readYaml, ROOT } from './ops-files.ts';

const run = promisify(execFile);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[];
}
interface TestFile {
  tests: { name: string; alert_rule_test?: AlertTest[] }[];
}

const RULES = 'deploy/prometheus/rules.yml';
const RULE_TESTS = 'deploy/prometheus/rules.test.yml';

function alerts(): Rule[] {
  const file = readYaml(RULES) as RuleFile;
  return file.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
}

describe('Prometheus rules (deploy/prometheus)', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', RULES], { cwd: ROOT });
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests', async () => {
    const { stdout } = await run('promtool', ['test', 'rules', RULE_TESTS], { cwd: ROOT });
    expect(stdout).toContain('SUCCESS');
  });

  it('cover what the issue asks for: store, outbox, event loop, error budget, snapshots, down', () => {
    const names = alerts().map((a) => a.alert);
    for (const name of [
      'StockflowStoreFailing',
      'StockflowStoreSlow',
      'StockflowOutboxBacklog',
      'StockflowOutboxDeadLetters',
      'StockflowEventLoopSaturated',
      'StockflowErrorBudgetBurn',
      'StockflowSnapshotsFailing',
      'StockflowDown',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('give every alert a severity, a summary and a runbook entry that exists in docs/operations.md', () => {
    const anchors = headingAnchors(readText('docs/operations.md'));
    for (const a of alerts()) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toMatch(/\S/);
      const runbook = a.annotations?.runbook_url ?? '';
      const m = /^docs\/operations\.md#([\w-]+)$/.exec(runbook);
      expect(m, `${a.alert ?? ''}: runbook_url ${runbook}`).not.toBeNull();
      expect([...anchors], `${a.alert ?? ''}: anchor #${m?.[1] ?? ''}`).toContain(m?.[1]);
    }
  });

  it('see every alert both firing and not firing in the unit tests', () => {
    const tests = (readYaml(RULE_TESTS) as TestFile).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts()) {
      const mine = tests.filter((t) => t.alertname === a.alert);
      const firing = mine.filter((t) => (t.exp_alerts ?? []).length > 0);
      const quiet = mine.filter((t) => (t.exp_alerts ?? []).length === 0);
      expect(firing.length, `${a.alert ?? ''} seen firing`).toBeGreaterThan(0);
      expect(quiet.length, `${a.alert ?? ''} seen not firing`).toBeGreaterThan(0);
    }
  });
});
