/**
 * The seam between generations and whatever produces tokens (the built-in mock, an
 * OpenAI-compatible upstream). Providers speak normalised events, never wire chunks, so
 * every provider quirk (usage on the finish chunk, a whole tool call in one delta, tool
 * indexes starting at 1) is absorbed once, in the reader, and the chunk builder can
 * re-emit one clean OpenAI stream.
 */
import type {
  ChatCompletionRequest,
  CompletionUsage,
  FinishReason,
  ModelObject,
} from './openai-types.js';

/**
 * One step of a model's output.
 * - `tool_call`: the first event for an `index` carries `id` and `name`; later ones only
 *   argument fragments. Indexes are dense and start at 0.
 * - `finish` ends the output; `usage` (if any) may come before or after it.
 */
export type ModelEvent =
  | { type: 'content'; text: string }
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'finish'; reason: FinishReason }
  | { type: 'usage'; usage: CompletionUsage };

/**
 * An open generation on a model. Iterating pulls tokens (backpressure reaches the upstream
 * socket); `return()` or the open signal aborting stops the model and frees its resources.
 * Ending without a `finish` event means the model was cut off: it throws
 * `llm_upstream_truncated` instead.
 */
export interface ModelStream extends AsyncIterable<ModelEvent> {
  /** Prompt size estimate, used for usage when the model reports none. */
  readonly promptTokens: number;
}

export interface OpenModelOptions {
  /** The model name the provider should use (after the model map). */
  model: string;
  /** Aborting stops the model (and aborts an upstream request). */
  signal: AbortSignal;
}

export interface ModelProvider {
  /** `owned_by` in GET /v1/models and a label in usage records. */
  readonly name: string;
  /**
   * Starts a generation. Resolves once the model accepted the request (an upstream answered
   * 2xx), so that errors before the first token become an HTTP status; rejects with a
   * SluiceError otherwise.
   */
  open(request: ChatCompletionRequest, options: OpenModelOptions): Promise<ModelStream>;
  /** Models this provider serves. */
  listModels(options?: { signal?: AbortSignal }): Promise<ModelObject[]>;
}

/**
 * What the LLM routes need from the server per request. Structurally the server's
 * `RequestContext`, declared here so that llm/ does not depend on the server layer above it.
 */
export interface LlmRequestContext {
  /** Fires when the client disconnects or the server shuts down. */
  signal: AbortSignal;
  /** '1.1' or '2.0' (SSE sends no `Connection` header on HTTP/2). */
  httpVersion: string;
}
