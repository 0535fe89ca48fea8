// Builds the operators' console (console/) into static files the gateway serves at /console:
// one hashed JavaScript bundle (Preact, the page, the stockflow client), one hashed stylesheet and
// an index.html naming them. `npm run build` runs it; the browser test calls buildConsole itself.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const SOURCE = join(ROOT, 'console');

/** Builds into `outDir` (emptied first); returns the names of the files written. */
export async function buildConsole(outDir: string): Promise<string[]> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(SOURCE, 'main.tsx')],
    outdir: outDir,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // The client loads `ws` only in Node; a browser never reaches that import.
    external: ['ws'],
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const script = outputs.find((n) => n.endsWith('.js'));
  const style = outputs.find((n) => n.endsWith('.css'));
  if (script === undefined || style === undefined) {
    throw new Error(`console build made no bundle: ${outputs.join(', ')}`);
  }
  const html = readFileSync(join(SOURCE, 'index.html'), 'utf8')
    .replace('%SCRIPT%', `/console/${script}`)
    .replace('%STYLE%', `/console/${style}`);
  writeFileSync(join(outDir, 'index.html'), html);
  return [...outputs, 'index.html'];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = join(ROOT, 'dist', 'console');
  const files = await buildConsole(out);
  process.stdout.write(`console: ${files.length} files in ${out}\n`);
}
