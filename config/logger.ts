import { pino } from 'pino';
import type { Config } from './schema.ts';

/**
 * The service's root logger: one JSON object per line, for a log shipper rather than a terminal
 * (pipe through pino-pretty to read it by eye). Below the configured level, calls are no-ops.
 * Components take child loggers from it once, at construction, not per message.
 */
export function createLogger(
  log: Config['log'],
  destination?: pino.DestinationStream,
): pino.Logger {
  const options: pino.LoggerOptions = {
    level: log.level,
    base: { service: 'stockflow' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names instead of numbers: dashboards and log queries read "warn", not 40.
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
