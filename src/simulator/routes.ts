// The simulator's route table: one line per endpoint group. Add a provider endpoint by adding its routes here.
import { embeddingRoutes } from './embeddings.js';
import { geminiChatRoutes } from './gemini.js';
import { openaiChatRoutes } from './openai.js';
import { openaiResponsesRoutes } from './openai-responses.js';
import type { Route } from './server.js';

export const simulatorRoutes: Route[] = [
  ...openaiChatRoutes,
  ...openaiResponsesRoutes,
  ...embeddingRoutes,
  ...geminiChatRoutes,
];
