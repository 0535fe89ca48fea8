import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readYaml } from './ops-files.ts';

/** ajv-formats is CommonJS: its default export is the plugin function. */
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;
export type Method = (typeof METHODS)[number];

interface MediaType {
  schema?: unknown;
}
interface Response {
  $ref?: string;
  description: string;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, Response>;
}
type PathItem = Partial<Record<Method, Operation>>;
interface Spec {
  openapi: string;
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, unknown>; responses: Record<string, Response> };
}

const SPEC_ID = 'stockflow-openapi';

/** `#/components/schemas/X` becomes a reference into the schema registered under SPEC_ID. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
        ? `${SPEC_ID}#/$defs/${v.slice('#/components/schemas/'.length)}`
        : rewriteRefs(v);
  }
  return out;
}

/**
 * docs/openapi.yaml, read once, with its schemas compiled by Ajv in the JSON Schema 2020-12
 * dialect (OpenAPI 3.1's own) and ajv-formats for `date-time`.
 */
export class OpenApiSpec {
  readonly spec: Spec;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<unknown, ValidateFunction>();

  constructor(path = 'docs/openapi.yaml') {
    this.spec = readYaml(path) as Spec;
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: SPEC_ID, $defs: rewriteRefs(this.spec.components.schemas) });
  }

  /** Every operation: method, path template and operation. */
  operations(): { method: Method; path: string; op: Operation }[] {
    return Object.entries(this.spec.paths).flatMap(([path, item]) =>
      METHODS.flatMap((method) => {
        const op = item[method];
        return op === undefined ? [] : [{ method, path, op }];
      }),
    );
  }

  /** The path template a concrete path matches (`/v1/orders/o-1` → `/v1/orders/{id}`). */
  template(path: string): string | null {
    const parts = path.split('/');
    for (const template of Object.keys(this.spec.paths)) {
      const t = template.split('/');
      if (t.length !== parts.length) continue;
      if (t.every((seg, i) => /^\{\w+\}$/.test(seg) || seg === parts[i])) return template;
    }
    return null;
  }

  operation(method: Method, template: string): Operation | null {
    return this.spec.paths[template]?.[method] ?? null;
  }

  /** The documented response for a status, with a component reference followed. */
  response(op: Operation, status: number): Response | null {
    const r = op.responses[String(status)] ?? op.responses.default;
    if (r === undefined) return null;
    if (r.$ref === undefined) return r;
    const name = r.$ref.replace('#/components/responses/', '');
    return this.spec.components.responses[name] ?? null;
  }

  validator(schema: unknown): ValidateFunction {
    let v = this.compiled.get(schema);
    if (v === undefined) {
      v = this.ajv.compile(rewriteRefs(schema) as object);
      this.compiled.set(schema, v);
    }
    return v;
  }

  /** Null when `value` matches `schema`, else Ajv's errors as text. */
  check(schema: unknown, value: unknown): string | null {
    const v = this.validator(schema);
    return v(value) ? null : this.ajv.errorsText(v.errors, { separator: '; ' });
  }
}
