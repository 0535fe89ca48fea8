import { pino } from 'pino';
import type { Config } from './schema.ts';

/**
 * The service's root logger. Pipes and files get one JSON object per line, for a log shipper;
 * a terminal gets readable lines (pino-pretty, in pino's transport thread), so that a person
 * running `npm start` reads what happens. Below the configured level, calls are no-ops.
 * Components take child loggers from it once, at construction, not per message.
 *
 * `destination` (tests) always gets JSON; `pretty` defaults to whether stdout is a terminal.
 */
export function createLogger(
  log: Config['log'],
  destination?: pino.DestinationStream,
  pretty: boolean = destination === undefined && process.stdout.isTTY,
): pino.Logger {
  const base: pino.LoggerOptions = {
    level: log.level,
    base: { service: 'stockflow' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: {
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,service',
          destination: 1,
        },
      },
    });
  }
  const options: pino.LoggerOptions = {
    ...base,
    // Level names instead of numbers: dashboards and log queries read "warn", not 40.
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
