/**
 * The LLM endpoints as mounted by the server: the official `openai` client pointed at
 * sluice's base URL works unchanged, and a generation is resumable by its id.
 */
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: OpenAI;
beforeEach(async () => {
  server = await startServer({ keepAlive: null });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterEach(async () => {
  await server.close();
});

describe('LLM endpoints on the server', () => {
  it('lists sluice-mock and streams a chat completion to the openai client', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('sluice-mock');
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'sluice-mock',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Say hello [mock:ttft=0] [mock:tps=1000]' }],
      })
      .withResponse();
    const generationId = response.headers.get('x-generation-id');
    expect(generationId).toBeTruthy();
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);

    // The same generation replays from its id (another tab, or after a reload).
    const replay = await fetch(`${server.url}/v1/generations/${generationId}/events`);
    expect(replay.status).toBe(200);
    const body = await replay.text();
    expect(body).toContain('data: [DONE]');
  });
});
