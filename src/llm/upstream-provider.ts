/**
 * A provider for any OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp server,
 * LM Studio, another sluice…). It always asks the upstream to stream — with
 * `include_usage`, so usage is exact when the upstream supports it — and re-emits the
 * stream through openai-stream-reader.ts. The upstream request carries the generation's
 * AbortSignal: when the generation is cancelled or abandoned, the fetch is aborted and
 * the upstream socket closes, so no more tokens are spent.
 */
import { checkDelay } from '../core/check-options.js';
import { SluiceError, abortReason, truncate } from '../core/errors.js';
import { normalizeFinishReason, normalizeUsage, upstreamError } from './chunk-normalizer.js';
import type { ModelEvent, ModelProvider, ModelStream, OpenModelOptions } from './model.js';
import type { ChatCompletionRequest, ModelObject } from './openai-types.js';
import { countTokens, messageText } from './mock-script.js';
import { OpenAIStreamReader, STREAM_READER_DEFAULTS } from './openai-stream-reader.js';
import {
  HeadersTimeoutError,
  fetchTransport,
  isNode,
  nodeTransport,
  readBounded,
  type UpstreamReply,
} from './upstream-transport.js';

export const UPSTREAM_DEFAULTS = Object.freeze({
  /**
   * Time allowed for the upstream to answer with headers, ms; a JSON body (an error, or an
   * answer that ignored `stream: true`) then gets as long again to arrive whole.
   */
  headersTimeoutMs: 60_000,
  /** Mid-stream silence allowed, ms; `null` disables. */
  inactivityTimeoutMs: STREAM_READER_DEFAULTS.inactivityTimeoutMs,
  /** Silence after the finish reason that ends the answer normally (no `[DONE]` needed), ms. */
  finishTailMs: STREAM_READER_DEFAULTS.finishTailMs,
  /** Error bodies read from an upstream are cut at this many bytes. */
  maxErrorBodyBytes: 64 * 1024,
  /** Largest non-streaming JSON body or model list accepted from an upstream, bytes. */
  maxJsonBodyBytes: 8 * 1024 * 1024,
  /** Ask for `stream_options.include_usage` (turn off for upstreams that reject it). */
  includeUsage: true,
  /** How long GET /models answers are cached, ms. */
  modelListCacheMs: 60_000,
  modelListTimeoutMs: 5_000,
});

export interface UpstreamProviderOptions {
  /** E.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  apiKey?: string;
  /** Extra request headers (e.g. an organisation header). */
  headers?: Record<string, string>;
  includeUsage?: boolean;
  headersTimeoutMs?: number;
  inactivityTimeoutMs?: number | null;
  finishTailMs?: number;
  /**
   * Injected fetch (tests, custom agents). Without one, chat streams use `node:http` on
   * Node (cheaper per chunk) and the global fetch elsewhere; model lists use the global fetch.
   */
  fetch?: typeof fetch;
}

export function createUpstreamProvider(options: UpstreamProviderOptions): ModelProvider {
  const base = options.baseUrl.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) {
    throw new SluiceError(
      'invalid_argument',
      `Upstream base URL must be http(s): ${truncate(base, 100)}`,
    );
  }
  const doFetch = options.fetch ?? fetch;
  // Streams go through node:http on Node unless a fetch was injected (see upstream-transport.ts).
  const transport =
    options.fetch === undefined && isNode() ? nodeTransport() : fetchTransport(doFetch);
  const includeUsage = options.includeUsage ?? UPSTREAM_DEFAULTS.includeUsage;
  const headersTimeout = options.headersTimeoutMs ?? UPSTREAM_DEFAULTS.headersTimeoutMs;
  const inactivity =
    options.inactivityTimeoutMs === undefined
      ? UPSTREAM_DEFAULTS.inactivityTimeoutMs
      : options.inactivityTimeoutMs;
  const finishTail = checkDelay(
    'finishTailMs',
    options.finishTailMs ?? UPSTREAM_DEFAULTS.finishTailMs,
    1,
  );
  const headers = (): Record<string, string> => ({
    ...options.headers,
    ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
  });
  let modelCache: { at: number; models: ModelObject[] } | undefined;

  return {
    name: new URL(base).host,
    async open(request: ChatCompletionRequest, open: OpenModelOptions): Promise<ModelStream> {
      const body: Record<string, unknown> = { ...request, model: open.model, stream: true };
      const streamOptions = request.stream_options ?? {};
      if (includeUsage) body['stream_options'] = { ...streamOptions, include_usage: true };
      else if (request.stream_options === undefined) delete body['stream_options'];
      const promptTokens = countTokens(request.messages.map((m) => messageText(m)).join('\n'));

      // Only the wait for headers is timed: the stream itself may last as long as it needs.
      let reply: UpstreamReply;
      try {
        reply = await transport({
          url: `${base}/chat/completions`,
          headers: {
            ...headers(),
            'content-type': 'application/json',
            accept: 'text/event-stream',
          },
          body: JSON.stringify(body),
          signal: open.signal,
          headersTimeoutMs: headersTimeout,
        });
      } catch (error) {
        if (open.signal.aborted) throw abortReason(open.signal);
        if (error instanceof SluiceError) throw error;
        if (error instanceof HeadersTimeoutError) {
          throw new SluiceError(
            'llm_upstream_error',
            `The upstream did not answer within ${headersTimeout} ms`,
            { status: 504, cause: error },
          );
        }
        throw new SluiceError('llm_upstream_error', 'The upstream is unreachable', {
          status: 502,
          cause: error,
        });
      }
      // A JSON body (an error, or an answer that ignored `stream: true`) must arrive whole
      // within the same time as the headers: an upstream that stalls mid-body is not waited on.
      if (reply.status < 200 || reply.status > 299) {
        throw await errorFromReply(reply, headersTimeout);
      }

      if (reply.contentType.includes('application/json')) {
        // An upstream that ignored `stream: true`: replay its whole answer as events.
        let events: ModelEvent[];
        try {
          const json = await reply.json(UPSTREAM_DEFAULTS.maxJsonBodyBytes, headersTimeout);
          // In the try too: an answer of the wrong shape is the upstream's fault (502), not a 500.
          events = completionEvents(json);
        } catch (error) {
          if (error instanceof SluiceError) throw error;
          throw new SluiceError('llm_upstream_error', 'The upstream sent a malformed JSON body', {
            status: 502,
            cause: error,
          });
        }
        return { promptTokens, [Symbol.asyncIterator]: () => replay(events) };
      }
      const source = reply.stream();
      // Until a reader takes the stream, an abort (the request refused after all, e.g. 429
      // when every generation slot is taken) must still close the upstream connection.
      let taken = false;
      const release = (): void => {
        if (!taken) source.cancel();
      };
      open.signal.addEventListener('abort', release, { once: true });
      return {
        promptTokens,
        [Symbol.asyncIterator]: () => {
          taken = true;
          open.signal.removeEventListener('abort', release);
          return new OpenAIStreamReader(source, {
            signal: open.signal,
            inactivityTimeoutMs: inactivity,
            finishTailMs: finishTail,
          });
        },
      };
    },
    async listModels(list = {}): Promise<ModelObject[]> {
      if (modelCache && Date.now() - modelCache.at < UPSTREAM_DEFAULTS.modelListCacheMs)
        return modelCache.models;
      try {
        const signals = [AbortSignal.timeout(UPSTREAM_DEFAULTS.modelListTimeoutMs)];
        if (list.signal) signals.push(list.signal);
        const response = await doFetch(`${base}/models`, {
          headers: headers(),
          signal: AbortSignal.any(signals),
        });
        if (!response.ok) {
          await response.body?.cancel();
          return [];
        }
        if (!response.body) return [];
        const json = await readBounded(response.body, UPSTREAM_DEFAULTS.maxJsonBodyBytes);
        const data =
          typeof json === 'object' && json !== null && 'data' in json ? json.data : undefined;
        const models: ModelObject[] = [];
        for (const item of Array.isArray(data) ? data.slice(0, 1000) : []) {
          const record = item as Record<string, unknown>;
          if (typeof record['id'] !== 'string') continue;
          models.push({
            id: record['id'],
            object: 'model',
            created: typeof record['created'] === 'number' ? record['created'] : 0,
            owned_by: typeof record['owned_by'] === 'string' ? record['owned_by'] : 'upstream',
          });
        }
        modelCache = { at: Date.now(), models };
        return models;
      } catch {
        return []; // the list is advisory: an unreachable upstream must not break GET /v1/models
      }
    },
  };
}

/** Upstream 4xx the client can fix keep their status; anything else is a 502. */
function statusFor(upstream: number): number {
  return [400, 404, 413, 422, 429].includes(upstream) ? upstream : 502;
}

async function errorFromReply(reply: UpstreamReply, deadlineMs: number): Promise<SluiceError> {
  let payload: unknown;
  try {
    payload = await reply.json(UPSTREAM_DEFAULTS.maxErrorBodyBytes, deadlineMs);
  } catch {
    payload = undefined;
  }
  const status = statusFor(reply.status);
  if (payload === undefined) {
    return new SluiceError('llm_upstream_error', `The upstream answered HTTP ${reply.status}`, {
      status,
      details: { upstream_status: reply.status },
    });
  }
  const error = upstreamError(payload, status);
  return new SluiceError('llm_upstream_error', error.message, {
    status: error.status ?? 502,
    details: { ...error.details, upstream_status: reply.status },
  });
}

function completionEvents(json: unknown): ModelEvent[] {
  const record = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  if (record['error']) throw upstreamError(record);
  const choice = (Array.isArray(record['choices']) ? record['choices'][0] : undefined) as
    { message?: { content?: unknown; tool_calls?: unknown }; finish_reason?: unknown } | undefined;
  const events: ModelEvent[] = [];
  const content = choice?.message?.content;
  if (typeof content === 'string' && content !== '')
    events.push({ type: 'content', text: content });
  const calls = Array.isArray(choice?.message?.tool_calls) ? choice.message.tool_calls : [];
  for (const [index, call] of (
    calls as { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[]
  ).entries()) {
    events.push({
      type: 'tool_call',
      index,
      id: typeof call.id === 'string' ? call.id : `call_${index}`,
      name: typeof call.function?.name === 'string' ? call.function.name : '',
      arguments: typeof call.function?.arguments === 'string' ? call.function.arguments : '',
    });
  }
  const reason = typeof choice?.finish_reason === 'string' ? choice.finish_reason : 'stop';
  events.push({ type: 'finish', reason: normalizeFinishReason(reason) });
  const usage = normalizeUsage(record['usage']);
  if (usage) events.push({ type: 'usage', usage });
  return events;
}

async function* replay(events: ModelEvent[]): AsyncGenerator<ModelEvent> {
  yield* events;
}
