import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../persistence/engine-fixture.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the stockflow/client package', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('builds to JavaScript with declarations where package.json exports point', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
      scripts: Record<string, string>;
    };
    expect(pkg.exports['./client']).toEqual({
      types: './dist/client/index.d.ts',
      default: './dist/client/index.js',
    });
    expect(pkg.scripts.build).toContain('tsconfig.client.json');
    // the same build as `npm run build`, into a temp dir instead of dist/
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.client.json',
        '--outDir',
        dir,
      ],
      { cwd: ROOT, stdio: 'pipe' },
    );
    for (const file of [pkg.exports['./client']!.types, pkg.exports['./client']!.default]) {
      expect(existsSync(join(dir, file.replace('./dist/', ''))), file).toBe(true);
    }
    const declarations = readFileSync(join(dir, 'client', 'index.d.ts'), 'utf8');
    expect(declarations).toContain('StockflowClient');
    const built = (await import(pathToFileURL(join(dir, 'client', 'index.js')).href)) as Record<
      string,
      unknown
    >;
    expect(typeof built.StockflowClient).toBe('function');
    expect(typeof built.StockflowError).toBe('function');
    // the built client pulls in nothing of the server
    const js = readFileSync(join(dir, 'client', 'stockflow-client.js'), 'utf8');
    expect(js).not.toMatch(/engine\/|gateway\/|orders\//);
  });
});
