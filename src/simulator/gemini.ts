// Gemini native endpoints: generateContent and streamGenerateContent (SSE with \r\n\r\n on some events), models list.
import { faultFromText, faultName, parseFaultSpec } from './faults.js';
import {
  checkSignatures, geminiOutputTokens, geminiUsage, lastUserText, prepareGemini, thoughtSignature,
  type GeminiCandidate, type GeminiContent, type GeminiPart, type GeminiUsage, type PreparedGemini,
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

function callParts(c: GeminiCandidate, secret: string): GeminiPart[] {
  return c.plan.toolCalls.map((t) => ({ functionCall: { id: t.id, name: t.name, args: t.args }, thoughtSignature: thoughtSignature(secret, t.name, t.args) }));
}

interface CandidateOut {
  index: number;
  parts: GeminiPart[];
  finish: string | null;
}

function responseOf(p: PreparedGemini, id: string, outs: CandidateOut[], usage: GeminiUsage) {
  if (p.blocked) {
    return { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] }, usageMetadata: usage, modelVersion: p.model, responseId: id };
  }
  const candidates = outs.map((o) => {
    const candidate: Record<string, unknown> = { index: o.index };
    if (o.parts.length > 0) candidate.content = { parts: o.parts, role: 'model' };
    if (o.finish) candidate.finishReason = o.finish;
    return candidate;
  });
  return { candidates, usageMetadata: usage, modelVersion: p.model, responseId: id };
}

function fullResponse(p: PreparedGemini, id: string, secret: string) {
  const outs = p.candidates.map((c, index) => {
    const parts: GeminiPart[] = [];
    if (p.showThoughts && c.plan.reasoningPieces.length > 0) parts.push({ text: c.plan.reasoningPieces.join(''), thought: true });
    if (c.withContent) {
      if (c.plan.toolCalls.length > 0) parts.push(...callParts(c, secret));
      else if (c.plan.text.length > 0) parts.push({ text: c.plan.text });
    }
    return { index, parts, finish: c.finishReason };
  });
  const out = geminiOutputTokens(p);
  return responseOf(p, id, outs, geminiUsage(p, out.candidates, out.thoughts));
}

interface GeminiEvent {
  data: string;
  candidates: number;
  thoughts: number;
}

interface EventGroup {
  index: number;
  parts: GeminiPart[];
  candidates: number;
  thoughts: number;
  finish: string | null;
}

/** One candidate's events: thoughts and text a few pieces per event, finishReason on its last event. */
function candidateGroups(p: PreparedGemini, c: GeminiCandidate, index: number, secret: string): EventGroup[] {
  const { plan } = c;
  const groups: EventGroup[] = [];
  const group = (pieces: string[], counts: number[], thought: boolean) => {
    for (let i = 0; i < pieces.length; i += PIECES_PER_EVENT) {
      const text = pieces.slice(i, i + PIECES_PER_EVENT).join('');
      const n = counts.slice(i, i + PIECES_PER_EVENT).reduce((s, x) => s + x, 0);
      groups.push({ index, parts: thought ? [{ text, thought: true }] : [{ text }], candidates: thought ? 0 : n, thoughts: thought ? n : 0, finish: null });
    }
  };
  if (p.showThoughts) group(plan.reasoningPieces, plan.reasoningPieceTokens, true);
  if (c.withContent && !p.blocked) {
    if (plan.toolCalls.length > 0) groups.push({ index, parts: callParts(c, secret), candidates: plan.toolTokens, thoughts: 0, finish: null });
    else group(plan.textPieces, plan.textPieceTokens, false);
  }
  if (groups.length === 0) groups.push({ index, parts: [], candidates: 0, thoughts: 0, finish: null });
  // Hidden thinking happens before the first byte of the candidate: its first event reports it.
  if (!p.showThoughts) groups[0].thoughts += plan.reasoningTokens;
  groups[groups.length - 1].finish = c.finishReason;
  return groups;
}

/** Stream events of all candidates, one after the other, with running usage (the last event's is complete). */
function streamEvents(p: PreparedGemini, id: string, secret: string): GeminiEvent[] {
  const groups = p.candidates.flatMap((c, index) => candidateGroups(p, c, index, secret));
  let cand = 0;
  let thoughts = 0;
  return groups.map((g) => {
    cand += g.candidates;
    thoughts += g.thoughts;
    const body = responseOf(p, id, [{ index: g.index, parts: g.parts, finish: g.finish }], geminiUsage(p, cand, thoughts));
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
  if (stream && !res.destroyed) return streamGenerate(ctx, p, fault, base.id, recordBase, ctx.query.get('alt') === 'sse');
  // The client left during the latency: nothing was sent.
  if (res.destroyed) return state.record({ ...recordBase, status: 0, completionTokens: 0, reasoningTokens: 0, aborted: true });
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
  const out = geminiOutputTokens(p);
  state.record({ ...recordBase, status: 200, completionTokens: out.candidates + out.thoughts, reasoningTokens: out.thoughts, aborted: false });
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
