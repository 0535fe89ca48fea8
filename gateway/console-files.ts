import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import { HttpExchange, type ExchangeContext } from './http-exchange.ts';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's content hash in a file name (`main-7XQ2ABCD.js`): such a file never changes. */
const HASHED = /-[A-Z0-9]{8}\.[a-z]+$/;

/** Headers every console file carries: no sniffing, no framing, scripts only from here. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

interface ConsoleFile {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Files larger than this are not served (the console's bundle is far smaller). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/**
 * The operators' console as static files (console/, built by `npm run build` into
 * `server.consoleDir`), at /console. Public like any page: every request the page then makes
 * carries the API key the operator signs in with. The files are read once, at the first request
 * that finds them, and served from memory; index.html is revalidated (no-cache), the hashed
 * bundles are immutable. Without a build /console answers 404 with a hint, and looks again at
 * the next request, so building while the server runs is enough.
 */
export class ConsoleFiles {
  private readonly root: string;
  private files: Map<string, ConsoleFile> | null = null;

  constructor(
    dir: string,
    private readonly ctx: ExchangeContext,
  ) {
    this.root = resolve(dir);
  }

  register(app: TemplatedApp): void {
    app.get('/console', (res) => {
      this.serve(res, 'index.html');
    });
    app.get('/console/*', (res, req) => {
      // What follows the second slash of /console/<name>.
      const url = req.getUrl();
      const name = url.slice(url.indexOf('/', 1) + 1);
      this.serve(res, name.length === 0 ? 'index.html' : name);
    });
  }

  private serve(res: HttpResponse, name: string): void {
    const ex = new HttpExchange(res, 'console', performance.now(), this.ctx);
    try {
      const files = this.load();
      if (files === null) {
        ex.error(
          ErrorCode.NOT_FOUND,
          `the console is not built: run \`npm run build\` (it writes ${this.root}), ` +
            'or set server.consoleDir to where it was built',
        );
        return;
      }
      const file = files.get(name);
      if (file === undefined) {
        ex.error(ErrorCode.NOT_FOUND, `no console file ${name.slice(0, 200)}`);
        return;
      }
      const { 'content-type': type = 'application/octet-stream', ...rest } = file.headers;
      ex.send(200, type, file.body, 'ok', rest);
    } catch (error) {
      ex.fail(error);
    }
  }

  /** Every file under the root by its path with `/`, or null when there is no index.html. */
  private load(): Map<string, ConsoleFile> | null {
    if (this.files !== null) return this.files;
    try {
      if (!statSync(join(this.root, 'index.html')).isFile()) return null;
    } catch {
      return null;
    }
    const files = new Map<string, ConsoleFile>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          walk(path);
          continue;
        }
        const type = CONTENT_TYPES[extname(entry.name)];
        if (!entry.isFile() || type === undefined || statSync(path).size > MAX_FILE_BYTES) {
          continue;
        }
        const name = relative(this.root, path).split(sep).join('/');
        const cache = HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache';
        files.set(name, {
          body: readFileSync(path, 'utf8'),
          headers: { 'content-type': type, 'cache-control': cache, ...SECURITY_HEADERS },
        });
      }
    };
    walk(this.root);
    this.files = files;
    return files;
  }
}
