/**
 * Durable reserves benchmark (`npm run bench:durable`, `-- --quick` for a smoke run), issue #11:
 * granted reserves through the real server (`node dist/gateway/main.js`) on the file, Redis and
 * memory stores and through the bare durable prototype (bench/durable-bare.ts, the ceiling),
 * against a Redis Lua check-and-reserve with AOF always, in one run. Every generator runs in a
 * process of its own (this file dispatches on `--child <kind>`).
 * Writes bench/results/durable.json and durable.md (full runs) and prints the table.
 */
import { serveDurableLoad } from './durable-load.ts';
import { serveLuaLoad } from './durable-lua.ts';
import { runDurable } from './durable-suite.ts';

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  const kind = process.argv[childAt + 1];
  switch (kind) {
    case 'load':
      serveDurableLoad();
      break;
    case 'lua':
      serveLuaLoad();
      break;
    default:
      throw new Error(`unknown child ${String(kind)}`);
  }
} else {
  await runDurable(process.argv.slice(2));
}
