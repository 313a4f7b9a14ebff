// The OpenAI-compatible client API under /v1: thin routes (validate → call the gateway domain → respond).
import { Hono } from 'hono';
import { chatRequestSchema, embeddingRequestSchema } from '../api/openai.js';
import { chatRequestFast } from '../api/chat-fast.js';
import { GatewayError } from '../errors.js';
import { estimatePromptTokens } from '../metering/tokens.js';
import { explainRoute } from '../routing/explain.js';
import { needsOf } from '../routing/needs.js';
import { handleChat } from '../gateway/chat.js';
import { handleEmbeddings } from '../gateway/embeddings.js';
import { plan } from '../gateway/admission.js';
import { listModels } from '../gateway/models.js';
import type { GatewayDeps } from '../gateway/deps.js';
import { readJson } from './body.js';
import { clientSignalOf } from './client-signal.js';
import { createResponsesRoutes } from './responses-routes.js';
import { outgoingOf, servedAnswer, type AppEnv } from './context.js';

export function createV1Routes(deps: GatewayDeps): Hono<AppEnv> {
  const v1 = new Hono<AppEnv>();
  const limit = deps.config.file.server.body_limit_bytes;
  const maxMessages = deps.config.file.server.max_messages;

  v1.post('/chat/completions', async (c) => {
    const req = await readJson(c, chatRequestSchema, limit, chatRequestFast);
    if (req.messages.length > maxMessages) {
      throw new GatewayError('invalid_request', `Too many messages: ${req.messages.length} (the limit is ${maxMessages}).`, { param: 'messages' });
    }
    return servedAnswer(c, await handleChat(deps, {
      req,
      auth: c.get('auth'),
      requestId: c.get('requestId'),
      t0: c.get('t0'),
      clientSignal: clientSignalOf(c),
      cacheHeader: c.req.header('x-tollgate-cache') ?? null,
      out: outgoingOf(c),
    }));
  });

  v1.post('/embeddings', async (c) => {
    const req = await readJson(c, embeddingRequestSchema, limit);
    return servedAnswer(c, await handleEmbeddings(deps, { req, auth: c.get('auth'), requestId: c.get('requestId'), t0: c.get('t0'), clientSignal: clientSignalOf(c) }));
  });

  v1.get('/models', (c) => c.json(listModels(deps, c.get('auth'), deps.clock())));

  v1.get('/models/:id{.+}', (c) => {
    const m = listModels(deps, c.get('auth'), deps.clock()).data.find((x) => x.id === c.req.param('id'));
    if (!m) throw new GatewayError('model_not_found', `The model '${c.req.param('id')}' does not exist or you do not have access to it.`, { param: 'model' });
    return c.json(m);
  });

  v1.post('/route/explain', async (c) => {
    const req = await readJson(c, chatRequestSchema, limit, chatRequestFast);
    const auth = c.get('auth');
    const now = deps.clock();
    const needs = needsOf(req, estimatePromptTokens(req, deps.config.catalog.exactCountFrom));
    return c.json(explainRoute(plan(deps, auth, req.model, needs, now, 'chat')));
  });

  v1.route('/', createResponsesRoutes(deps));

  return v1;
}
