import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamChat, type ChatDelta } from '../../src/client/stream-chat.js';
import { isSluiceError } from '../../src/core/errors.js';
import { startLlmServer, type LlmTestServer } from './helpers.js';

let server: LlmTestServer;

beforeAll(async () => {
  server = await startLlmServer({ generationGraceMs: 2_000 });
});

afterAll(async () => {
  await server.close();
});

const body = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'sluice-mock',
  messages: [{ role: 'user', content }],
  ...extra,
});

async function completionText(content: string, seed = 0): Promise<string> {
  const response = await fetch(`${server.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body(content, { seed })),
  });
  const json = (await response.json()) as { choices: { message: { content: string } }[] };
  return json.choices[0]!.message.content;
}

describe('streamChat()', () => {
  it('yields deltas, accumulates text, reports finish and usage', async () => {
    const prompt = 'Hello there [mock:tokens=25]';
    const expected = await completionText(prompt);
    const chat = streamChat({
      baseUrl: server.baseURL,
      body: body(prompt, { stream_options: { include_usage: true } }),
    });
    const deltas: ChatDelta[] = [];
    for await (const delta of chat) deltas.push(delta);
    const text = deltas.map((d) => (d.type === 'text' ? d.text : '')).join('');
    expect(text).toBe(expected);
    expect(chat.text).toBe(expected);
    expect(chat.generationId).toMatch(/^chatcmpl-/);
    expect(chat.finishReason).toBe('stop');
    expect(chat.usage?.completion_tokens).toBe(25);
    expect(chat.status).toBe('done');
    expect(deltas.filter((d) => d.type === 'finish')).toEqual([
      { type: 'finish', reason: 'stop', cancelled: false },
    ]);
    const result = await chat.result();
    expect(result).toMatchObject({ text: expected, cancelled: false, aborted: false });
  });

  it('assembles tool calls', async () => {
    const chat = streamChat({
      baseUrl: server.baseURL,
      body: body('weather [mock:tool]', {
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          },
        ],
      }),
    });
    const result = await chat.result();
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]!.function.name).toBe('get_weather');
    expect(result.toolCalls[0]!.id).toMatch(/^call_/);
    expect(JSON.parse(result.toolCalls[0]!.function.arguments)).toHaveProperty('city');
  });

  it('resumes after a dropped connection: full text exactly once, one model run', async () => {
    const prompt = 'Resume me [mock:tokens=80] [mock:tps=150]';
    const expected = await completionText(prompt);
    const chat = streamChat({
      baseUrl: server.baseURL,
      body: body(prompt),
      resume: { backoff: { initialDelay: 10, maxDelay: 50 } },
    });
    let texts = 0;
    let resumed = 0;
    for await (const delta of chat) {
      if (delta.type === 'text' && ++texts === 10) expect(server.cutStreams()).toBeGreaterThan(0);
      if (delta.type === 'resumed') resumed++;
    }
    expect(resumed).toBeGreaterThanOrEqual(1);
    expect(chat.text).toBe(expected);
    expect(chat.finishReason).toBe('stop');
    const usage = await server.nextUsage(chat.generationId);
    expect(usage.status).toBe('completed');
    expect(server.usage.filter((u) => u.id === chat.generationId)).toHaveLength(1);
  });

  it('a second follower (another tab) gets the full text too, from the same generation', async () => {
    const prompt = 'Follow me [mock:tokens=60] [mock:tps=150]';
    const expected = await completionText(prompt);
    const first = streamChat({ baseUrl: server.baseURL, body: body(prompt) });
    let follower: ReturnType<typeof streamChat> | undefined;
    let followerResult: Promise<unknown> | undefined;
    let texts = 0;
    for await (const delta of first) {
      if (delta.type === 'text' && ++texts === 5) {
        follower = streamChat({ baseUrl: server.baseURL, generationId: first.generationId! });
        followerResult = follower.result();
      }
    }
    await followerResult;
    expect(first.text).toBe(expected);
    expect(follower!.text).toBe(expected);
    expect(follower!.finishReason).toBe('stop');
    expect(server.usage.filter((u) => u.id === first.generationId)).toHaveLength(1);
  });

  it('cancel() stops the generation: finish stop, marked cancelled, usage counted', async () => {
    const chat = streamChat({
      baseUrl: server.baseURL,
      body: body('stop me [mock:tokens=3000] [mock:tps=200]'),
    });
    let texts = 0;
    for await (const delta of chat) {
      if (delta.type === 'text' && ++texts === 4) await chat.cancel();
    }
    const result = await chat.result();
    expect(result.cancelled).toBe(true);
    expect(result.finishReason).toBe('stop');
    const usage = await server.nextUsage(chat.generationId);
    expect(usage.status).toBe('cancelled');
    expect(usage.usage.completion_tokens).toBeGreaterThanOrEqual(4);
    expect(usage.usage.completion_tokens).toBeLessThan(3000);
  });

  it('abort() ends iteration quietly; the server keeps the generation for its grace period', async () => {
    const chat = streamChat({
      baseUrl: server.baseURL,
      body: body('abort me [mock:tokens=150] [mock:tps=300]'),
    });
    let texts = 0;
    for await (const delta of chat) {
      if (delta.type === 'text' && ++texts === 3) chat.abort();
    }
    const result = await chat.result();
    expect(result.aborted).toBe(true);
    expect(chat.status).toBe('aborted');
    // Still resumable: a new stream on the same id continues where this one stopped.
    const again = streamChat({
      baseUrl: server.baseURL,
      generationId: chat.generationId!,
      lastEventId: chat.lastEventId!,
    });
    await again.result();
    expect(chat.text + again.text).toBe(
      await completionText('abort me [mock:tokens=150] [mock:tps=300]'),
    );
  });

  it('a mid-stream server error is thrown with its code, not retried', async () => {
    const chat = streamChat({ baseUrl: server.baseURL, body: body('[mock:error=4]') });
    const error = await chat.result().catch((e: unknown) => e);
    expect(isSluiceError(error)).toBe(true);
    expect((error as { code: string }).code).toBe('llm_mock_error');
    expect(chat.status).toBe('error');
    expect(chat.text.length).toBeGreaterThan(0);
  });

  it('a long-lived signal keeps no listener from streams that ended (done, error, abort)', async () => {
    const page = new AbortController(); // e.g. one per page or component, many chats on it
    await streamChat({ baseUrl: server.baseURL, body: body('one'), signal: page.signal }).result();
    const failing = streamChat({
      baseUrl: server.baseURL,
      body: body('[mock:error=2]'),
      signal: page.signal,
    });
    await failing.result().catch(() => undefined);
    const aborted = streamChat({
      baseUrl: server.baseURL,
      body: body('three'),
      signal: page.signal,
    });
    aborted.abort();
    await aborted.result();
    expect(getEventListeners(page.signal, 'abort')).toHaveLength(0);
  });

  it('an HTTP error before the stream is thrown with status and code', async () => {
    const chat = streamChat({
      baseUrl: server.baseURL,
      body: { model: 'sluice-mock', messages: [] },
    });
    const error = await chat.result().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'llm_invalid_request', status: 400 });
  });
});
