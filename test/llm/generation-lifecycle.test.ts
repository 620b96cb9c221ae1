/**
 * Races at the end of a generation: a stop (cancel, grace expiry) that arrives after the
 * model gave its finish reason, while only its usage or end of stream is still to come,
 * must not turn a whole answer into a cancelled or abandoned one.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { Generation } from '../../src/llm/generation.js';
import { GenerationReader } from '../../src/llm/generation-reader.js';
import type { ModelEvent, ModelStream } from '../../src/llm/model.js';

/** A model that calls a tool, finishes, then takes `tailMs` before its usage and end. */
function finishingModel(finished: () => void, tailMs: number, signal: AbortSignal): ModelStream {
  async function* events(): AsyncGenerator<ModelEvent> {
    yield { type: 'tool_call', index: 0, id: 'call_1', name: 'f', arguments: '{"a":1}' };
    yield { type: 'finish', reason: 'tool_calls' };
    finished();
    await new Promise((resolve) => setTimeout(resolve, tailMs));
    if (signal.aborted) return;
    const usage = { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 };
    yield { type: 'usage', usage };
  }
  return { promptTokens: 3, [Symbol.asyncIterator]: () => events() };
}

async function lastChunks(broker: MemoryBroker, generation: Generation): Promise<string[]> {
  const { messages } = await broker.history(generation.channel);
  return messages.slice(-2).map((m) => String(m.data));
}

/** A generation over `stream` with the defaults these races need (no coalescing, 100 events). */
function generationOf(
  id: string,
  broker: MemoryBroker,
  stream: ModelStream,
  abort: AbortController,
  graceMs: number | null,
): Generation {
  return new Generation({
    id,
    broker,
    stream,
    abort,
    model: 'm',
    provider: 'p',
    created: 0,
    includeUsage: false,
    graceMs,
    coalesceMs: null,
    maxEvents: 100,
  });
}

describe('generation end races', () => {
  it('a cancel after the model finished keeps the finish reason and does not claim the cancel', async () => {
    const broker = new MemoryBroker();
    const abort = new AbortController();
    const ref: { generation?: Generation } = {};
    let cancelled: boolean | undefined;
    const stream = finishingModel(
      () => setTimeout(() => (cancelled = ref.generation?.cancel()), 5),
      40,
      abort.signal,
    );
    const generation = generationOf('chatcmpl-race1', broker, stream, abort, null);
    ref.generation = generation;
    await generation.start();
    const summary = await generation.ended;
    expect(cancelled).toBe(false);
    expect(summary.status).toBe('completed');
    expect(summary.finishReason).toBe('tool_calls');
    expect(summary.usage.total_tokens).toBe(8); // the model's own usage still arrived
    const [finish, done] = await lastChunks(broker, generation);
    expect(JSON.parse(finish!)).toMatchObject({ choices: [{ finish_reason: 'tool_calls' }] });
    expect(JSON.parse(finish!)).not.toHaveProperty('sluice');
    expect(done).toBe('[DONE]');
  });

  it('grace expiry after the model finished ends it as completed, not abandoned', async () => {
    const broker = new MemoryBroker();
    const abort = new AbortController();
    const stream = finishingModel(() => undefined, 200, abort.signal);
    const generation = generationOf('chatcmpl-race2', broker, stream, abort, 20);
    const detach = generation.attach();
    await generation.start();
    setTimeout(detach, 10); // the reader leaves after the finish; grace ends during the tail
    const summary = await generation.ended;
    expect(summary.status).toBe('completed');
    expect(summary.finishReason).toBe('tool_calls');
    expect(summary.error).toBeUndefined();
    expect((await lastChunks(broker, generation))[1]).toBe('[DONE]');
  });

  it('a reader whose subscription is closed before the end (shutdown) gets an error frame, not a clean end', async () => {
    const broker = new MemoryBroker();
    const abort = new AbortController();
    const stream = finishingModel(() => undefined, 0, abort.signal);
    const generation = generationOf('chatcmpl-race3', broker, stream, abort, null);
    await generation.start();
    const reader = new GenerationReader(generation); // behind: has read nothing yet
    await generation.ended;
    await broker.close(); // as the LLM handler's close() does after its generations ended
    const data: string[] = [];
    for await (const fields of reader) data.push(String(fields.data));
    expect(data).toHaveLength(1);
    expect(JSON.parse(data[0]!)).toMatchObject({ error: { code: 'broker_closed' } });
    expect(generation.readers).toBe(0);
  });
});
