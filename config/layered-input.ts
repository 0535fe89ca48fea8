type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// defineProperty, not assignment: a JSON key "__proto__" must stay a key (and be refused as
// unknown), never become the object's prototype.
function put(target: Plain, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function own(target: Plain, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/**
 * The raw settings before validation: each layer (file, then environment) merged over the one
 * before, remembering which layer set which path, so that an error can say where a bad value came
 * from. Objects merge key by key; anything else (numbers, strings, arrays) replaces.
 */
export class LayeredInput {
  private root: unknown = {};
  /** Dotted path -> the layer that last set it; a path absent here was left to its default. */
  private readonly sources = new Map<string, string>();

  get value(): unknown {
    return this.root;
  }

  apply(path: readonly string[], value: unknown, source: string): void {
    this.root = this.applyAt(this.root, path, 0, value, source);
  }

  /** The layer that set the value at `path`, or an enclosing one; 'default' when none did. */
  sourceOf(path: readonly PropertyKey[]): string {
    for (let depth = path.length; depth >= 0; depth--) {
      const source = this.sources.get(path.slice(0, depth).map(String).join('.'));
      if (source !== undefined) return source;
    }
    return 'default';
  }

  valueAt(path: readonly PropertyKey[]): unknown {
    let node = this.root;
    for (const segment of path) {
      const key = String(segment);
      if (Array.isArray(node))
        node = /^\d+$/.test(key) ? (node as unknown[])[Number(key)] : undefined;
      else if (isPlain(node)) node = own(node, key);
      else return undefined;
    }
    return node;
  }

  private applyAt(
    target: unknown,
    path: readonly string[],
    depth: number,
    value: unknown,
    source: string,
  ): unknown {
    const here = path.slice(0, depth);
    if (depth === path.length) return this.merge(target, value, here, source);
    const key = path[depth] as string;
    const object = isPlain(target) ? target : this.fresh(here, source);
    put(object, key, this.applyAt(own(object, key), path, depth + 1, value, source));
    return object;
  }

  private merge(target: unknown, value: unknown, path: readonly string[], source: string): unknown {
    if (!isPlain(value)) {
      this.sources.set(path.join('.'), source);
      return value;
    }
    const object = isPlain(target) ? target : this.fresh(path, source);
    for (const [key, child] of Object.entries(value)) {
      put(object, key, this.merge(own(object, key), child, [...path, key], source));
    }
    return object;
  }

  /** A new object at `path`, owned by `source` unless an earlier layer already claimed the path. */
  private fresh(path: readonly string[], source: string): Plain {
    const key = path.join('.');
    if (!this.sources.has(key)) this.sources.set(key, source);
    return {};
  }
}
