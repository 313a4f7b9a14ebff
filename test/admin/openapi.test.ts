// /openapi.json: generated from the zod schemas, covers every admin and client path, and is valid JSON of OpenAPI 3.1.
import { Hono } from 'hono';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, createOpenApiRoute } from '../../src/http/openapi.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security: unknown[]; requestBody?: unknown; parameters?: { name: string; in: string }[] }>>;
  components: { schemas: Record<string, unknown> };
};

const adminRoutes: [string, string][] = [
  ['post', '/admin/tenants'],
  ['get', '/admin/tenants'],
  ['get', '/admin/tenants/{id}'],
  ['patch', '/admin/tenants/{id}'],
  ['delete', '/admin/tenants/{id}'],
  ['post', '/admin/tenants/{id}/keys'],
  ['get', '/admin/tenants/{id}/keys'],
  ['delete', '/admin/keys/{id}'],
  ['get', '/admin/tenants/{id}/policy'],
  ['put', '/admin/tenants/{id}/policy'],
  ['get', '/admin/spend'],
];
const clientRoutes: [string, string][] = [
  ['post', '/v1/chat/completions'],
  ['post', '/v1/embeddings'],
  ['get', '/v1/models'],
  ['get', '/v1/spend'],
  ['post', '/v1/route/explain'],
  ['post', '/v1/responses'],
  ['get', '/v1/responses/{id}'],
  ['delete', '/v1/responses/{id}'],
  ['get', '/v1/models/{id}'],
];

async function served(): Promise<{ text: string; type: string | null }> {
  const app = new Hono();
  app.route('/', createOpenApiRoute());
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  return { text: await res.text(), type: res.headers.get('content-type') };
}

describe('openapi document', () => {
  it('is served as JSON and parses', async () => {
    const { text, type } = await served();
    expect(type).toContain('application/json');
    const doc = JSON.parse(text) as Doc;
    expect(doc.openapi).toBe('3.1.0');
  });

  it('documents every admin and client operation with its security scheme', async () => {
    const doc = JSON.parse((await served()).text) as Doc;
    for (const [method, path] of [...adminRoutes, ...clientRoutes]) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      expect(op.security).toEqual([path.startsWith('/admin') ? { adminToken: [] } : { virtualKey: [] }]);
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        expect(op.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name)).toBe(true);
      }
    }
  });

  it('resolves every $ref to a component', () => {
    const doc = buildOpenApiDocument() as unknown as Doc;
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(10);
    for (const r of refs) expect(doc.components.schemas[r], r).toBeDefined();
    expect(JSON.stringify(doc)).not.toContain('#/$defs/');
  });

  it('carries the validation rules of the zod schemas (one source of truth)', () => {
    const doc = buildOpenApiDocument() as unknown as Doc & { components: { schemas: Record<string, { properties: Record<string, { enum?: string[]; additionalProperties?: { properties?: Record<string, { enum?: string[] }> } }>; required?: string[] }> } };
    const policy = doc.components.schemas.PolicyInput;
    expect(policy.properties.routes.additionalProperties?.properties?.strategy.enum).toEqual(['cheapest', 'best_quality', 'best_value']);
    expect(doc.components.schemas.CreateTenant.required).toEqual(['name']);
    expect(doc.components.schemas.ChatRequest.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(doc.components.schemas.ResponsesRequest.required).toEqual(expect.arrayContaining(['model']));
    const spendParams = doc.paths['/admin/spend'].get.parameters?.map((p) => p.name);
    expect(spendParams).toEqual(['from', 'to', 'tenant', 'group_by', 'format']);
  });

  it('adds an endpoint with one entry', () => {
    const doc = buildOpenApiDocument([
      { method: 'get', path: '/v1/things/:thing', summary: 'x', tag: 'client', auth: 'key', responses: { 200: { description: 'ok', schema: z.object({ a: z.string() }), name: 'Thing' } } },
    ]) as unknown as Doc;
    expect(doc.paths['/v1/things/{thing}'].get.parameters).toEqual([{ name: 'thing', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(doc.components.schemas.Thing).toMatchObject({ type: 'object', required: ['a'] });
  });
});
