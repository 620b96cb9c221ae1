import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlmServer, type LlmTestServer } from './helpers.js';

let server: LlmTestServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startLlmServer({ generationGraceMs: 0 });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'test', maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
});

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { type: 'string' } } },
    },
  },
];

describe('the official openai client against sluice', () => {
  it('non-streaming: one chat.completion, deterministic for a prompt and seed', async () => {
    const request = {
      model: 'sluice-mock',
      messages: [{ role: 'user' as const, content: 'Tell me about sluices' }],
      seed: 7,
    };
    const a = await client.chat.completions.create(request);
    const b = await client.chat.completions.create(request);
    expect(a.object).toBe('chat.completion');
    expect(a.id).toMatch(/^chatcmpl-/);
    expect(a.choices[0]!.finish_reason).toBe('stop');
    expect(a.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(a.usage!.total_tokens).toBe(a.usage!.prompt_tokens + a.usage!.completion_tokens);
    const other = await client.chat.completions.create({ ...request, seed: 8 });
    expect(other.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });

  it('streaming: role first, same text as non-streaming, finish stop, ends after [DONE]', async () => {
    const request = {
      model: 'sluice-mock',
      messages: [{ role: 'user' as const, content: 'Stream me something [mock:tokens=40]' }],
      seed: 3,
    };
    const whole = await client.chat.completions.create(request);
    const { data: stream, response } = await client.chat.completions
      .create({ ...request, stream: true })
      .withResponse();
    const generationId = response.headers.get('x-generation-id');
    expect(generationId).toMatch(/^chatcmpl-/);
    let text = '';
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.slice(1).every((c) => c.choices[0]?.delta.role === undefined)).toBe(true);
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set([generationId]));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect([...text].length).toBeGreaterThan(10);
    const usage = await server.nextUsage(generationId!);
    expect(usage.status).toBe('completed');
    expect(usage.usage.completion_tokens).toBe(40);
  });

  it('include_usage: a final chunk with empty choices and usage; usage null before it', async () => {
    const stream = await client.chat.completions.create({
      model: 'sluice-mock',
      messages: [{ role: 'user', content: 'count [mock:tokens=12]' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 12 });
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + 12);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('tool calls: id, type and name on the first fragment, arguments after, finish tool_calls', async () => {
    const stream = await client.chat.completions.create({
      model: 'sluice-mock',
      messages: [
        { role: 'user', content: 'What is the weather? [mock:tool=get_weather,get_time]' },
      ],
      tools,
      stream: true,
    });
    const calls: { id?: string; name?: string | undefined; args: string }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      finish = choice.finish_reason ?? finish;
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = (calls[delta.index] ??= { args: '' });
        if (delta.id) {
          expect(call.id).toBeUndefined();
          call.id = delta.id;
          expect(delta.type).toBe('function');
          call.name = delta.function?.name;
        } else {
          expect(delta.function?.name).toBeUndefined();
        }
        call.args += delta.function?.arguments ?? '';
      }
    }
    expect(finish).toBe('tool_calls');
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    const weather = JSON.parse(calls[0]!.args) as { city: string; days: number };
    expect(typeof weather.city).toBe('string');
    expect(weather.city).toContain('水門');
    expect(Number.isInteger(weather.days)).toBe(true);
    expect(JSON.parse(calls[1]!.args)).toHaveProperty('zone');

    // The SDK's own accumulating helper agrees.
    const runner = client.chat.completions.stream({
      model: 'sluice-mock',
      messages: [
        { role: 'user', content: 'What is the weather? [mock:tool=get_weather,get_time]' },
      ],
      tools,
    });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.tool_calls?.map((c) => (c.type === 'function' ? c.function.name : ''))).toEqual([
      'get_weather',
      'get_time',
    ]);
    const toolCall = message.tool_calls![0]!;
    expect(toolCall.type === 'function' && JSON.parse(toolCall.function.arguments)).toEqual(
      weather,
    );
  });

  it('non-streaming tool call: message.tool_calls and null content', async () => {
    const completion = await client.chat.completions.create({
      model: 'sluice-mock',
      messages: [{ role: 'user', content: 'weather please' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
  });

  it('abort: breaking out of the loop stops the generation on the server', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'sluice-mock',
        messages: [{ role: 'user', content: 'long one [mock:tokens=2000] [mock:tps=200]' }],
        stream: true,
      })
      .withResponse();
    const id = response.headers.get('x-generation-id')!;
    let seen = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) seen++;
      if (seen === 3) break;
    }
    const usage = await server.nextUsage(id);
    expect(usage.status).toBe('abandoned');
    expect(usage.usageCounted).toBe(true);
    expect(usage.usage.completion_tokens).toBeGreaterThanOrEqual(3);
    expect(usage.usage.completion_tokens).toBeLessThan(2000);
  });

  it('a mid-stream error reaches the client as an APIError after the first tokens', async () => {
    const stream = await client.chat.completions.create({
      model: 'sluice-mock',
      messages: [{ role: 'user', content: 'fail soon [mock:error=3]' }],
      stream: true,
    });
    let text = '';
    const failure = await (async () => {
      try {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('llm_mock_error');
    expect(text.length).toBeGreaterThan(0);
  });

  it('errors before the stream are HTTP errors in OpenAI shape', async () => {
    const before = await client.chat.completions
      .create({
        model: 'sluice-mock',
        messages: [{ role: 'user', content: '[mock:error-before]' }],
        stream: true,
      })
      .catch((error: unknown) => error);
    expect(before).toBeInstanceOf(APIError);
    expect((before as APIError).status).toBe(500);
    expect((before as APIError).code).toBe('llm_mock_error');

    const bad = await client.chat.completions
      .create({ model: 'sluice-mock', messages: [] })
      .catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as APIError).code).toBe('llm_invalid_request');
    expect((bad as APIError).param).toBe('messages');
  });

  it('GET /v1/models lists sluice-mock', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((m) => m.id)).toContain('sluice-mock');
    const one = await client.models.retrieve('sluice-mock');
    expect(one).toMatchObject({ id: 'sluice-mock', object: 'model', owned_by: 'sluice' });
  });
});
