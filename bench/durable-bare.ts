/**
 * The bare durable prototype: the CEILING the durable benchmark (bench/durable-suite.ts, system
 * `bare`) measures Stockflow against on the same host, in the same run. Only for the benchmark.
 *
 * It is the design's own parts with none of the product, as the design notes describe the
 * prototype that measured 389k/s hot / 241k/s spread: uWS + msgpackr, reserve and reply, replies
 * gathered per connection across the whole event-loop turn and corked once per connection per
 * release; group commit: every granted command of a window appended to one file in one write,
 * then fdatasync, replies released only after the sync (one sync in flight, the next window
 * gathering meanwhile). One thread (Stockflow runs `server.workers: auto`).
 *
 * Left out on purpose: validation beyond the request's shape, auth, channels and rules, metrics
 * on the hot path, expiry, undo, snapshots, recovery (the journal is written, never read).
 *
 * Run as its own process, from the repository root (so `tsx` resolves):
 *   node --import tsx <flags of `npm start`> bench/durable-bare.ts <port> <dataDir>
 * It serves what the suite asks of a server on Stockflow's paths: GET /readyz, POST
 * /v1/inventory/snapshots (CSV `sku,onHand`), GET /v1/availability, GET /metrics and the
 * WebSocket at /v1/ws (binary msgpack `reserve` frames).
 */
import { fdatasync, mkdirSync, openSync, write } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Packr, Unpackr } from 'msgpackr';
import uWS from 'uWebSockets.js';
import type { us_listen_socket, WebSocket } from 'uWebSockets.js';

const port = Number(process.argv[2]);
const dataDir = process.argv[3] ?? '.';
const TTL_MS = 3_600_000;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

// ---- state: stock per SKU (one location), and what was granted ---------------------------------

const stock = new Map<string, number>();
interface Hold {
  readonly sku: string;
  readonly qty: number;
  readonly expiresAt: number;
}
const holds = new Map<string, Hold>();

// ---- group commit -------------------------------------------------------------------------------

/** One connection: its socket and the replies of the release being written out. */
interface Conn {
  ws: WebSocket<Conn>;
  closed: boolean;
  readonly out: Buffer[];
}

/** What one write covers: the records appended and every reply decided meanwhile. */
class Window {
  journal = Buffer.allocUnsafe(1 << 20);
  bytes = 0;
  records = 0;
  readonly conns: Conn[] = [];
  readonly replies: Buffer[] = [];

  append(record: Buffer): void {
    const need = this.bytes + 4 + record.length;
    if (need > this.journal.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.journal.length * 2));
      this.journal.copy(bigger, 0, 0, this.bytes);
      this.journal = bigger;
    }
    this.journal.writeUInt32LE(record.length, this.bytes);
    record.copy(this.journal, this.bytes + 4);
    this.bytes = need;
    this.records++;
  }
}

mkdirSync(dataDir, { recursive: true });
const fd = openSync(join(dataDir, 'journal.bin'), 'a');
let current = new Window();
let spare = new Window();
let writing = false;
let scheduled = false;
let seq = 0;
let commits = 0;
let commitRecords = 0;

function die(what: string, error: unknown): never {
  console.error(`bare: ${what} failed`, error);
  process.exit(1);
}

/** Queues `reply` for `conn` in the current window; it goes out when that window is released. */
function reply(conn: Conn, message: Buffer): void {
  current.conns.push(conn);
  current.replies.push(message);
  schedule();
}

function schedule(): void {
  if (writing || scheduled) return;
  scheduled = true;
  setImmediate(flush);
}

/** Closes the current window: writes and syncs its records, then releases its replies. */
function flush(): void {
  scheduled = false;
  const w = current;
  if (w.replies.length === 0 && w.records === 0) return;
  current = spare;
  spare = w;
  if (w.records === 0) {
    // Only refusals, decided on state that is all durable already: out at the end of the turn.
    release(w);
    return;
  }
  writing = true;
  write(fd, w.journal, 0, w.bytes, null, (error) => {
    if (error !== null) die('write', error);
    fdatasync(fd, (syncError) => {
      if (syncError !== null) die('fdatasync', syncError);
      commits++;
      commitRecords += w.records;
      release(w);
      writing = false;
      schedule();
    });
  });
}

const touched: Conn[] = [];

/** Sends a window's replies: grouped per connection, one cork per connection. */
function release(w: Window): void {
  const { conns, replies } = w;
  for (let i = 0; i < conns.length; i++) {
    const conn = conns[i]!;
    if (conn.closed) continue;
    if (conn.out.length === 0) touched.push(conn);
    conn.out.push(replies[i]!);
  }
  for (const conn of touched) {
    try {
      conn.ws.cork(() => {
        for (const m of conn.out) conn.ws.send(m, true);
      });
    } catch {
      conn.closed = true; // uWS throws only on a socket already closed
    }
    conn.out.length = 0;
  }
  touched.length = 0;
  conns.length = 0;
  replies.length = 0;
  w.bytes = 0;
  w.records = 0;
}

// ---- reserve --------------------------------------------------------------------------------------

function error(id: number, code: string, message: string): Buffer {
  return packr.pack({ op: 'error', id, code, message });
}

function granted(id: number, reservationId: string, hold: Hold): Buffer {
  const { sku, qty, expiresAt } = hold;
  return packr.pack({ op: 'reserve', id, reservationId, sku, qty, state: 'held', expiresAt });
}

interface Reserve {
  op?: unknown;
  id?: unknown;
  reservationId?: unknown;
  channel?: unknown;
  sku?: unknown;
  qty?: unknown;
  location?: unknown;
}

function onMessage(conn: Conn, message: ArrayBuffer): void {
  let decoded: unknown;
  try {
    decoded = unpackr.unpack(Buffer.from(message));
  } catch {
    reply(conn, error(0, 'BAD_REQUEST', 'not msgpack'));
    return;
  }
  if (typeof decoded !== 'object' || decoded === null) {
    reply(conn, error(0, 'BAD_REQUEST', 'not an object'));
    return;
  }
  const m = decoded as Reserve;
  const id = typeof m.id === 'number' && m.id >= 0 ? m.id : 0;
  const { reservationId, channel, sku, qty, location } = m;
  if (
    m.op !== 'reserve' ||
    typeof reservationId !== 'string' ||
    typeof channel !== 'string' ||
    typeof sku !== 'string' ||
    typeof location !== 'string' ||
    typeof qty !== 'number' ||
    !Number.isInteger(qty) ||
    qty <= 0
  ) {
    reply(conn, error(id, 'BAD_REQUEST', 'expected a reserve'));
    return;
  }
  const held = holds.get(reservationId);
  if (held !== undefined) {
    reply(conn, granted(id, reservationId, held)); // idempotent: the same grant again
    return;
  }
  const left = stock.get(sku);
  if (left === undefined) {
    reply(conn, error(id, 'NOT_FOUND', `unknown sku ${sku}`));
    return;
  }
  if (left < qty) {
    reply(conn, error(id, 'INSUFFICIENT_STOCK', `${left} available`));
    return;
  }
  stock.set(sku, left - qty);
  const hold: Hold = { sku, qty, expiresAt: Date.now() + TTL_MS };
  holds.set(reservationId, hold);
  current.append(packr.pack([seq++, reservationId, sku, location, qty, channel, hold.expiresAt]));
  reply(conn, granted(id, reservationId, hold));
}

// ---- HTTP: readiness, stock, availability, metrics ------------------------------------------------

let gcSeconds = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcSeconds += entry.duration / 1_000;
}).observe({ entryTypes: ['gc'] });

function metricsText(): string {
  return [
    `nodejs_gc_duration_seconds_sum{kind="all"} ${gcSeconds}`,
    `nodejs_heap_size_used_bytes ${process.memoryUsage().heapUsed}`,
    `stockflow_journal_group_commit_records_count ${commits}`,
    `stockflow_journal_group_commit_records_sum ${commitRecords}`,
    '',
  ].join('\n');
}

/** Sets the stock of every SKU line of a `sku,onHand` CSV (header first); returns the count. */
function loadCsv(text: string): number {
  let n = 0;
  for (const line of text.split('\n').slice(1)) {
    const comma = line.indexOf(',');
    if (comma === -1) continue;
    stock.set(line.slice(0, comma), Number(line.slice(comma + 1)));
    n++;
  }
  return n;
}

const app = uWS
  .App()
  .get('/readyz', (res) => {
    res.cork(() => res.end('ready'));
  })
  .get('/metrics', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(metricsText()));
  })
  .get('/v1/availability', (res, req) => {
    const available = stock.get(req.getQuery('sku') ?? '') ?? -1;
    res.cork(() =>
      res.writeHeader('content-type', 'application/json').end(`{"available":${available}}`),
    );
  })
  .post('/v1/inventory/snapshots', (res) => {
    let aborted = false;
    const chunks: Buffer[] = [];
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(new Uint8Array(chunk))); // a copy: uWS reuses the chunk
      if (!isLast || aborted) return;
      const lines = loadCsv(Buffer.concat(chunks).toString('utf8'));
      res.cork(() => res.writeHeader('content-type', 'application/json').end(`{"lines":${lines}}`));
    });
  })
  .ws<Conn>('/v1/ws', {
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 0,
    upgrade: (res, req, context) => {
      res.upgrade<Partial<Conn>>(
        { closed: false, out: [] },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      ws.getUserData().ws = ws;
    },
    message: (ws, message) => {
      onMessage(ws.getUserData(), message);
    },
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  });

let listening: us_listen_socket | null = null;
app.listen('127.0.0.1', port, (socket) => {
  if (socket === false) die('listen', new Error(`port ${port}`));
  listening = socket;
});

function stop(): void {
  if (listening !== null) uWS.us_listen_socket_close(listening);
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
