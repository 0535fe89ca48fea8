/**
 * Scale benchmark (`npm run bench:scale`, `-- --quick` for a smoke run), issue #12: the real
 * server with server.workers 1 against 2 in one run, alternating rounds, each on a fresh server:
 * granted reserves spread and hot, orders placed, fan-out delivery latency. Options: `--cases
 * spread,hot,orders,fanout`, `--workers 1,2`, `--rounds N` (3), `--seconds S` (5). Generators
 * run in processes of their own (this file dispatches on `--child <kind>`). Writes
 * bench/results/scale.json and scale.md (a smoke run: the temp dir) and prints the table.
 */
import { serveFanoutLoad } from './scale-fanout.ts';
import { serveOrdersLoad } from './scale-orders.ts';
import { runScale } from './scale-suite.ts';

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  const kind = process.argv[childAt + 1];
  switch (kind) {
    case 'orders':
      serveOrdersLoad();
      break;
    case 'fanout':
      serveFanoutLoad();
      break;
    default:
      throw new Error(`unknown child ${String(kind)}`);
  }
} else {
  await runScale(process.argv.slice(2));
}
