/**
 * Gateway benchmark (`npx tsx bench/gateway.ts`, `-- --quick` for a smoke run): the gateway
 * against baselines measured in the same run, every server and generator in a process of its own.
 * Writes bench/results/gateway.json and gateway.md (full runs) and prints the table.
 */
import { serveLoad } from './gateway-load.ts';
import { serveRedisLoad } from './gateway-redis.ts';
import { serveServer, type ServerSpec } from './gateway-server.ts';
import { serveSubscribers } from './gateway-subscribers.ts';
import { runSuite } from './gateway-suite.ts';

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  const kind = process.argv[childAt + 1];
  const spec = JSON.parse(process.argv[childAt + 2] ?? '{}') as unknown;
  switch (kind) {
    case 'server':
      await serveServer(spec as ServerSpec);
      break;
    case 'load':
      serveLoad();
      break;
    case 'redis':
      serveRedisLoad();
      break;
    case 'subscribers':
      serveSubscribers();
      break;
    default:
      throw new Error(`unknown child ${String(kind)}`);
  }
} else {
  await runSuite(process.argv.includes('--quick'));
}
