import { describe, expect, it } from 'vitest';
import { createLogger } from '../../config/index.ts';

/** A destination that keeps the lines pino writes (pino writes synchronously to it). */
function capture(): { lines: Record<string, unknown>[]; write: (line: string) => void } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write: (line) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('createLogger', () => {
  it('writes one JSON object per line with the service, level name and ISO time', () => {
    const out = capture();
    const log = createLogger({ level: 'info' }, out);
    log.info({ sku: 'A' }, 'stock set');
    expect(out.lines).toHaveLength(1);
    const [line] = out.lines;
    expect(line).toMatchObject({ level: 'info', service: 'stockflow', sku: 'A', msg: 'stock set' });
    expect(new Date(line?.time as string).toISOString()).toBe(line?.time);
  });

  it('drops what is below the configured level', () => {
    const out = capture();
    const log = createLogger({ level: 'warn' }, out);
    log.info('not written');
    log.debug('not written');
    log.warn('written');
    expect(out.lines.map((l) => l.msg)).toEqual(['written']);
    expect(log.isLevelEnabled('info')).toBe(false);
  });

  it('writes nothing when silent', () => {
    const out = capture();
    createLogger({ level: 'silent' }, out).fatal('not written');
    expect(out.lines).toEqual([]);
  });
});
