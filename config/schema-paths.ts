import type { core } from 'zod';

/**
 * Reads the shape of the config schema, so that environment variable names, "expected one of"
 * hints and the documentation check all follow the schema instead of a second list of keys.
 */

export const ENV_PREFIX = 'STOCKFLOW_';
export const ENV_SEPARATOR = '__';

/** What a schema node holds once defaults, optional and nullable wrappers are looked through. */
function unwrap(schema: core.$ZodType): core.$ZodTypes {
  let node = schema as core.$ZodTypes;
  for (;;) {
    const def = node._zod.def;
    switch (def.type) {
      case 'default':
      case 'prefault':
      case 'optional':
      case 'nullable':
        node = def.innerType as core.$ZodTypes;
        break;
      default:
        return node;
    }
  }
}

function childOf(node: core.$ZodTypes, segment: string): core.$ZodTypes | undefined {
  const def = node._zod.def;
  if (def.type === 'object') {
    const child = Object.hasOwn(def.shape, segment) ? def.shape[segment] : undefined;
    return child === undefined ? undefined : unwrap(child);
  }
  if (def.type === 'array' && /^\d+$/.test(segment)) return unwrap(def.element);
  return undefined;
}

function keysOf(node: core.$ZodTypes): readonly string[] {
  const def = node._zod.def;
  return def.type === 'object' ? Object.keys(def.shape) : [];
}

/** The keys the schema allows in the object at `path` (array indices as numbers or digits). */
export function keysAt(schema: core.$ZodType, path: readonly PropertyKey[]): readonly string[] {
  let node: core.$ZodTypes | undefined = unwrap(schema);
  for (const segment of path) {
    node = node === undefined ? undefined : childOf(node, String(segment));
  }
  return node === undefined ? [] : keysOf(node);
}

/** `maxQueuedPerSku` and `MAX_QUEUED_PER_SKU` meet as `maxqueuedpersku`. */
function folded(key: string): string {
  return key.replaceAll('_', '').toLowerCase();
}

export function envSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function envVariable(path: readonly string[]): string {
  return ENV_PREFIX + path.map(envSegment).join(ENV_SEPARATOR);
}

export type EnvTarget =
  | { readonly ok: true; readonly path: readonly string[]; readonly textual: boolean }
  | { readonly ok: false; readonly path: readonly string[]; readonly expected: readonly string[] };

/**
 * Maps the segments of an environment variable name (after the prefix, split on `__`) to a
 * setting. `textual` tells that the setting holds text, so the value is taken as it is written
 * (a host `1e3` or an API key of digits must not turn into a number).
 */
export function envTarget(schema: core.$ZodType, segments: readonly string[]): EnvTarget {
  let node = unwrap(schema);
  const path: string[] = [];
  for (const segment of segments) {
    const keys = keysOf(node);
    const key = keys.find((k) => folded(k) === folded(segment));
    if (key === undefined || segment === '') {
      return { ok: false, path: [...path, segment.toLowerCase()], expected: keys };
    }
    path.push(key);
    node = childOf(node, key) ?? node;
  }
  if (path.length === 0) return { ok: false, path, expected: keysOf(node) };
  const type = node._zod.def.type;
  return { ok: true, path, textual: type === 'string' || type === 'enum' };
}

/** Every setting that has an environment variable: the leaves of nested objects. */
export function settingPaths(schema: core.$ZodType): readonly (readonly string[])[] {
  const out: string[][] = [];
  const visit = (node: core.$ZodTypes, path: string[]): void => {
    const keys = keysOf(node);
    if (keys.length === 0 && path.length > 0) {
      out.push(path);
      return;
    }
    for (const key of keys) {
      const child = childOf(node, key);
      if (child !== undefined) visit(child, [...path, key]);
    }
  };
  visit(unwrap(schema), []);
  return out;
}
