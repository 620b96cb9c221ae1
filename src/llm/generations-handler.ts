/**
 * The generation endpoints beside the OpenAI surface:
 * - `GET  /v1/generations/{id}/events`: resume after `Last-Event-ID` (header or
 *   `?lastEventId=`) or follow from the first chunk; same SSE framing as the POST. 204 when
 *   the cursor is already the generation's last event (so `EventSource` stops reconnecting).
 * - `POST /v1/generations/{id}/cancel`: the explicit stop (distinct from a disconnect);
 *   answers the final status and usage once the generation has ended.
 * - `GET  /v1/generations/{id}`: status and, once ended, usage.
 */
import { SluiceError } from '../core/errors.js';
import type { LlmRequestContext } from './model.js';
import { createSseResponse, getLastEventId } from '../sse/response.js';
import type { Generation } from './generation.js';
import { GenerationReader, invalidCursor, unresumable } from './generation-reader.js';
import type { GenerationRegistry } from './generation-registry.js';
import { errorResponse } from './openai-error.js';

export interface GenerationsDeps {
  registry: GenerationRegistry;
  keepAlive: number | null | undefined;
  stallTimeout: number | null | undefined;
  /** Longest a cancel call waits for the generation to wind down before answering, ms. */
  cancelWaitMs: number;
}

const ROUTE = /^\/generations\/([A-Za-z0-9_-]{1,100})(\/events|\/cancel)?$/;

/** `path` is relative to the LLM base path (e.g. `/generations/…`). */
export async function handleGenerations(
  request: Request,
  context: LlmRequestContext,
  path: string,
  deps: GenerationsDeps,
): Promise<Response | undefined> {
  const match = ROUTE.exec(path);
  if (!match) return undefined;
  const [, id, action] = match;
  const generation = deps.registry.get(id!);
  const method = request.method;
  const expected = action === '/cancel' ? 'POST' : 'GET';
  if (method !== expected && !(expected === 'GET' && method === 'HEAD')) {
    return errorResponse(
      new SluiceError('method_not_allowed', `Use ${expected} on this path`, { status: 405 }),
      { allow: expected },
    );
  }
  if (!generation) {
    return errorResponse(
      new SluiceError('llm_generation_not_found', 'No such generation (unknown or expired)', {
        status: 404,
      }),
    );
  }
  if (action === '/events') return await events(request, context, generation, deps);
  if (action === '/cancel') {
    const cancelled = generation.cancel();
    await waitForEnd(generation, deps.cancelWaitMs);
    return Response.json({ ...status(generation), cancelled });
  }
  return Response.json(status(generation));
}

async function events(
  request: Request,
  context: LlmRequestContext,
  generation: Generation,
  deps: GenerationsDeps,
): Promise<Response> {
  const since = getLastEventId(request);
  if (since !== undefined && since === generation.terminalId)
    return new Response(null, { status: 204 });
  const refused = since === undefined ? undefined : await unresumable(generation, since);
  if (refused !== undefined) return errorResponse(invalidCursor(generation.id, refused));
  const reader = new GenerationReader(generation, { since, signal: context.signal });
  return createSseResponse(reader, {
    request,
    httpVersion: context.httpVersion,
    headers: { 'x-generation-id': generation.id },
    ...(deps.keepAlive === undefined ? {} : { keepAlive: deps.keepAlive }),
    ...(deps.stallTimeout === undefined ? {} : { stallTimeout: deps.stallTimeout }),
  });
}

function status(generation: Generation): Record<string, unknown> {
  const summary = generation.summary;
  return {
    id: generation.id,
    object: 'generation',
    model: generation.model,
    status: generation.status,
    readers: generation.readers,
    ...(summary
      ? {
          finish_reason: summary.finishReason,
          usage: summary.usage,
          usage_counted: summary.usageCounted,
          ...(summary.error ? { error: summary.error } : {}),
        }
      : {}),
  };
}

async function waitForEnd(generation: Generation, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref?.();
  });
  try {
    await Promise.race([generation.ended, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
