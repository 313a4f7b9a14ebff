// Builds an OpenAPI 3.1 document from a list of operations whose bodies, queries and responses are zod schemas.
import { z } from 'zod';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type JsonSchema = Record<string, unknown>;
/** Non-enumerable marker of which side (input/output) a component was converted for; never serialised. */
const IO = Symbol('io');

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Named schemas are emitted once under components.schemas and referenced. */
  name?: string;
  /** Default application/json; also text/event-stream, text/csv. */
  contentTypes?: string[];
}

/** One operation; adding an endpoint to the document is one entry in an operations array. */
export interface OperationSpec {
  method: Method;
  /** Hono style: `/admin/tenants/:id`. */
  path: string;
  summary: string;
  tag: 'client' | 'admin' | 'operations';
  auth: 'key' | 'admin' | 'none';
  body?: { schema: z.ZodType; name: string };
  query?: z.ZodObject;
  responses: Record<number, ResponseSpec>;
}

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of a zod schema; `$defs` hoisted into components under a prefix. */
function toSchema(schema: z.ZodType, io: 'input' | 'output', name: string, components: Record<string, JsonSchema>): JsonSchema {
  const raw = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  const { $schema: _drop, $defs, ...rest } = raw;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      const out: JsonSchema = {};
      for (const [k, x] of Object.entries(v)) {
        out[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')
          ? `#/components/schemas/${name}_${x.slice('#/$defs/'.length)}`
          : rewrite(x);
      }
      return out;
    }
    return v;
  };
  if ($defs && typeof $defs === 'object') {
    for (const [k, d] of Object.entries($defs as Record<string, unknown>)) components[`${name}_${k}`] = rewrite(d) as JsonSchema;
  }
  return rewrite(rest) as JsonSchema;
}

function ref(schema: z.ZodType, io: 'input' | 'output', name: string, components: Record<string, JsonSchema>): JsonSchema {
  // The request and response sides of one schema differ (defaults make fields required on output): a name used on
  // both sides gets an `Input` variant for the request side.
  const taken = components[name] as (JsonSchema & { [IO]?: string }) | undefined;
  const key = taken && taken[IO] !== io ? `${name}Input` : name;
  if (!components[key]) {
    const converted: JsonSchema & { [IO]?: string } = toSchema(schema, io, key, components);
    Object.defineProperty(converted, IO, { value: io, enumerable: false });
    components[key] = converted;
  }
  return { $ref: `#/components/schemas/${key}` };
}

function queryParameters(query: z.ZodObject, components: Record<string, JsonSchema>): JsonSchema[] {
  return Object.entries(query.shape).map(([name, field]) => {
    const schema = toSchema(field as z.ZodType, 'input', `q_${name}`, components);
    const param: JsonSchema = { name, in: 'query', required: !(field as z.ZodType).safeParse(undefined).success, schema };
    if (typeof schema.description === 'string') param.description = schema.description;
    return param;
  });
}

function operationObject(op: OperationSpec, components: Record<string, JsonSchema>): JsonSchema {
  const parameters: JsonSchema[] = [...op.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (op.query) parameters.push(...queryParameters(op.query, components));
  const responses: JsonSchema = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const out: JsonSchema = { description: r.description };
    const types = r.contentTypes ?? (r.schema ? ['application/json'] : []);
    if (types.length > 0) {
      const content: JsonSchema = {};
      for (const t of types) {
        content[t] = t === 'application/json' && r.schema
          ? { schema: r.name ? ref(r.schema, 'output', r.name, components) : toSchema(r.schema, 'output', `r_${status}`, components) }
          : { schema: { type: 'string' } };
      }
      out.content = content;
    }
    responses[status] = out;
  }
  const obj: JsonSchema = { summary: op.summary, tags: [op.tag], operationId: operationId(op), responses };
  if (parameters.length > 0) obj.parameters = parameters;
  if (op.body) obj.requestBody = { required: true, content: { 'application/json': { schema: ref(op.body.schema, 'input', op.body.name, components) } } };
  obj.security = op.auth === 'admin' ? [{ adminToken: [] }] : op.auth === 'key' ? [{ virtualKey: [] }] : [];
  return obj;
}

function operationId(op: OperationSpec): string {
  const words = op.path.split(/[/{}:.]+/).filter(Boolean).map((w) => w.replace(/[^A-Za-z0-9]/g, ''));
  return [op.method, ...words.map((w) => w[0].toUpperCase() + w.slice(1))].join('');
}

export function openApiFromOperations(operations: readonly OperationSpec[]): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][op.method] = operationObject(op, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate',
      version: '0.1.0',
      description: 'Cost-aware multi-provider LLM gateway: OpenAI-compatible client API and admin API.',
    },
    tags: [
      { name: 'client', description: 'OpenAI-compatible API, authenticated by a virtual key' },
      { name: 'admin', description: 'Tenants, keys, policies and spend, authenticated by the admin token' },
      { name: 'operations', description: 'Health, readiness, metrics' },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        virtualKey: { type: 'http', scheme: 'bearer', description: 'A tenant virtual key (tg_…)' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'TOLLGATE_ADMIN_TOKEN' },
      },
    },
  };
}
