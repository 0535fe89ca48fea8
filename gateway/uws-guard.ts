// Imported first by main.ts, before anything that imports uWebSockets.js: if its native binary
// cannot load (the Node 22+ binaries need glibc 2.38, which Debian 12 and Ubuntu 22.04 lack), the
// start ends with one line that names the fix instead of a stack trace.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The one line printed when uWebSockets.js does not load. */
export function uwsLoadFailure(error: unknown, nodeVersion: string): string {
  const text = error instanceof Error ? error.message : String(error);
  const glibc = /GLIBC_[\d.]+/.exec(text)?.[0];
  const cause =
    glibc === undefined
      ? (text.split('\n').findLast((l) => l.trim().length > 0) ?? 'unknown error').trim()
      : `this system's C library lacks ${glibc}`;
  return (
    `stockflow: uWebSockets.js cannot load on Node ${nodeVersion} (${cause}). ` +
    'Fix: run Node 20 (20.19+), or a newer distribution with glibc 2.38+ (Debian 13, Ubuntu 24.04), ' +
    'or the Docker image (Dockerfile).\n'
  );
}

try {
  require('uWebSockets.js');
} catch (error) {
  process.stderr.write(uwsLoadFailure(error, process.versions.node));
  process.exit(1);
}
