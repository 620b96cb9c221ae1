/**
 * The producer of a generation over a pollable model (the upstream reader): every chunk
 * is published once and in order, with a broker that publishes synchronously (the memory
 * broker: no promise per token) and with one that only has the async `publish` (the
 * contract every broker offers); coalescing merges tokens on its timer; a cancel stops it
 * while the upstream still has bytes to give.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { canPublishSync, type Broker } from '../../src/broker/types.js';
import { contractOnlyBroker } from '../helpers/contract-only-broker.js';
import { WebByteSource } from '../../src/llm/byte-source.js';
import { Generation } from '../../src/llm/generation.js';
import type { ModelStream } from '../../src/llm/model.js';
import { OpenAIStreamReader } from '../../src/llm/openai-stream-reader.js';

const chunk = (content: string) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
const FINISH = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;

/**
 * An upstream body that sends `tokens` one per `pace` ms (0: all in one chunk), then the
 * finish and `[DONE]`; a pollable model stream over it.
 */
function upstream(tokens: string[], pace: number, signal: AbortSignal): ModelStream {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      if (pace === 0) {
        controller.enqueue(
          encoder.encode(tokens.map(chunk).join('') + FINISH + 'data: [DONE]\n\n'),
        );
        controller.close();
        return;
      }
      for (const token of tokens) {
        if (signal.aborted) return;
        controller.enqueue(encoder.encode(chunk(token)));
        await new Promise((resolve) => setTimeout(resolve, pace));
      }
      controller.enqueue(encoder.encode(FINISH + 'data: [DONE]\n\n'));
      controller.close();
    },
  });
  return {
    promptTokens: 1,
    [Symbol.asyncIterator]: () => new OpenAIStreamReader(new WebByteSource(body), { signal }),
  };
}

/** A generation with the test defaults (no grace timer, no usage chunk). */
function generationOf(
  broker: Broker,
  stream: ModelStream,
  abort: AbortController,
  coalesceMs: number | null = null,
): Generation {
  return new Generation({
    id: 'chatcmpl-test',
    broker,
    stream,
    abort,
    model: 'm',
    provider: 'p',
    created: 0,
    includeUsage: false,
    graceMs: null,
    coalesceMs,
    maxEvents: 1000,
  });
}

async function run(
  broker: Broker,
  tokens: string[],
  options: { pace?: number; coalesceMs?: number; cancelAfter?: number } = {},
) {
  const abort = new AbortController();
  const stream = upstream(tokens, options.pace ?? 0, abort.signal);
  const generation = generationOf(broker, stream, abort, options.coalesceMs);
  await generation.start();
  if (options.cancelAfter !== undefined) {
    setTimeout(() => generation.cancel(), options.cancelAfter);
  }
  const summary = await generation.ended;
  const { messages } = await broker.history(generation.channel);
  // Tokens are kept as their delta alone; a reader wraps each in the generation's envelope.
  const chunks = messages
    .filter((m) => m.event === 'delta')
    .map((m) => JSON.parse(generation.chunkOfDelta(m.data as string)) as Chunk);
  expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-test']));
  const contents = chunks
    .map((c) => c.choices[0]?.delta.content ?? '')
    .filter((text) => text !== '');
  return { summary, contents, last: messages[messages.length - 1] };
}

interface Chunk {
  id: string;
  choices: { delta: { content?: string } }[];
}

const TOKENS = ['Hello', ', ', 'wörld', ' 😀', '!'];

describe('generation producer over a pollable model', () => {
  it('the memory broker publishes synchronously; a contract-only broker does not', () => {
    const memory = new MemoryBroker();
    expect(canPublishSync(memory)).toBe(true);
    expect(canPublishSync(contractOnlyBroker(memory))).toBe(false);
  });

  for (const [name, make] of [
    ['synchronous publish', () => new MemoryBroker()],
    ['async publish only', () => contractOnlyBroker(new MemoryBroker())],
  ] as const) {
    it(`${name}: every token once, in order, then [DONE]`, async () => {
      const result = await run(make(), TOKENS);
      expect(result.summary.status).toBe('completed');
      expect(result.contents).toEqual(TOKENS);
      expect(result.last?.data).toBe('[DONE]');
    });

    it(`${name}: tokens arriving over time, merged by coalescing`, async () => {
      const result = await run(make(), TOKENS, { pace: 15, coalesceMs: 40 });
      expect(result.summary.status).toBe('completed');
      expect(result.contents.join('')).toBe(TOKENS.join(''));
      // 5 tokens 15 ms apart, at most one chunk per 40 ms: fewer chunks than tokens.
      expect(result.contents.length).toBeLessThan(TOKENS.length);
    });

    it(`${name}: a cancel stops it mid-stream`, async () => {
      const many = Array.from({ length: 200 }, (_, i) => `t${i} `);
      const result = await run(make(), many, { pace: 5, cancelAfter: 60 });
      expect(result.summary.status).toBe('cancelled');
      expect(result.contents.length).toBeGreaterThan(0);
      expect(result.contents.length).toBeLessThan(many.length);
      expect(result.contents).toEqual(many.slice(0, result.contents.length));
      expect(result.last?.data).toBe('[DONE]');
    });
  }

  it('a finished generation, kept for resuming, lets go of its model stream', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const broker = new MemoryBroker();
    const abort = new AbortController();
    // Only a WeakRef outside: the generation is the stream's one holder.
    let stream: ModelStream | undefined = upstream(TOKENS, 0, abort.signal);
    const held = new WeakRef(stream);
    const generation = generationOf(broker, stream, abort);
    stream = undefined;
    await generation.start();
    expect((await generation.ended).status).toBe('completed');
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(held.deref()).toBeUndefined();
    // Still resumable: the history and the envelope are all a reader needs.
    const { messages } = await broker.history(generation.channel);
    expect(messages.at(-1)?.data).toBe('[DONE]');
    expect(generation.summary?.usage.prompt_tokens).toBe(1);
  });
});
