/**
 * Bad Chat Completions bodies get a coded 400 naming the field, never a 500 from a crash in
 * the mock model; odd but harmless values (a null `tool_choice`, a schema that is not an
 * object) are tolerated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, startLlmServer, type LlmTestServer } from './helpers.js';

let server: LlmTestServer;
beforeAll(async () => {
  server = await startLlmServer();
});
afterAll(async () => {
  await server.close();
});

const tools = [{ type: 'function', function: { name: 'f' } }];

interface Answer {
  error?: Record<string, unknown>;
  choices?: { finish_reason: string; message: { tool_calls?: { function: { name: string } }[] } }[];
}

async function post(body: unknown): Promise<{ status: number; json: Answer }> {
  const response = await fetch(`${server.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Answer };
}

describe('request validation', () => {
  it.each([
    [
      'a tool_choice object without a function name',
      chat('hi', { tools, tool_choice: { type: 'function' } }),
      'tool_choice',
    ],
    ['a tool_choice that is a number', chat('hi', { tools, tool_choice: 3 }), 'tool_choice'],
    [
      'a content part that is not an object',
      {
        model: 'sluice-mock',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, null] }],
      },
      'messages[0].content[1]',
    ],
  ])('%s is a 400 naming the field', async (_name, body, param) => {
    const { status, json } = await post(body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'llm_invalid_request', param });
  });

  it('a null tool_choice is the default, not a crash', async () => {
    const { status, json } = await post(chat('hi', { tools, tool_choice: null }));
    expect(status).toBe(200);
    expect(json.choices?.[0]?.finish_reason).toBe('stop');
  });

  it('the mock invents arguments even for a schema with non-object parts', async () => {
    const parameters = { type: 'object', properties: { a: null, b: 'text' } };
    const { status, json } = await post(
      chat('[mock:tool]', { tools: [{ type: 'function', function: { name: 'f', parameters } }] }),
    );
    expect(status).toBe(200);
    expect(json.choices?.[0]?.message.tool_calls?.[0]?.function.name).toBe('f');
  });
});
