import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotParser } from '../../gateway/snapshot-ingest.ts';

// Unit tests of the incremental snapshot parser (an internal module, tested directly).
function parse(format: 'ndjson' | 'csv', chunks: Uint8Array[]): SnapshotParser {
  const p = new SnapshotParser(format);
  for (const c of chunks) p.push(c);
  p.end();
  return p;
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.slice(last, p));
    last = p;
  }
  out.push(bytes.slice(last));
  return out;
}

const sku = fc
  .stringMatching(/^[A-Za-z0-9\-_.,"]{1,20}$/)
  .filter((s) => Buffer.byteLength(s) <= 128);
const stock = fc.uniqueArray(fc.tuple(sku, fc.nat({ max: 1_000_000 })), {
  selector: ([s]) => s,
  maxLength: 30,
});

function csvField(s: string): string {
  return s.includes('"') || s.includes(',') ? `"${s.replace(/"/g, '""')}"` : s;
}

describe('SnapshotParser', () => {
  it('gives the same lines however the body is split into chunks (NDJSON and CSV)', () => {
    fc.assert(
      fc.property(
        stock,
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (rows, cuts, crlf) => {
          const eol = crlf ? '\r\n' : '\n';
          const ndjson = rows.map(([s, n]) => JSON.stringify({ sku: s, onHand: n })).join(eol);
          const csv =
            ['sku,onHand', ...rows.map(([s, n]) => `${csvField(s)},${n}`)].join(eol) + eol;
          for (const [format, text] of [
            ['ndjson', ndjson],
            ['csv', csv],
          ] as const) {
            const p = parse(format, split(Buffer.from(text), cuts));
            expect(p.error).toBeNull();
            expect(p.lines.map((l) => [l.sku, l.onHand])).toEqual(rows);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stops at the first bad line, naming it', () => {
    const bad = parse('csv', [Buffer.from('sku,onHand\na,1\nb,x\nc,3\n')]);
    expect(bad.error).toMatch(/^line 3: onHand/);
    expect(parse('csv', [Buffer.from('sku;onHand\n')]).error).toMatch(/^line 1:/);
    expect(parse('csv', [Buffer.from('')]).error).toMatch(/header/);
    expect(
      parse('ndjson', [Buffer.from('{"sku":"a","onHand":1}\n{"sku":"a","onHand":2}')]).error,
    ).toMatch(/line 2: sku a is listed twice/);
    expect(parse('ndjson', [Buffer.from('{"sku":"a:b","onHand":1}')]).error).toMatch(/line 1: sku/);
    expect(parse('ndjson', [Buffer.from('{"sku":"a","onHand":1.5}')]).error).toMatch(
      /line 1: onHand/,
    );
    expect(parse('ndjson', [Buffer.from('[1]')]).error).toMatch(/line 1: not a JSON object/);
    expect(parse('ndjson', [Uint8Array.from([0x7b, 0xff, 0x7d])]).error).toMatch(/UTF-8/);
    expect(parse('ndjson', [Buffer.from('x'.repeat(5_000))]).error).toMatch(/longer than/);
  });

  it('reads quoted CSV SKUs and SKUs with commas', () => {
    const p = parse('csv', [Buffer.from('sku,onHand\n"a,""b",4\nc,d,5\n')]);
    expect(p.lines.map((l) => [l.sku, l.onHand])).toEqual([
      ['a,"b', 4],
      ['c,d', 5],
    ]);
  });
});
