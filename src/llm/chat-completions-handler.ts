/**
 * `POST /v1/chat/completions`. Errors before the first token (bad request, unknown model,
 * upstream refusing) are an HTTP status with OpenAI's error body. A streaming request starts
 * a generation and answers as its first reader (SSE, `X-Generation-Id` header, every event
 * with an `id:`); the response ends right after `data: [DONE]`. A non-streaming request
 * runs the model to the end and answers one `chat.completion` object; it cannot be resumed,
 * so a disconnect stops its model at once.
 */
import { createSseResponse } from '../sse/response.js';
import type { LlmRequestContext } from './model.js';
import { parseChatRequest, readJsonBody } from './chat-request.js';
import type { GenerationSummary } from './generation.js';
import { GenerationReader } from './generation-reader.js';
import { newGenerationId, type GenerationRegistry } from './generation-registry.js';
import type { ModelStream } from './model.js';
import type { ModelRouter } from './model-router.js';
import { errorResponse, toSluiceError } from './openai-error.js';
import type { ChatCompletionRequest } from './openai-types.js';
import { ASSEMBLER_DEFAULTS, OutputAssembler } from './output-assembler.js';

export interface ChatCompletionsDeps {
  router: ModelRouter;
  registry: GenerationRegistry;
  maxBodyBytes: number;
  generationGraceMs: number | null;
  coalesceMs: number | null;
  maxEventsPerGeneration: number;
  keepAlive: number | null | undefined;
  stallTimeout: number | null | undefined;
  maxOutputChars?: number;
}

/** Lets browsers read the generation id cross-origin (for resume and cancel). */
const EXPOSE = { 'access-control-expose-headers': 'X-Generation-Id' };

export async function handleChatCompletions(
  request: Request,
  context: LlmRequestContext,
  deps: ChatCompletionsDeps,
): Promise<Response> {
  const abort = new AbortController();
  // Until a generation owns the model, the request's disconnect stops it.
  const onDisconnect = () => abort.abort(context.signal.reason);
  context.signal.addEventListener('abort', onDisconnect, { once: true });
  try {
    const body = parseChatRequest(await readJsonBody(request, deps.maxBodyBytes));
    const route = deps.router.route(body.model);
    // A streamed answer needs a generation slot: refuse before the model is called.
    if (body.stream === true) deps.registry.assertRoom();
    const stream = await route.provider.open(body, { model: route.model, signal: abort.signal });
    const created = Math.floor(Date.now() / 1000);
    if (body.stream !== true) {
      return await complete(body, stream, { deps, created, provider: route.provider.name });
    }
    context.signal.removeEventListener('abort', onDisconnect);
    const generation = deps.registry.create({
      stream,
      abort,
      model: body.model,
      provider: route.provider.name,
      created,
      includeUsage: body.stream_options?.include_usage === true,
      graceMs: deps.generationGraceMs,
      coalesceMs: deps.coalesceMs,
      maxEvents: deps.maxEventsPerGeneration,
    });
    // Attached before the producer starts, so a zero grace period cannot fire in between.
    const detach = generation.attach();
    try {
      await generation.start();
    } catch (error) {
      detach();
      throw error;
    }
    const reader = new GenerationReader(generation, { detach, signal: context.signal });
    return createSseResponse(reader, {
      request,
      httpVersion: context.httpVersion,
      headers: { 'x-generation-id': generation.id, ...EXPOSE },
      ...(deps.keepAlive === undefined ? {} : { keepAlive: deps.keepAlive }),
      ...(deps.stallTimeout === undefined ? {} : { stallTimeout: deps.stallTimeout }),
    });
  } catch (error) {
    abort.abort(error);
    return errorResponse(error, EXPOSE);
  } finally {
    context.signal.removeEventListener('abort', onDisconnect);
  }
}

async function complete(
  body: ChatCompletionRequest,
  stream: ModelStream,
  run: { deps: ChatCompletionsDeps; created: number; provider: string },
): Promise<Response> {
  const id = newGenerationId();
  const assembler = new OutputAssembler();
  const maxChars = run.deps.maxOutputChars ?? ASSEMBLER_DEFAULTS.maxOutputChars;
  let capped = false;
  const summary = (status: GenerationSummary['status'], error?: unknown): GenerationSummary => {
    const { usage, counted } = assembler.usage(stream.promptTokens);
    const err = error === undefined ? undefined : toSluiceError(error);
    return {
      id,
      model: body.model,
      provider: run.provider,
      status,
      finishReason: capped ? 'length' : (assembler.finishReason ?? null),
      usage,
      usageCounted: counted,
      created: run.created,
      events: 0,
      ...(err ? { error: { code: err.code, message: err.message } } : {}),
    };
  };
  try {
    for await (const event of stream) {
      assembler.add(event);
      if (assembler.size > maxChars) {
        capped = true; // leaving the loop returns the iterator: the model stops
        break;
      }
    }
  } catch (error) {
    const err = toSluiceError(error);
    run.deps.registry.record(summary(err.code === 'aborted' ? 'abandoned' : 'failed', err));
    throw err;
  }
  const done = summary('completed');
  run.deps.registry.record(done);
  const completion = assembler.completion({
    id,
    model: body.model,
    created: run.created,
    usage: done.usage,
    ...(capped ? { finishReason: 'length' as const } : {}),
  });
  return Response.json(completion, { headers: EXPOSE });
}
