// Gemini native endpoints: generateContent and streamGenerateContent (SSE with \r\n\r\n on some events), models list.
import { faultFromText, faultName, parseFaultSpec } from './faults.js';
import {
  checkSignatures, geminiCandidateTokens, geminiUsage, lastUserText, prepareGemini, thoughtSignature,
  type GeminiContent, type GeminiPart, type PreparedGemini,
} from './gemini-chat.js';
import { authErrorBody, dropConnection, geminiErrorBody, sendJson, StreamWriter } from './http-out.js';
import { applyFault, type Route, type RouteContext } from './server.js';
import type { Fault, SimRecord } from './types.js';
import { isRecord, sleep } from './util.js';

const PIECES_PER_EVENT = 4;

export function geminiKey(ctx: RouteContext): string | null {
  const h = ctx.req.headers['x-goog-api-key'];
  const key = typeof h === 'string' ? h : ctx.query.get('key');
  if (key === ctx.state.settings.keys.gemini) return key;
  const { status, body } = authErrorBody('gemini');
  sendJson(ctx.res, status, body);
  return null;
}

export function geminiJsonBody(ctx: RouteContext): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(ctx.body.toString('utf8'));
    if (isRecord(v)) return v;
  } catch {
    // answered below
  }
  sendJson(ctx.res, 400, geminiErrorBody(400, 'Invalid JSON payload received. Unexpected token.'));
  return null;
}

/** The catalog entry of a model named in the path, or a 404 like Gemini's. */
export function geminiModel(ctx: RouteContext, kind: 'chat' | 'embedding', method: string): string | null {
  const model = decodeURIComponent(ctx.params[0]);
  if (ctx.state.settings.acceptAnyModel || ctx.state.models.find('gemini', model)?.kind === kind) return model;
  sendJson(ctx.res, 404, geminiErrorBody(404, `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`));
  return null;
}

function signatureSecret(ctx: RouteContext): string {
  return `tollgate-sim-${ctx.state.settings.seed}`;
}

function callParts(p: PreparedGemini, secret: string): GeminiPart[] {
  return p.plan.toolCalls.map((c) => ({ functionCall: { id: c.id, name: c.name, args: c.args }, thoughtSignature: thoughtSignature(secret, c.name, c.args) }));
}

function responseOf(p: PreparedGemini, id: string, parts: GeminiPart[] | null, finish: string | null, usage: ReturnType<typeof geminiUsage>) {
  if (p.blocked) {
    return { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] }, usageMetadata: usage, modelVersion: p.model, responseId: id };
  }
  const candidate: Record<string, unknown> = { index: 0 };
  if (parts) candidate.content = { parts, role: 'model' };
  if (finish) candidate.finishReason = finish;
  return { candidates: [candidate], usageMetadata: usage, modelVersion: p.model, responseId: id };
}

function fullResponse(p: PreparedGemini, id: string, secret: string) {
  const { plan } = p;
  const parts: GeminiPart[] = [];
  if (p.showThoughts && plan.reasoningPieces.length > 0) parts.push({ text: plan.reasoningPieces.join(''), thought: true });
  if (p.withContent) {
    if (plan.toolCalls.length > 0) parts.push(...callParts(p, secret));
    else if (plan.text.length > 0) parts.push({ text: plan.text });
  }
  return responseOf(p, id, parts.length > 0 ? parts : null, p.finishReason, geminiUsage(p, geminiCandidateTokens(p), plan.reasoningTokens));
}

interface GeminiEvent {
  data: string;
  candidates: number;
  thoughts: number;
}

/** Stream events: thoughts and text grouped a few pieces per event, usage running, finishReason on the last. */
function streamEvents(p: PreparedGemini, id: string, secret: string): GeminiEvent[] {
  const { plan } = p;
  const groups: Array<{ parts: GeminiPart[]; candidates: number; thoughts: number }> = [];
  const group = (pieces: string[], counts: number[], thought: boolean) => {
    for (let i = 0; i < pieces.length; i += PIECES_PER_EVENT) {
      const text = pieces.slice(i, i + PIECES_PER_EVENT).join('');
      const n = counts.slice(i, i + PIECES_PER_EVENT).reduce((s, x) => s + x, 0);
      groups.push({ parts: thought ? [{ text, thought: true }] : [{ text }], candidates: thought ? 0 : n, thoughts: thought ? n : 0 });
    }
  };
  if (p.showThoughts) group(plan.reasoningPieces, plan.reasoningPieceTokens, true);
  if (p.withContent && !p.blocked) {
    if (plan.toolCalls.length > 0) groups.push({ parts: callParts(p, secret), candidates: plan.toolTokens, thoughts: 0 });
    else group(plan.textPieces, plan.textPieceTokens, false);
  }
  // Hidden thinking happens before the first byte: the first event reports it.
  if (!p.showThoughts && plan.reasoningTokens > 0) {
    if (groups.length === 0) groups.push({ parts: [], candidates: 0, thoughts: 0 });
    groups[0].thoughts += plan.reasoningTokens;
  }
  if (groups.length === 0) groups.push({ parts: [], candidates: 0, thoughts: 0 });
  let cand = 0;
  let thoughts = 0;
  return groups.map((g, i) => {
    cand += g.candidates;
    thoughts += g.thoughts;
    const last = i === groups.length - 1;
    const body = responseOf(p, id, g.parts.length > 0 ? g.parts : null, last ? p.finishReason : null, geminiUsage(p, cand, thoughts));
    return { data: JSON.stringify(body), candidates: g.candidates, thoughts: g.thoughts };
  });
}

async function handleGenerate(ctx: RouteContext, stream: boolean): Promise<void> {
  const { state, res } = ctx;
  const key = geminiKey(ctx);
  if (key === null) return;
  const body = geminiJsonBody(ctx);
  if (!body) return;
  const model = geminiModel(ctx, 'chat', stream ? 'streamGenerateContent' : 'generateContent');
  if (model === null) return;
  const contents = Array.isArray(body.contents) ? (body.contents.filter(isRecord) as GeminiContent[]) : [];
  if (contents.length === 0) return sendJson(res, 400, geminiErrorBody(400, '* GenerateContentRequest.contents: contents is not specified\n'));
  const sigError = checkSignatures(contents, signatureSecret(ctx));
  if (sigError) return sendJson(res, 400, geminiErrorBody(400, sigError));

  const header = ctx.req.headers['x-sim-fault'];
  const userText = lastUserText(contents);
  const fault = state.faults.take('gemini', model) ?? (typeof header === 'string' ? parseFaultSpec(header) : null) ?? faultFromText(userText);
  const base = { id: state.nextId('gem-'), provider: 'gemini' as const, endpoint: 'chat' as const, model, stream };
  if ((await applyFault(ctx, fault, 'gemini', { ...base, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 })) === 'handled') return;

  const p = prepareGemini(state, model, body, contents, key);
  await sleep(state.settings.latencyMs);
  const recordBase = { ...base, promptTokens: p.promptTokens, cachedTokens: p.cachedTokens, fault: fault ? faultName(fault) : null };
  if (stream) return streamGenerate(ctx, p, fault, base.id, recordBase, ctx.query.get('alt') === 'sse');
  if (res.destroyed) return state.record({ ...recordBase, status: 200, completionTokens: 0, reasoningTokens: 0, aborted: true });
  if (fault?.type === 'error_event') {
    sendJson(res, 500, geminiErrorBody(500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'));
    return state.record({ ...recordBase, status: 500, completionTokens: 0, reasoningTokens: 0, aborted: false });
  }
  const text = JSON.stringify(fullResponse(p, base.id, signatureSecret(ctx)));
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  if (fault?.type === 'cut') {
    res.write(text.slice(0, Math.floor(text.length / 2)));
    dropConnection(res);
  } else res.end(text);
  const thoughts = p.plan.reasoningTokens;
  state.record({ ...recordBase, status: 200, completionTokens: geminiCandidateTokens(p) + thoughts, reasoningTokens: thoughts, aborted: false });
}

async function streamGenerate(
  ctx: RouteContext,
  p: PreparedGemini,
  fault: Fault | null,
  id: string,
  recordBase: Omit<SimRecord, 'at' | 'status' | 'aborted' | 'completionTokens' | 'reasoningTokens'>,
  sse: boolean,
): Promise<void> {
  const events = streamEvents(p, id, signatureSecret(ctx));
  const w = new StreamWriter(ctx.res, ctx.state.settings.chunkDelayMs);
  // Without alt=sse Gemini streams one JSON array; the gateway uses SSE, but both are real wire formats.
  w.start(sse ? {} : { 'content-type': 'application/json; charset=UTF-8' });
  await sleep(ctx.state.settings.ttftMs);
  let candidates = 0;
  let thoughts = 0;
  let ended: 'done' | 'cut' | 'error' | 'gone' = 'done';
  for (let i = 0; i < events.length; i++) {
    if (fault?.type === 'cut' && w.chunks >= fault.afterChunks) {
      ended = 'cut';
      break;
    }
    if (fault?.type === 'error_event' && w.chunks >= fault.afterChunks) {
      await w.event(JSON.stringify(geminiErrorBody(500, 'An internal error has occurred (simulated).')), '\r\n\r\n');
      ended = 'error';
      break;
    }
    // Alternate separators so that parsers handle both \n\n and \r\n\r\n.
    const ok = sse ? await w.event(events[i].data, i % 2 === 1 ? '\r\n\r\n' : '\n\n') : await w.raw(`${i === 0 ? '[' : ',\r\n'}${events[i].data}`);
    if (!sse) w.chunks += 1;
    if (!ok) {
      ended = 'gone';
      break;
    }
    candidates += events[i].candidates;
    thoughts += events[i].thoughts;
  }
  if (!sse && ended === 'done') await w.raw(']');
  if (ended === 'cut') w.destroy();
  else w.end();
  ctx.state.record({ ...recordBase, status: 200, completionTokens: candidates + thoughts, reasoningTokens: thoughts, aborted: ended === 'gone' });
}

function listModels(ctx: RouteContext): void {
  if (geminiKey(ctx) === null) return;
  const models = ctx.state.models.list('gemini').map((m) => ({
    name: `models/${m.upstream_id ?? m.id}`,
    displayName: m.id,
    inputTokenLimit: m.capabilities.context_window,
    outputTokenLimit: m.capabilities.max_output,
    supportedGenerationMethods: m.kind === 'embedding' ? ['embedContent', 'batchEmbedContents'] : ['generateContent', 'countTokens'],
  }));
  sendJson(ctx.res, 200, { models });
}

export const geminiChatRoutes: Route[] = [
  { method: 'POST', path: /^\/gemini\/v1beta\/models\/([^/:]+):generateContent$/, handler: (ctx) => handleGenerate(ctx, false) },
  { method: 'POST', path: /^\/gemini\/v1beta\/models\/([^/:]+):streamGenerateContent$/, handler: (ctx) => handleGenerate(ctx, true) },
  { method: 'GET', path: /^\/gemini\/v1beta\/models$/, handler: listModels },
];
