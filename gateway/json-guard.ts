import type { GuardLimits, GuardVerdict } from './msgpack-guard.ts';

/**
 * The JSON counterpart of MsgpackGuard. Before parsing: one pass over the bytes that bounds
 * nesting depth and entries per container (commas outside strings). After parsing: a walk that
 * refuses `__proto__`, `constructor` and `prototype` keys. The walk runs after JSON.parse
 * because escapes (`"\u005f_proto__"`) hide a key from a byte scan; JSON.parse itself defines
 * such keys as own properties and pollutes nothing, but nothing downstream should ever see one.
 */
export class JsonGuard {
  private readonly counts: Uint32Array;

  constructor(private readonly limits: GuardLimits) {
    this.counts = new Uint32Array(limits.maxDepth + 1);
  }

  /** The byte pass over a UTF-8 frame. */
  scan(buf: Uint8Array): GuardVerdict {
    const { maxDepth, maxEntries } = this.limits;
    const counts = this.counts;
    let depth = 0;
    let inString = false;
    let escaped = false;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === 0x5c) escaped = true;
        else if (b === 0x22) inString = false;
        continue;
      }
      switch (b) {
        case 0x22:
          inString = true;
          break;
        case 0x7b:
        case 0x5b:
          if (depth >= maxDepth) return 'too_deep';
          counts[depth] = 0;
          depth++;
          break;
        case 0x7d:
        case 0x5d:
          if (depth > 0) depth--;
          break;
        case 0x2c:
          if (depth > 0) {
            const n = (counts[depth - 1] ?? 0) + 1;
            if (n >= maxEntries) return 'too_many_entries';
            counts[depth - 1] = n;
          }
          break;
        default:
          break;
      }
    }
    return null;
  }

  /** The walk over a parsed value: true when it holds a forbidden key anywhere. */
  hasForbiddenKey(value: unknown): boolean {
    return forbidden(value, 0, this.limits.maxDepth);
  }
}

function forbidden(value: unknown, depth: number, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth > maxDepth) return true;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      if (forbidden(item, depth + 1, maxDepth)) return true;
    }
    return false;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return true;
    if (forbidden((value as Record<string, unknown>)[key], depth + 1, maxDepth)) return true;
  }
  return false;
}
