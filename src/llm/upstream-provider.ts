/**
 * A provider for any OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp server,
 * LM Studio, another sluice…). It always asks the upstream to stream — with
 * `include_usage`, so usage is exact when the upstream supports it — and re-emits the
 * stream through openai-stream-reader.ts. The upstream request carries the generation's
 * AbortSignal: when the generation is cancelled or abandoned, the fetch is aborted and
 * the upstream socket closes, so no more tokens are spent.
 */
import { SluiceError, abortReason, truncate } from '../core/errors.js';
import { normalizeFinishReason, normalizeUsage, upstreamError } from './chunk-normalizer.js';
import type { ModelEvent, ModelProvider, ModelStream, OpenModelOptions } from './model.js';
import type { ChatCompletionRequest, ModelObject } from './openai-types.js';
import { countTokens, messageText } from './mock-script.js';
import { STREAM_READER_DEFAULTS, readOpenAIStream } from './openai-stream-reader.js';

export const UPSTREAM_DEFAULTS = Object.freeze({
  /** Time allowed for the upstream to answer with headers, ms. */
  headersTimeoutMs: 60_000,
  /** Mid-stream silence allowed, ms; `null` disables. */
  inactivityTimeoutMs: STREAM_READER_DEFAULTS.inactivityTimeoutMs,
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
  /** Injected fetch (tests, custom agents); defaults to the global one. */
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
  const includeUsage = options.includeUsage ?? UPSTREAM_DEFAULTS.includeUsage;
  const headersTimeout = options.headersTimeoutMs ?? UPSTREAM_DEFAULTS.headersTimeoutMs;
  const inactivity =
    options.inactivityTimeoutMs === undefined
      ? UPSTREAM_DEFAULTS.inactivityTimeoutMs
      : options.inactivityTimeoutMs;
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
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), headersTimeout);
      timer.unref();
      let response: Response;
      try {
        response = await doFetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: {
            ...headers(),
            'content-type': 'application/json',
            accept: 'text/event-stream',
          },
          body: JSON.stringify(body),
          signal: AbortSignal.any([open.signal, timeout.signal]),
        });
      } catch (error) {
        if (open.signal.aborted) throw abortReason(open.signal);
        if (timeout.signal.aborted) {
          throw new SluiceError(
            'llm_upstream_error',
            `The upstream did not answer within ${headersTimeout} ms`,
            {
              status: 504,
              cause: error,
            },
          );
        }
        throw new SluiceError('llm_upstream_error', 'The upstream is unreachable', {
          status: 502,
          cause: error,
        });
      } finally {
        clearTimeout(timer);
      }
      if (!response.ok) throw await errorFromResponse(response);

      const type = response.headers.get('content-type') ?? '';
      if (!response.body)
        throw new SluiceError('llm_upstream_error', 'The upstream sent no body', { status: 502 });
      if (type.includes('application/json')) {
        // An upstream that ignored `stream: true`: replay its whole answer as events.
        const json = await readBounded(response, UPSTREAM_DEFAULTS.maxJsonBodyBytes);
        const events = completionEvents(json);
        return { promptTokens, [Symbol.asyncIterator]: () => replay(events) };
      }
      const stream = response.body;
      return {
        promptTokens,
        [Symbol.asyncIterator]: () =>
          readOpenAIStream(stream, { signal: open.signal, inactivityTimeoutMs: inactivity }),
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
        const json = await readBounded(response, UPSTREAM_DEFAULTS.maxJsonBodyBytes);
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

async function errorFromResponse(response: Response): Promise<SluiceError> {
  let payload: unknown;
  try {
    payload = await readBounded(response, UPSTREAM_DEFAULTS.maxErrorBodyBytes);
  } catch {
    payload = undefined;
  }
  const error = upstreamError(payload, statusFor(response.status));
  if (payload === undefined) {
    return new SluiceError('llm_upstream_error', `The upstream answered HTTP ${response.status}`, {
      status: statusFor(response.status),
      details: { upstream_status: response.status },
    });
  }
  return new SluiceError('llm_upstream_error', error.message, {
    status: error.status ?? 502,
    details: { ...error.details, upstream_status: response.status },
  });
}

/** Reads at most `max` bytes and parses them as JSON (throws past the cap or on bad JSON). */
async function readBounded(response: Response, max: number): Promise<unknown> {
  const reader = response.body?.getReader();
  if (!reader) return undefined;
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new SluiceError('llm_upstream_error', `Upstream body exceeds ${max} bytes`, {
        status: 502,
      });
    }
    parts.push(value);
  }
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
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
