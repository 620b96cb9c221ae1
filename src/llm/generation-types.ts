/**
 * Shapes shared by a generation, its reader, the registry and the handlers: options, the
 * usage summary every generation ends with, broker event names, and the rule that turns how
 * the producer stopped into a final status, error and finish reason.
 */
import type { Broker } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';
import type { ModelStream } from './model.js';
import { toSluiceError } from './openai-error.js';
import type { CompletionUsage, FinishReason } from './openai-types.js';

export type GenerationStatus = 'running' | 'completed' | 'cancelled' | 'abandoned' | 'failed';

/**
 * Broker event names on a generation channel (never sent as SSE `event:` fields). A
 * `delta` message holds only the JSON of a chunk's delta: readers wrap it in the chunk
 * envelope (id, model, created…), the same for every chunk of a generation, so history
 * keeps a few dozen bytes per token instead of the whole chunk. `chunk` holds a whole chunk.
 */
export const GEN_EVENTS = Object.freeze({
  start: 'start',
  delta: 'delta',
  chunk: 'chunk',
  done: 'done',
  error: 'error',
});

export interface GenerationOptions {
  id: string;
  broker: Broker;
  /** The opened model stream, and the controller that aborts it. */
  stream: ModelStream;
  abort: AbortController;
  model: string;
  provider: string;
  created: number;
  includeUsage: boolean;
  /** Time with no reader before the model is aborted; 0 = at once; null = never. */
  graceMs: number | null;
  coalesceMs: number | null;
  maxEvents: number;
  onEnd?: (summary: GenerationSummary) => void;
}

export interface GenerationSummary {
  id: string;
  model: string;
  provider: string;
  status: GenerationStatus;
  finishReason: FinishReason | null;
  usage: CompletionUsage;
  /** True when usage was counted by sluice (the model reported none, e.g. it was aborted). */
  usageCounted: boolean;
  created: number;
  /** Chunk events published (not counting the start marker). */
  events: number;
  error?: { code: string; message: string };
}

export interface GenerationOutcome {
  status: Exclude<GenerationStatus, 'running'>;
  /** Set for `abandoned` and `failed`: readers get it as an error frame instead of `[DONE]`. */
  error: SluiceError | undefined;
  finishReason: FinishReason | null;
}

/**
 * An explicit stop wins over whatever the model did next (a cancel is `stop`, an abandon an
 * error); then a model error; then a missing finish reason (truncation); the event cap is a
 * `length` finish.
 */
export function decideOutcome(input: {
  stopIntent: 'cancelled' | 'abandoned' | undefined;
  finish: FinishReason | undefined;
  capped: boolean;
  failure: unknown;
}): GenerationOutcome {
  const { stopIntent, finish, capped, failure } = input;
  if (stopIntent === 'cancelled')
    return { status: 'cancelled', error: undefined, finishReason: 'stop' };
  if (stopIntent === 'abandoned') {
    return {
      status: 'abandoned',
      error: new SluiceError('llm_generation_abandoned', ABANDONED_MESSAGE, { status: 499 }),
      finishReason: finish ?? null,
    };
  }
  if (failure !== undefined) {
    return { status: 'failed', error: toSluiceError(failure), finishReason: finish ?? null };
  }
  if (capped) return { status: 'completed', error: undefined, finishReason: 'length' };
  if (finish === undefined) {
    const error = new SluiceError(
      'llm_upstream_truncated',
      'The model ended without a finish reason',
      {
        status: 502,
      },
    );
    return { status: 'failed', error, finishReason: null };
  }
  return { status: 'completed', error: undefined, finishReason: finish };
}

export const ABANDONED_MESSAGE =
  'The generation was stopped: no reader came back within the grace period';
