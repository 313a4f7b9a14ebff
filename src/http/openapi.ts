// OpenAPI 3.1 document of the client and admin APIs, generated from the same zod schemas that validate requests.
import { Hono } from 'hono';
import { z } from 'zod';
import { chatRequestSchema, embeddingRequestSchema } from '../api/openai.js';
import { responsesRequestSchema } from '../responses/schema.js';
import { policySchema } from '../routing/policy.js';
import {
  apiKeySchema,
  createdKeySchema,
  createKeyBodySchema,
  createTenantBodySchema,
  deletedSchema,
  errorBodySchema,
  keyListSchema,
  patchTenantBodySchema,
  spendQuerySchema,
  spendReportSchema,
  tenantListSchema,
  tenantSchema,
} from './admin/schemas.js';
import { openApiFromOperations, type OperationSpec, type ResponseSpec } from './openapi-build.js';

export type { OperationSpec, ResponseSpec } from './openapi-build.js';


const looseList = (item: z.ZodType) => z.looseObject({ object: z.literal('list'), data: z.array(item) });

/** Response shapes of the client API (typed in src/api/openai.ts, not validated there): the fields clients rely on. */
const chatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(z.looseObject({ index: z.number().int(), message: z.looseObject({}), finish_reason: z.string().nullable() })),
  usage: z.looseObject({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }),
});
const embeddingResponseSchema = z.looseObject({
  object: z.literal('list'),
  data: z.array(z.looseObject({ object: z.literal('embedding'), index: z.number().int(), embedding: z.unknown() })),
  model: z.string(),
  usage: z.looseObject({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
});
const modelSchema = z.looseObject({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() });
const routeExplainSchema = z.looseObject({ candidates: z.array(z.looseObject({})) });
const responseObjectSchema = z.looseObject({ id: z.string(), object: z.literal('response'), status: z.string(), output: z.array(z.looseObject({})) });

const err = (description: string): ResponseSpec => ({ description, schema: errorBodySchema, name: 'Error' });
const keyErrors = { 401: err('Missing or invalid API key'), 403: err('Tenant disabled'), 429: err('Rate limit, budget or auth failures') };
const adminErrors = { 401: err('Missing or invalid admin token') };
const spendResponses: Record<number, ResponseSpec> = {
  200: { description: 'Spend report (JSON, CSV or FOCUS CSV)', schema: spendReportSchema, name: 'SpendReport', contentTypes: ['application/json', 'text/csv'] },
  400: err('Bad query'),
};

export const clientOperations: OperationSpec[] = [
  { method: 'post', path: '/v1/chat/completions', summary: 'Chat completion (stream or not), routed by policy', tag: 'client', auth: 'key',
    body: { schema: chatRequestSchema, name: 'ChatRequest' },
    responses: { 200: { description: 'Completion, or SSE chunks when stream is true', schema: chatCompletionSchema, name: 'ChatCompletion', contentTypes: ['application/json', 'text/event-stream'] }, 400: err('Invalid request'), ...keyErrors } },
  { method: 'post', path: '/v1/embeddings', summary: 'Embeddings', tag: 'client', auth: 'key',
    body: { schema: embeddingRequestSchema, name: 'EmbeddingRequest' },
    responses: { 200: { description: 'Embeddings', schema: embeddingResponseSchema, name: 'EmbeddingResponse' }, 400: err('Invalid request'), ...keyErrors } },
  { method: 'post', path: '/v1/responses', summary: 'Responses API', tag: 'client', auth: 'key',
    body: { schema: responsesRequestSchema, name: 'ResponsesRequest' },
    responses: { 200: { description: 'Response, or SSE events when stream is true', schema: responseObjectSchema, name: 'Response', contentTypes: ['application/json', 'text/event-stream'] }, 400: err('Invalid request'), ...keyErrors } },
  { method: 'get', path: '/v1/responses/:id', summary: 'A stored response of this tenant', tag: 'client', auth: 'key',
    responses: { 200: { description: 'Response', schema: responseObjectSchema, name: 'Response' }, ...keyErrors, 404: err('Unknown id (or another tenant\'s)') } },
  { method: 'delete', path: '/v1/responses/:id', summary: 'Delete a stored response', tag: 'client', auth: 'key',
    responses: { 200: { description: 'Deleted', schema: deletedSchema, name: 'Deleted' }, ...keyErrors, 404: err('Unknown id (or another tenant\'s)') } },
  { method: 'get', path: '/v1/models/:id', summary: 'One model or route alias', tag: 'client', auth: 'key',
    responses: { 200: { description: 'Model', schema: modelSchema, name: 'Model' }, ...keyErrors, 404: err('Unknown model') } },
  { method: 'get', path: '/v1/models', summary: "Models and route aliases this tenant can use", tag: 'client', auth: 'key',
    responses: { 200: { description: 'Model list', schema: looseList(modelSchema), name: 'ModelList' }, ...keyErrors } },
  { method: 'get', path: '/v1/spend', summary: "The caller's own tenant spend", tag: 'client', auth: 'key', query: spendQuerySchema,
    responses: { ...spendResponses, ...keyErrors, 404: err('A tenant other than the caller') } },
  { method: 'post', path: '/v1/route/explain', summary: 'Ranked routing candidates for a chat request, no upstream call', tag: 'client', auth: 'key',
    body: { schema: chatRequestSchema, name: 'ChatRequest' },
    responses: { 200: { description: 'Candidates with estimated cost, quality and why kept or excluded', schema: routeExplainSchema, name: 'RouteExplanation' }, 400: err('Invalid request'), ...keyErrors } },
];

const tenantOk = { description: 'Tenant', schema: tenantSchema, name: 'Tenant' };
const policyOk = { description: 'Current policy (ETag: its version)', schema: policySchema, name: 'Policy' };
const notFound = { 404: err('Unknown id') };

export const adminOperations: OperationSpec[] = [
  { method: 'post', path: '/admin/tenants', summary: 'Create a tenant', tag: 'admin', auth: 'admin', body: { schema: createTenantBodySchema, name: 'CreateTenant' },
    responses: { 201: tenantOk, 400: err('Invalid body (param names the field)'), ...adminErrors } },
  { method: 'get', path: '/admin/tenants', summary: 'List tenants', tag: 'admin', auth: 'admin',
    responses: { 200: { description: 'Tenants', schema: tenantListSchema, name: 'TenantList' }, ...adminErrors } },
  { method: 'get', path: '/admin/tenants/:id', summary: 'Get a tenant (with budget state)', tag: 'admin', auth: 'admin', responses: { 200: tenantOk, ...adminErrors, ...notFound } },
  { method: 'patch', path: '/admin/tenants/:id', summary: 'Rename, disable or enable a tenant', tag: 'admin', auth: 'admin', body: { schema: patchTenantBodySchema, name: 'PatchTenant' },
    responses: { 200: tenantOk, 400: err('Invalid body'), ...adminErrors, ...notFound } },
  { method: 'delete', path: '/admin/tenants/:id', summary: 'Delete a tenant (its ledger rows stay)', tag: 'admin', auth: 'admin',
    responses: { 200: { description: 'Deleted', schema: deletedSchema, name: 'Deleted' }, ...adminErrors, ...notFound } },
  { method: 'get', path: '/admin/tenants/:id/policy', summary: "Get a tenant's policy", tag: 'admin', auth: 'admin', responses: { 200: policyOk, ...adminErrors, ...notFound } },
  { method: 'put', path: '/admin/tenants/:id/policy', summary: 'Replace a tenant\'s policy (new version)', tag: 'admin', auth: 'admin', body: { schema: policySchema, name: 'Policy' },
    responses: { 200: policyOk, 400: err('Invalid policy (param names the field, e.g. routes.auto.strategy)'), ...adminErrors, ...notFound } },
  { method: 'post', path: '/admin/tenants/:id/keys', summary: 'Create a virtual key (the secret is shown once)', tag: 'admin', auth: 'admin', body: { schema: createKeyBodySchema, name: 'CreateKey' },
    responses: { 201: { description: 'The key with its secret', schema: createdKeySchema, name: 'CreatedKey' }, 400: err('Invalid body'), ...adminErrors, ...notFound } },
  { method: 'get', path: '/admin/tenants/:id/keys', summary: "List a tenant's keys (no secrets)", tag: 'admin', auth: 'admin',
    responses: { 200: { description: 'Keys', schema: keyListSchema, name: 'KeyList' }, ...adminErrors, ...notFound } },
  { method: 'delete', path: '/admin/keys/:id', summary: 'Revoke a key', tag: 'admin', auth: 'admin',
    responses: { 200: { description: 'The revoked key', schema: apiKeySchema, name: 'ApiKey' }, ...adminErrors, ...notFound } },
  { method: 'get', path: '/admin/spend', summary: 'Spend of all or one tenant, grouped', tag: 'admin', auth: 'admin', query: spendQuerySchema, responses: { ...spendResponses, ...adminErrors } },
];

export const operationsOperations: OperationSpec[] = [
  { method: 'get', path: '/healthz', summary: 'Process is up', tag: 'operations', auth: 'none', responses: { 200: { description: 'OK' } } },
  { method: 'get', path: '/readyz', summary: 'Database and Redis reachable', tag: 'operations', auth: 'none', responses: { 200: { description: 'Ready' }, 503: err('Not ready') } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'operations', auth: 'none', responses: { 200: { description: 'Prometheus text', contentTypes: ['text/plain'] } } },
  { method: 'get', path: '/openapi.json', summary: 'This document', tag: 'operations', auth: 'none', responses: { 200: { description: 'OpenAPI 3.1' } } },
];

/** The whole document; pass `extra` operations to document endpoints added later. */
export function buildOpenApiDocument(extra: readonly OperationSpec[] = []): Record<string, unknown> {
  return openApiFromOperations([...clientOperations, ...adminOperations, ...operationsOperations, ...extra]);
}

/** GET /openapi.json, built once. Mount with `app.route('/', createOpenApiRoute())`. */
export function createOpenApiRoute(extra: readonly OperationSpec[] = []): Hono {
  const doc = JSON.stringify(buildOpenApiDocument(extra));
  const app = new Hono();
  app.get('/openapi.json', (c) => c.body(doc, 200, { 'content-type': 'application/json; charset=utf-8' }));
  return app;
}
