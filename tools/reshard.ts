// `npm run reshard -- --to N`: the offline re-shard (docs/scaling.md, "Re-sharding (offline)").
// Reads the configuration as the server does (STOCKFLOW_CONFIG, STOCKFLOW_* overrides).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, createLogger, loadConfig, type Config } from '../config/index.ts';
import { reshard, ReshardError, type ReshardReport } from '../gateway/shards/reshard.ts';

const HELP = `Usage: npm run reshard -- --to N [--dry-run]

Moves the state of the data directory (persistence.dir) from the shard count it holds to N
shards (server.workers: N). OFFLINE: stop the server first; no server may run on the
directory while this runs. The old layout is kept in <dir>/.reshard-old-<time>/ (delete it
once the server runs well with the new count).

  --to N      the new shard count, 1..64 (required)
  --dry-run   report what would move, change nothing
  --help      this text

Refused: the memory store, the Redis store (not yet supported), a directory holding order,
return or settlement state (the re-shard moves stock only), a server answering on
the configured port. The configuration is read as the server reads it (STOCKFLOW_CONFIG and
STOCKFLOW_* variables).`;

function parse(argv: string[]): { to: number; dryRun: boolean } | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  const to = Number(values.to);
  if (!Number.isInteger(to) || to < 1 || to > 64) {
    throw new ReshardError('--to N is required, N a whole number from 1 to 64 (see --help)');
  }
  return { to, dryRun: values['dry-run'] };
}

/** A server answering on the configured port is taken to be running on this data. */
async function serverAnswers(config: Config): Promise<boolean> {
  const { host, port } = config.server;
  const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  try {
    await fetch(`http://${target}:${port}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

function describe(r: ReshardReport, dryRun: boolean): string {
  if (r.nothing !== null && r.shards.length === 0) return `Nothing to do: ${r.nothing}.`;
  const lines = [
    `${dryRun ? 'Would move' : 'Moved'} ${r.dir} from ${r.from} to ${r.to} shard(s):`,
    ...r.shards.map(
      (s, k) =>
        `  shard ${k}: ${s.skus} SKU(s) with stock, ${s.positions} position(s), ` +
        `${s.onHand} unit(s) on hand, ${s.heldReservations} held reservation(s)`,
    ),
  ];
  if (dryRun) lines.push('Dry run: nothing was changed.');
  else lines.push(`Verified. The old layout is kept in ${r.kept ?? '?'}.`);
  if (!dryRun) lines.push(`Start the server with server.workers: ${r.to}.`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  try {
    const options = parse(process.argv.slice(2));
    if (options === null) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const config = loadConfig({ env: process.env });
    if (await serverAnswers(config)) {
      throw new ReshardError(
        `a server answers on ${config.server.host}:${config.server.port}: stop it first`,
      );
    }
    // Warnings and errors to stderr as JSON lines; stdout carries the report.
    const log = createLogger({ level: 'warn' }, pino.destination(2));
    const report = await reshard(config, options, log);
    process.stdout.write(`${describe(report, options.dryRun)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ReshardError || error instanceof ConfigError) {
      process.stderr.write(`reshard: ${error.message}\n`);
      return error instanceof ConfigError ? 78 : 1;
    }
    throw error;
  }
}

process.exitCode = await main();
