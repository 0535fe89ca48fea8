import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, Reason } from '../../engine/index.ts';
import { httpStatusOf } from '../../gateway/http-exchange.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API = readFileSync(`${ROOT}docs/api.md`, 'utf8');

function cells(line: string): string[] {
  return line
    .slice(1, -1)
    .split('|')
    .map((cell) => cell.trim().replaceAll('`', ''));
}

/** The text of a `##` section, up to the next one. */
function section(title: string): string {
  const start = API.indexOf(`\n## ${title}\n`);
  expect(start, `docs/api.md has a section "${title}"`).toBeGreaterThan(0);
  const end = API.indexOf('\n## ', start + 1);
  return API.slice(start, end === -1 ? undefined : end);
}

/** The rows of the Markdown table in `text` whose header's first cell is `first`, by that cell. */
function table(text: string, first: string): Map<string, string[]> {
  const lines = text.split('\n').map((line) => line.trim());
  const head = lines.findIndex((line) => line.startsWith('|') && cells(line)[0] === first);
  expect(head, `a table headed "${first}"`).toBeGreaterThanOrEqual(0);
  const out = new Map<string, string[]>();
  // The header, its rule, then rows up to the first line that is not part of the table.
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const row = cells(line);
    out.set(row[0] ?? '', row);
  }
  return out;
}

/** Every TypeScript source file that runs in the server. */
function sources(): { file: string; text: string }[] {
  return ['engine', 'orders', 'gateway', 'persistence', 'config'].flatMap((dir) =>
    readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(`${ROOT}${dir}/${f}`, 'utf8') })),
  );
}

describe('docs/api.md lists everything that goes on the wire', () => {
  it('documents every error code with the HTTP status the gateway answers it with', () => {
    const codes = table(section('Errors'), 'code');
    for (const code of ERROR_CODES) {
      expect(codes.get(code)?.[1], `docs/api.md, Errors: ${code}`).toBe(String(httpStatusOf(code)));
    }
    expect([...codes.keys()].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('documents every reason, under a code that exists, and no reason that does not', () => {
    const reasons = table(section('Errors'), 'reason');
    const all: string[] = Object.values(Reason);
    for (const reason of all) {
      const row = reasons.get(reason);
      expect(row, `docs/api.md, Errors: reason ${reason}`).toBeDefined();
      expect(ERROR_CODES).toContain(row?.[1]);
    }
    expect([...reasons.keys()].sort()).toEqual([...all].sort());
  });

  it('names no reason in the source that engine/errors.ts does not define', () => {
    // A reason written as a string literal would bypass the table above.
    const known = new Set<string>(Object.values(Reason));
    for (const { file, text } of sources()) {
      for (const m of text.matchAll(/\breason:\s*'([A-Z][A-Z_]+)'/g)) {
        expect(known.has(m[1] ?? ''), `${file}: reason '${m[1]}'`).toBe(true);
      }
      for (const m of text.matchAll(/\bReason\.([A-Z_]+)\b/g)) {
        expect(known.has(m[1] ?? ''), `${file}: Reason.${m[1]}`).toBe(true);
      }
    }
  });

  it('documents every WebSocket close code the gateway sends', () => {
    const documented = table(section('WebSocket `/v1/ws`'), 'close code');
    const sent = new Set<string>();
    for (const { text } of sources()) {
      for (const m of text.matchAll(/(?:\.end\(|endAll\(|CLOSE_[A-Z_]+ = )(\d{4})\b/g)) {
        sent.add(m[1] ?? '');
      }
    }
    expect(sent.size).toBeGreaterThanOrEqual(2);
    for (const code of sent) expect(documented.has(code), `close code ${code}`).toBe(true);
  });
});
