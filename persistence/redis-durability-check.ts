import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { PersistenceError } from './persistence-error.ts';
import { replyErrorKind } from './redis-calls.ts';

/**
 * Checks that Redis keeps what it acknowledged:
 * - `appendonly yes`, else a restart loses every write since the last RDB save;
 * - `appendfsync always`, else a power failure or kernel crash loses up to about a second of them
 *   (everysec) or whatever the OS had not flushed (no);
 * - no `allkeys-*` eviction policy, else memory pressure deletes journal entries and snapshots
 *   (`volatile-*` policies evict only keys with a TTL, and ours have none).
 * Non-strict: logs a warning per problem and goes on. Strict: refuses with one
 * STORE_MISCONFIGURED error naming the settings to change. When CONFIG is refused (managed
 * services rename or restrict it), nothing can be checked: a warning, or a refusal in strict
 * mode. A failure that is not an error reply (the connection) is thrown as it is.
 */
export async function checkDurability(client: Redis, strict: boolean, log: Logger): Promise<void> {
  const problems = await inspect(client);
  if (problems.length === 0) {
    log.debug('redis keeps acknowledged writes: appendonly yes, appendfsync always, no eviction');
    return;
  }
  if (strict) {
    throw new PersistenceError(
      'STORE_MISCONFIGURED',
      `${problems.join('; ')} (strict mode refuses this; set strict: false to accept the risk)`,
    );
  }
  for (const problem of problems) log.warn(problem);
}

async function inspect(client: Redis): Promise<string[]> {
  const settings = new Map<string, string>();
  try {
    // One parameter per call: CONFIG GET takes several only from Redis 7.
    for (const name of ['appendonly', 'appendfsync', 'maxmemory-policy']) {
      const value = configValue(await client.config('GET', name), name);
      if (value !== null) settings.set(name, value);
    }
  } catch (error) {
    const kind = replyErrorKind(error);
    if (kind === null) throw error;
    return [
      `could not check that Redis keeps acknowledged writes: CONFIG GET was refused (${kind}); ` +
        'make sure it runs with appendonly yes, appendfsync always and maxmemory-policy noeviction',
    ];
  }
  const appendonly = settings.get('appendonly') ?? '(unknown)';
  const appendfsync = settings.get('appendfsync') ?? '(unknown)';
  const policy = settings.get('maxmemory-policy') ?? '(unknown)';
  const problems: string[] = [];
  if (appendonly !== 'yes') {
    problems.push(
      `Redis runs with appendonly ${appendonly}: acknowledged journal writes would be lost when ` +
        'Redis restarts; set appendonly yes and appendfsync always',
    );
  } else if (appendfsync !== 'always') {
    const lost = appendfsync === 'everysec' ? 'up to about 1 s' : 'whatever the OS had not flushed';
    problems.push(
      `Redis runs with appendfsync ${appendfsync}: ${lost} of acknowledged journal writes can be ` +
        'lost on a power failure or kernel crash; set appendfsync always for no acknowledged loss',
    );
  }
  if (!policy.startsWith('noeviction') && !policy.startsWith('volatile-')) {
    problems.push(
      `Redis runs with maxmemory-policy ${policy}: under memory pressure it would evict journal ` +
        'entries and snapshots; set maxmemory-policy noeviction',
    );
  }
  return problems;
}

/** CONFIG GET replies `[name, value]` (RESP2, and RESP3 with ioredis's legacy reply mapping). */
function configValue(reply: unknown, name: string): string | null {
  if (!Array.isArray(reply)) return null;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const key: unknown = reply[i];
    const value: unknown = reply[i + 1];
    if (key === name && typeof value === 'string') return value.toLowerCase();
  }
  return null;
}
