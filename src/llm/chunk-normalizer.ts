/**
 * Parsed upstream chunks in, normalised model events out. This is where provider quirks
 * are absorbed (see docs/llm.md, "Upstream streams sluice accepts"):
 * - tool-call indexes are remapped to dense 0-based ones in order of first appearance
 *   (Anthropic's compat layer starts at 1); a missing `index` means a new call when the
 *   fragment has an `id`, else the latest call; a known index with a new `id` and a name is a
 *   new call;
 * - argument fragments that arrive before the call's name are held (bounded) until it does;
 *   a whole call in one delta (xAI, Groq) is just a first fragment with all the arguments;
 * - usage is taken wherever it appears (its own chunk, or on the finish chunk);
 * - chunks with empty `choices` and no usage (Azure's prompt-filter chunk) are ignored;
 * - a top-level `error` object is an upstream error, whatever came before.
 */
import { SluiceError, truncate } from '../core/errors.js';
import type { ModelEvent } from './model.js';
import type { CompletionUsage, FinishReason } from './openai-types.js';

export const NORMALIZER_DEFAULTS = Object.freeze({
  /** Argument text held per tool call while its name has not arrived (UTF-16 units). */
  maxPendingArguments: 1024 * 1024,
  /** Most tool calls in one answer. */
  maxToolCalls: 128,
});

const FINISH_REASONS = new Set<string>([
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'function_call',
]);

interface ToolState {
  index: number;
  /** The id the upstream gave (not one sluice made up): it tells calls sharing an index apart. */
  given: string | undefined;
  id: string | undefined;
  name: string | undefined;
  started: boolean;
  pending: string;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The choice with index 0, or the first when indexes are absent (a loop: no closure per chunk). */
function firstChoice(choices: unknown[]): unknown {
  for (const choice of choices) if (isRecord(choice) && choice['index'] === 0) return choice;
  return choices[0];
}

/** Maps any provider's reason onto OpenAI's set (`end_turn`, `eos`… become `stop`). */
export function normalizeFinishReason(value: string): FinishReason {
  if (FINISH_REASONS.has(value)) return value as FinishReason;
  if (value === 'max_tokens' || value === 'model_length') return 'length';
  if (value === 'tool_use') return 'tool_calls';
  return 'stop';
}

export function normalizeUsage(value: unknown): CompletionUsage | undefined {
  if (!isRecord(value)) return undefined;
  const prompt = num(value['prompt_tokens']);
  const completion = num(value['completion_tokens']);
  if (prompt === undefined || completion === undefined) return undefined;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: num(value['total_tokens']) ?? prompt + completion,
  };
}

/** The error a `{"error": {...}}` payload describes, with its text bounded. */
export function upstreamError(payload: unknown, status = 502): SluiceError {
  const error = isRecord(payload) && isRecord(payload['error']) ? payload['error'] : {};
  const message = typeof error['message'] === 'string' ? error['message'] : 'Upstream error';
  const details: Record<string, unknown> = {};
  for (const key of ['type', 'code', 'param'] as const) {
    const value = error[key];
    if (typeof value === 'string' || typeof value === 'number')
      details[key] = truncate(String(value), 100);
  }
  return new SluiceError('llm_upstream_error', `Upstream error: ${message}`, { status, details });
}

export class ChunkNormalizer {
  #finish: FinishReason | undefined;
  /** The call each key (index or id) currently names. */
  #tools = new Map<string, ToolState>();
  /** Every call, in order of first appearance (its position is its dense index). */
  #states: ToolState[] = [];
  #lastToolKey: string | undefined;
  readonly #limits: typeof NORMALIZER_DEFAULTS;

  constructor(limits: Partial<typeof NORMALIZER_DEFAULTS> = {}) {
    this.#limits = { ...NORMALIZER_DEFAULTS, ...limits };
  }

  get finished(): boolean {
    return this.#finish !== undefined;
  }

  /**
   * Events for one parsed chunk (a JSON value from a `data:` line), appended to `out` (the
   * caller's queue, so no array per chunk) and returned.
   */
  push(chunk: unknown, out: ModelEvent[] = []): ModelEvent[] {
    if (!isRecord(chunk)) throw badChunk('a chunk is not a JSON object');
    if (chunk['error'] !== undefined && chunk['error'] !== null) throw upstreamError(chunk);
    const choices: unknown[] = Array.isArray(chunk['choices']) ? chunk['choices'] : [];
    // sluice serves one choice: the one with index 0 (or the first when indexes are absent).
    const choice = firstChoice(choices);
    if (isRecord(choice)) {
      const delta = isRecord(choice['delta'])
        ? choice['delta']
        : isRecord(choice['message'])
          ? choice['message']
          : {};
      // Unrolled (no array of keys per chunk): this runs once per upstream token.
      const content = delta['content'];
      if (typeof content === 'string' && content.length > 0)
        out.push({ type: 'content', text: content });
      const refusal = delta['refusal'];
      if (typeof refusal === 'string' && refusal.length > 0)
        out.push({ type: 'content', text: refusal });
      if (Array.isArray(delta['tool_calls'])) {
        for (const call of delta['tool_calls']) if (isRecord(call)) this.#toolFragment(call, out);
      }
      const reason = choice['finish_reason'];
      if (typeof reason === 'string' && reason.length > 0 && this.#finish === undefined) {
        this.#flushPending(out);
        this.#finish = normalizeFinishReason(reason);
        out.push({ type: 'finish', reason: this.#finish });
      }
    }
    const usage = normalizeUsage(chunk['usage']);
    if (usage) out.push({ type: 'usage', usage });
    return out;
  }

  /** `[DONE]` arrived: an upstream that never sent a finish reason still ended explicitly. */
  done(out: ModelEvent[] = []): ModelEvent[] {
    if (this.#finish !== undefined) return out;
    this.#flushPending(out);
    this.#finish = this.#states.length > 0 ? 'tool_calls' : 'stop';
    out.push({ type: 'finish', reason: this.#finish });
    return out;
  }

  #toolFragment(call: Json, out: ModelEvent[]): void {
    const fn = isRecord(call['function']) ? call['function'] : {};
    const id = typeof call['id'] === 'string' && call['id'] !== '' ? call['id'] : undefined;
    const name = typeof fn['name'] === 'string' && fn['name'] !== '' ? fn['name'] : undefined;
    const args =
      typeof fn['arguments'] === 'string'
        ? fn['arguments']
        : isRecord(fn['arguments'])
          ? JSON.stringify(fn['arguments'])
          : '';
    let key: string | undefined;
    if (typeof call['index'] === 'number') key = `i${call['index']}`;
    else if (id !== undefined) key = `id${id}`;
    else key = this.#lastToolKey;
    if (key === undefined) key = 'i0';
    let state = this.#tools.get(key);
    // Another id and a name at a known index is another call: Gemini's compat layer, for one,
    // gives every parallel call index 0, and merging them would join their arguments. A new
    // id alone is not (some providers change the id after a call's first fragment).
    const head = id !== undefined && name !== undefined;
    if (head && state?.given !== undefined && id !== state.given) state = undefined;
    if (!state) {
      if (this.#states.length >= this.#limits.maxToolCalls) throw badChunk('too many tool calls');
      state = {
        index: this.#states.length,
        given: undefined,
        id: undefined,
        name: undefined,
        started: false,
        pending: '',
      };
      this.#tools.set(key, state);
      this.#states.push(state);
    }
    this.#lastToolKey = key;
    state.given ??= id;
    state.id ??= id;
    state.name ??= name;
    if (state.started) {
      if (args.length > 0) out.push({ type: 'tool_call', index: state.index, arguments: args });
      return;
    }
    state.pending += args;
    if (state.pending.length > this.#limits.maxPendingArguments) {
      throw badChunk('tool-call arguments arrived without a name past the buffer limit');
    }
    if (state.name !== undefined) this.#start(state, out);
  }

  #start(state: ToolState, out: ModelEvent[]): void {
    state.started = true;
    state.id ??= `call_${Math.random().toString(36).slice(2, 14)}`;
    out.push({
      type: 'tool_call',
      index: state.index,
      id: state.id,
      name: state.name ?? '',
      arguments: state.pending,
    });
    state.pending = '';
  }

  /** Calls still waiting for a name are emitted as they are when the answer ends. */
  #flushPending(out: ModelEvent[]): void {
    for (const state of this.#states) if (!state.started) this.#start(state, out);
  }
}

function badChunk(reason: string): SluiceError {
  return new SluiceError('llm_upstream_error', `Malformed upstream stream: ${reason}`, {
    status: 502,
  });
}
