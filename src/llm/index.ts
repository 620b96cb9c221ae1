/**
 * `sluice/llm`: an OpenAI-compatible streaming endpoint with a built-in mock model, an
 * upstream proxy, and generations that outlive the request (resume, follow, cancel).
 * Mount `createLlmHandler()` in any server speaking Web `Request`/`Response`.
 */
import { timingSafeEqual } from 'node:crypto';
import { createMemoryBroker } from '../broker/memory-broker.js';
import type { Broker } from '../broker/types.js';
import { checkDelay, checkStreamTimings } from '../core/check-options.js';
import { SluiceError } from '../core/errors.js';
import type { LlmRequestContext } from './model.js';
import { handleChatCompletions } from './chat-completions-handler.js';
import { GenerationRegistry, type LlmStats } from './generation-registry.js';
import { handleGenerations } from './generations-handler.js';
import { createMockModel } from './mock-model.js';
import { createModelRouter } from './model-router.js';
import { handleModels } from './models-handler.js';
import { errorResponse } from './openai-error.js';
import { LLM_DEFAULTS, type LlmOptions } from './options.js';
import { createUpstreamProvider } from './upstream-provider.js';

export interface LlmHandler {
  (request: Request, context: LlmRequestContext): Promise<Response | undefined>;
  /** Stops every running generation (aborting upstream calls) and releases the broker it owns. */
  close(): Promise<void>;
  stats(): LlmStats;
  readonly broker: Broker;
}

export function createLlmHandler(options: LlmOptions = {}): LlmHandler {
  // Checked before anything is made that would need closing. The grace period and the
  // coalescing interval are timer delays too: past 2^31 - 1 ms a timer fires at once.
  checkStreamTimings(options);
  for (const name of ['generationGraceMs', 'coalesceMs'] as const) {
    const value = options[name];
    if (value !== undefined && value !== null) checkDelay(name, value, 0);
  }
  const basePath = (options.basePath ?? LLM_DEFAULTS.basePath).replace(/\/+$/, '');
  const maxEvents = options.maxEventsPerGeneration ?? LLM_DEFAULTS.maxEventsPerGeneration;
  const maxGenerations = options.maxGenerations ?? LLM_DEFAULTS.maxGenerations;
  const retentionMs = options.retentionMs ?? LLM_DEFAULTS.retentionMs;
  const ownsBroker = options.broker === undefined;
  // Sized so a whole generation (its start marker plus every chunk) stays in history for
  // its run and its retention: every resume cursor can then be honoured exactly.
  const broker =
    options.broker ??
    createMemoryBroker({
      historyLimit: maxEvents + 1,
      historyMaxAge: retentionMs + 60 * 60_000,
      maxChannels: maxGenerations * 2,
    });
  const router = createModelRouter({
    mock: options.mock === null ? null : createMockModel(options.mock ?? {}),
    upstream: options.upstream ? createUpstreamProvider(options.upstream) : undefined,
    modelMap: options.modelMap,
  });
  const registry = new GenerationRegistry({
    broker,
    maxGenerations,
    retentionMs,
    onUsage: options.onUsage,
  });
  const streamOptions = { keepAlive: options.keepAlive, stallTimeout: options.stallTimeout };
  const keys = (options.apiKeys ?? []).map((key) => Buffer.from(key));

  const handler = async (
    request: Request,
    context: LlmRequestContext,
  ): Promise<Response | undefined> => {
    const path = new URL(request.url).pathname;
    if (!path.startsWith(`${basePath}/`)) return undefined;
    const sub = path.slice(basePath.length);
    const known =
      sub === '/chat/completions' || sub.startsWith('/models') || sub.startsWith('/generations/');
    if (!known) return undefined;
    if (keys.length > 0 && !authorized(request, keys)) {
      return errorResponse(
        new SluiceError('unauthorized', 'A valid API key is required', { status: 401 }),
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    if (sub === '/chat/completions') {
      if (request.method !== 'POST') {
        return errorResponse(
          new SluiceError('method_not_allowed', 'Use POST on this path', { status: 405 }),
          {
            allow: 'POST',
          },
        );
      }
      return handleChatCompletions(request, context, {
        router,
        registry,
        maxBodyBytes: options.maxBodyBytes ?? LLM_DEFAULTS.maxBodyBytes,
        generationGraceMs:
          options.generationGraceMs === undefined
            ? LLM_DEFAULTS.generationGraceMs
            : options.generationGraceMs,
        coalesceMs: options.coalesceMs === undefined ? LLM_DEFAULTS.coalesceMs : options.coalesceMs,
        maxEventsPerGeneration: maxEvents,
        ...streamOptions,
      });
    }
    if (sub.startsWith('/models')) return handleModels(request, sub, router);
    return handleGenerations(request, context, sub, {
      registry,
      cancelWaitMs: LLM_DEFAULTS.cancelWaitMs,
      ...streamOptions,
    });
  };

  return Object.assign(handler, {
    broker,
    stats: () => registry.stats(),
    close: async () => {
      await registry.close();
      if (ownsBroker) await broker.close();
    },
  });
}

function authorized(request: Request, keys: Buffer[]): boolean {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  return keys.some((key) => key.length === given.length && timingSafeEqual(key, given));
}

export {
  LLM_DEFAULTS,
  LLM_CONFIG_OPTIONS,
  llmOptionsFromEnv,
  type LlmOptions,
  type LlmConfigKey,
} from './options.js';
export type { LlmStats } from './generation-registry.js';
export type { GenerationSummary, GenerationStatus } from './generation.js';
export {
  createMockModel,
  MOCK_DEFAULTS,
  MOCK_MODEL_ID,
  type MockModelOptions,
} from './mock-model.js';
export {
  createUpstreamProvider,
  UPSTREAM_DEFAULTS,
  type UpstreamProviderOptions,
} from './upstream-provider.js';
export { readOpenAIStream, STREAM_READER_DEFAULTS } from './openai-stream-reader.js';
export { createModelRouter, parseModelMap } from './model-router.js';
export type { LlmRequestContext, ModelEvent, ModelProvider, ModelStream } from './model.js';
export type * from './openai-types.js';
