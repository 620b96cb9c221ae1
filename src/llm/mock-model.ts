/**
 * The built-in mock model (`sluice-mock`), the embedded default: deterministic text for a
 * given prompt and seed (mock-script.ts), paced like a real model (time to first token,
 * tokens per second), with tool calls, multi-byte text and an error mode on request.
 */
import { setImmediate as yieldToLoop, setTimeout as delay } from 'node:timers/promises';
import { SluiceError, abortReason } from '../core/errors.js';
import type { ModelEvent, ModelProvider, ModelStream, OpenModelOptions } from './model.js';
import type { ChatCompletionRequest, ModelObject } from './openai-types.js';
import { planMockScript, type MockScript } from './mock-script.js';

export const MOCK_MODEL_ID = 'sluice-mock';

export const MOCK_DEFAULTS = Object.freeze({
  /** Output pace; `null` = as fast as the reader pulls. */
  tokensPerSecond: 40,
  /** Delay before the first token; `null` = none. */
  timeToFirstTokenMs: 200,
  /** Base length of an answer; the actual length is between this and twice this. */
  defaultTokens: 24,
  /** Hard cap on tokens per answer, whatever `[mock:tokens=N]` asks for. */
  maxTokens: 4096,
  /** Yield to the event loop every this many unpaced tokens, so I/O is never starved. */
  yieldEvery: 64,
});

export interface MockModelOptions {
  tokensPerSecond?: number | null;
  timeToFirstTokenMs?: number | null;
  defaultTokens?: number;
  maxTokens?: number;
}

/** A fixed creation time so GET /v1/models is stable across runs. */
const MOCK_CREATED = 1_735_689_600;

export function createMockModel(options: MockModelOptions = {}): ModelProvider {
  const tokensPerSecond =
    options.tokensPerSecond === undefined ? MOCK_DEFAULTS.tokensPerSecond : options.tokensPerSecond;
  const ttft =
    options.timeToFirstTokenMs === undefined
      ? MOCK_DEFAULTS.timeToFirstTokenMs
      : options.timeToFirstTokenMs;
  const limits = {
    defaultTokens: options.defaultTokens ?? MOCK_DEFAULTS.defaultTokens,
    maxTokens: options.maxTokens ?? MOCK_DEFAULTS.maxTokens,
  };

  return {
    name: 'sluice',
    async open(request: ChatCompletionRequest, open: OpenModelOptions): Promise<ModelStream> {
      if (open.signal.aborted) throw abortReason(open.signal);
      const script = planMockScript(request, limits);
      if (script.directives.errorBefore) {
        throw new SluiceError(
          'llm_mock_error',
          'Mock model error requested by [mock:error-before]',
          {
            status: 500,
          },
        );
      }
      const pace = {
        tps: script.directives.tps ?? tokensPerSecond,
        ttft: script.directives.ttft ?? ttft,
      };
      return {
        promptTokens: script.promptTokens,
        [Symbol.asyncIterator]: () => runScript(script, pace, open.signal),
      };
    },
    async listModels(): Promise<ModelObject[]> {
      return [{ id: MOCK_MODEL_ID, object: 'model', created: MOCK_CREATED, owned_by: 'sluice' }];
    },
  };
}

function* scriptEvents(script: MockScript): Generator<ModelEvent> {
  for (const text of script.tokens) yield { type: 'content', text };
  for (const [index, call] of script.toolCalls.entries()) {
    yield { type: 'tool_call', index, id: call.id, name: call.name, arguments: '' };
    for (const fragment of call.fragments) yield { type: 'tool_call', index, arguments: fragment };
  }
}

async function* runScript(
  script: MockScript,
  pace: { tps: number | null; ttft: number | null },
  signal: AbortSignal,
): AsyncGenerator<ModelEvent> {
  const interval = pace.tps !== null && pace.tps > 0 ? 1000 / pace.tps : 0;
  if (pace.ttft !== null && pace.ttft > 0) await sleep(pace.ttft, signal);
  const start = performance.now();
  let emitted = 0;
  for (const event of scriptEvents(script)) {
    if (script.directives.error !== undefined && emitted >= script.directives.error) {
      throw new SluiceError(
        'llm_mock_error',
        `Mock model error requested by [mock:error] after ${emitted} tokens`,
        { status: 500 },
      );
    }
    if (interval > 0 && emitted > 0) {
      const wait = start + emitted * interval - performance.now();
      if (wait > 0) await sleep(wait, signal);
    } else if (emitted > 0 && emitted % MOCK_DEFAULTS.yieldEvery === 0) {
      await yieldToLoop();
    }
    if (signal.aborted) throw abortReason(signal);
    emitted++;
    yield event;
  }
  yield { type: 'finish', reason: script.finishReason };
  yield {
    type: 'usage',
    usage: {
      prompt_tokens: script.promptTokens,
      completion_tokens: emitted,
      total_tokens: script.promptTokens + emitted,
    },
  };
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    // Unref'd: a paced mock never keeps the process alive on its own.
    await delay(ms, undefined, { signal, ref: false });
  } catch {
    throw abortReason(signal);
  }
}
