import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm run deps` checks the repo with .dependency-cruiser.cjs. Here the same CLI and the same
// rules run on a tiny tree laid out like ours, so a rule that stopped biting (a typo in a path,
// type imports no longer seen) fails this test instead of passing the real tree silently.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = '.dependency-cruiser.cjs';

/** Every file of the fixture; the comment on a line says which rule it must break, if any. */
const FIXTURE: Record<string, string> = {
  'engine/index.ts': "export { a } from './a.ts';\n",
  // Type-only, both ways: a cycle the emitted JavaScript would not show (reported once).
  'engine/a.ts': "import type { B } from './b.ts';\nexport const a = 1;\nexport type A = B[];\n",
  'engine/b.ts': "import type { A } from './a.ts';\nexport type B = number | A;\n",
  // engine-imports-no-outer-layer, by a type import.
  'engine/core.ts': "import type { Order } from '../orders/index.ts';\nexport type Held = Order;\n",
  // not-to-unresolvable.
  'engine/lost.ts': "import { gone } from './missing.ts';\nexport const lost = gone;\n",
  // Allowed: orders/ to engine/ through its index.
  'orders/index.ts':
    "import { a } from '../engine/index.ts';\nexport interface Order { id: string }\nexport const n = a;\n",
  // orders-imports-no-transport-or-storage.
  'orders/relay.ts':
    "import type { Socket } from '../gateway/index.ts';\nexport type R = Socket;\n",
  // product-imports-other-folders-through-index.
  'orders/deep.ts': "import { a } from '../engine/a.ts';\nexport const d = a;\n",
  // Allowed: gateway/ to orders/ through its index.
  'gateway/index.ts':
    "import type { Order } from '../orders/index.ts';\nexport interface Socket { o: Order }\n",
  // Allowed: persistence/ to orders/index.ts.
  'persistence/index.ts':
    "import type { Order } from '../orders/index.ts';\nexport type Stored = Order;\n",
  // persistence-imports-no-gateway.
  'persistence/wire.ts':
    "import type { Socket } from '../gateway/index.ts';\nexport type W = Socket;\n",
  // persistence-imports-no-orders-internals (and past orders' index).
  'persistence/peek.ts': "import type { R } from '../orders/relay.ts';\nexport type P = R;\n",
  // product-imports-no-test-or-bench.
  'config/index.ts': "import { helper } from '../test/helper.ts';\nexport const c = helper;\n",
  'test/helper.ts': 'export const helper = 1;\n',
  // client-imports-nothing-of-the-server, by a type import (even through the engine's index).
  'client/index.ts': "import type { A } from '../engine/index.ts';\nexport type C = A;\n",
  // Allowed: the console page to the client's public face.
  'console/main.ts': "import type { C } from '../client/index.ts';\nexport type M = C;\n",
  // console-imports-only-the-client: the page reaching into the server.
  'console/peek.ts': "import type { A } from '../engine/index.ts';\nexport type P = A;\n",
  'tools/build.ts': 'export const build = 1;\n',
  // A cycle in bench/ fails like any other.
  'bench/gateway-load.ts': "import { e } from './extra.ts';\nexport const l = (): number => e;\n",
  'bench/extra.ts':
    "import { l } from './gateway-load.ts';\nexport const e = 1;\nexport const f = l;\n",
};

const EXPECTED = [
  'client-imports-nothing-of-the-server client/index.ts -> engine/index.ts',
  'console-imports-only-the-client console/peek.ts -> engine/index.ts',
  'engine-imports-no-outer-layer engine/core.ts -> orders/index.ts',
  'no-circular bench/extra.ts -> bench/gateway-load.ts',
  'no-circular engine/a.ts -> engine/b.ts',
  'not-to-unresolvable engine/lost.ts -> ./missing.ts',
  'orders-imports-no-transport-or-storage orders/relay.ts -> gateway/index.ts',
  'persistence-imports-no-gateway persistence/wire.ts -> gateway/index.ts',
  'persistence-imports-no-orders-internals persistence/peek.ts -> orders/relay.ts',
  'product-imports-no-test-or-bench config/index.ts -> test/helper.ts',
  'product-imports-other-folders-through-index orders/deep.ts -> engine/a.ts',
  'product-imports-other-folders-through-index persistence/peek.ts -> orders/relay.ts',
].sort();

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The `deps` script's own arguments, so this test runs exactly what `npm test` runs. */
function depsScriptArgs(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const [bin, ...args] = (pkg.scripts['deps'] ?? '').split(/\s+/);
  expect(bin).toBe('depcruise');
  return args;
}

function depcruise(cwd: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ exitCode, stdout, stderr });
      },
    );
  });
}

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stockflow-deps-'));
    for (const [file, text] of Object.entries(FIXTURE)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    copyFileSync(join(ROOT, CONFIG), join(dir, CONFIG));
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('names every forbidden import of a small tree, type imports included, and nothing else', async () => {
    const args = depsScriptArgs();
    // The script as written (its exit code is what fails `npm test`), and again as JSON to read.
    const [asScript, asJson] = await Promise.all([
      depcruise(dir, args),
      depcruise(dir, [...args, '--output-type', 'json']),
    ]);
    expect(asJson.exitCode, asJson.stderr).toBe(0);
    const { summary } = JSON.parse(asJson.stdout) as { summary: { violations: Violation[] } };
    const found = summary.violations.map((v) => `${v.rule.name} ${v.from} -> ${v.to}`).sort();
    expect(found).toEqual(EXPECTED);
    expect(asScript.exitCode, asScript.stderr).toBe(EXPECTED.length);
    for (const name of new Set(EXPECTED.map((line) => line.split(' ')[0]))) {
      expect(asScript.stdout).toContain(`error ${name}:`);
    }
  });
});
