import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes } from './fixture-cases.js';
import { startLlmServer, type LlmTestServer } from './helpers.js';

/** sluice (front, upstream provider) → sluice (back, mock): a real proxy chain. */
let back: LlmTestServer;
let front: LlmTestServer;
let client: OpenAI;
let backClient: OpenAI;
const seenAuth: string[] = [];

beforeAll(async () => {
  back = await startLlmServer({ generationGraceMs: 0 });
  front = await startLlmServer({
    generationGraceMs: 0,
    upstream: { baseUrl: back.baseURL, apiKey: 'upstream-key' },
    modelMap: { 'gpt-4o': 'llama3', '*': 'passthrough-model' },
  });
  client = new OpenAI({ baseURL: front.baseURL, apiKey: 'front', maxRetries: 0 });
  backClient = new OpenAI({ baseURL: back.baseURL, apiKey: 'back', maxRetries: 0 });
});

afterAll(async () => {
  await front.close();
  await back.close();
});

const prompt = (content: string) => [{ role: 'user' as const, content }];

describe('upstream provider against a second sluice', () => {
  it('streams the upstream text unchanged, with exact usage from the upstream', async () => {
    const messages = prompt('Proxy me [mock:tokens=30]');
    const direct = await backClient.chat.completions.create({ model: 'x', messages, seed: 5 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let model = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
      model = chunk.model;
    }
    expect(text).toBe(direct.choices[0]!.message.content);
    expect(model).toBe('gpt-4o');
    expect(usage).toEqual(direct.usage);
    const backUsage = back.usage.at(-1)!;
    expect(backUsage.model).toBe('llama3'); // the model map renamed it for the upstream
    const frontUsage = front.usage.at(-1)!;
    expect(frontUsage.usageCounted).toBe(false);
    expect(frontUsage.usage).toEqual(direct.usage);
  });

  it('non-streaming through the chain, and tool calls re-emitted', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'lookup',
          parameters: { type: 'object', properties: { q: { type: 'string' } } },
        },
      },
    ];
    const messages = prompt('find it [mock:tool]');
    const direct = await backClient.chat.completions.create({
      model: 'm',
      messages,
      tools,
      seed: 1,
    });
    const proxied = await client.chat.completions.create({ model: 'm', messages, tools, seed: 1 });
    expect(proxied.choices[0]!.finish_reason).toBe('tool_calls');
    expect(proxied.choices[0]!.message.tool_calls).toEqual(direct.choices[0]!.message.tool_calls);
    expect(back.usage.at(-1)!.model).toBe('passthrough-model');
  });

  it('a client abort on the front aborts the upstream request on the back', async () => {
    const before = back.abortedRequests();
    const backEnded = back.nextUsage();
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'm',
        messages: prompt('long [mock:tokens=3000] [mock:tps=300]'),
        stream: true,
      })
      .withResponse();
    const frontId = response.headers.get('x-generation-id')!;
    let n = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++n === 5) break;
    }
    const frontEnd = await front.nextUsage(frontId);
    expect(frontEnd.status).toBe('abandoned');
    // The back's generation lost its only reader (the front's fetch) and was stopped too.
    const backEnd = await backEnded;
    expect(backEnd.status).toBe('abandoned');
    expect(backEnd.usage.completion_tokens).toBeLessThan(3000);
    expect(back.abortedRequests()).toBeGreaterThan(before);
  });

  it('cancel on the front stops the upstream generation', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'm',
        messages: prompt('cancel me [mock:tokens=3000] [mock:tps=300]'),
        stream: true,
      })
      .withResponse();
    const id = response.headers.get('x-generation-id')!;
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    const backEnded = back.nextUsage();
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (chunks.length === 3) {
        const answer = await fetch(`${front.baseURL}/generations/${id}/cancel`, { method: 'POST' });
        expect(answer.status).toBe(200);
        expect(await answer.json()).toMatchObject({ id, status: 'cancelled', cancelled: true });
      }
    }
    const last = chunks.at(-1)! as OpenAI.Chat.Completions.ChatCompletionChunk & {
      sluice?: unknown;
    };
    expect(last.choices[0]!.finish_reason).toBe('stop');
    expect(last.sluice).toEqual({ reason: 'cancelled' });
    expect((await backEnded).status).toBe('abandoned');
  });

  it('errors: before the stream (status kept or 502) and mid-stream (error frame)', async () => {
    const before = await client.chat.completions
      .create({ model: 'm', messages: prompt('[mock:error-before]'), stream: true })
      .catch((e: unknown) => e);
    expect(before).toBeInstanceOf(APIError);
    expect((before as APIError).status).toBe(502);
    expect((before as APIError).code).toBe('llm_upstream_error');
    expect((before as APIError).message).toMatch(/error-before/);

    const stream = await client.chat.completions.create({
      model: 'm',
      messages: prompt('[mock:error=2]'),
      stream: true,
    });
    const mid = await (async () => {
      try {
        for await (const chunk of stream) void chunk;
      } catch (e) {
        return e;
      }
    })();
    expect(mid).toBeInstanceOf(APIError);
    expect((mid as APIError).code).toBe('llm_upstream_error');
    expect((mid as APIError).message).toMatch(/\[mock:error\]/);
  });
});

describe('a truncated upstream', () => {
  let raw: http.Server;
  let proxy: LlmTestServer;

  beforeAll(async () => {
    const body = fixtureBytes('truncated.sse');
    raw = http.createServer((req, res) => {
      seenAuth.push(req.headers.authorization ?? '');
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(body); // no finish reason, no [DONE], connection closes
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const { port } = raw.address() as AddressInfo;
    proxy = await startLlmServer({
      upstream: { baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test' },
    });
  });

  afterAll(async () => {
    await proxy.close();
    raw.closeAllConnections();
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  });

  it('reaches the openai client as an error, never as a normal end', async () => {
    const openai = new OpenAI({ baseURL: proxy.baseURL, apiKey: 'x', maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: 'gpt-x',
      messages: prompt('hi'),
      stream: true,
    });
    let text = '';
    const failure = await (async () => {
      try {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      } catch (e) {
        return e;
      }
    })();
    expect(text).toBe('This answer stops mid-');
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('llm_upstream_truncated');
    expect(seenAuth.at(-1)).toBe('Bearer sk-test');
    const usage = proxy.usage.at(-1)!;
    expect(usage.status).toBe('failed');
    expect(usage.usage.completion_tokens).toBe(5);
  });

  it('non-streaming: an HTTP 502 with the truncation code', async () => {
    const response = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-x', messages: prompt('hi') }),
    });
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: { code: 'llm_upstream_truncated' } });
  });
});
