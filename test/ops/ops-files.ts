import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The repository root, for reading deploy/ and docs/ files. */
export const ROOT = join(import.meta.dirname, '..', '..');

export function readText(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

export function readYaml(path: string): unknown {
  return parse(readText(path)) as unknown;
}

/**
 * The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces
 * as hyphens.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of markdown.split('\n')) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (m === null) continue;
    const anchor = (m[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    anchors.add(anchor);
  }
  return anchors;
}
