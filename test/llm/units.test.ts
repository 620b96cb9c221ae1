import { describe, expect, it } from 'vitest';
import { DeltaBuffer } from '../../src/llm/chunk-builder.js';
import { ChunkNormalizer } from '../../src/llm/chunk-normalizer.js';
import { LLM_CONFIG_OPTIONS, llmOptionsFromEnv } from '../../src/llm/options.js';
import { createModelRouter, parseModelMap } from '../../src/llm/model-router.js';
import { createMockModel } from '../../src/llm/mock-model.js';
import type { ModelEvent, ModelProvider } from '../../src/llm/model.js';
import { parseDirectives, planMockScript } from '../../src/llm/mock-script.js';
import type { ChatCompletionRequest } from '../../src/llm/openai-types.js';

const request = (
  content: string,
  extra: Partial<ChatCompletionRequest> = {},
): ChatCompletionRequest => ({
  model: 'sluice-mock',
  messages: [{ role: 'user', content }],
  ...extra,
});
const limits = { defaultTokens: 24, maxTokens: 4096 };

describe('mock script', () => {
  it('is deterministic per prompt and seed, and speaks multi-byte text', () => {
    const a = planMockScript(request('hello', { seed: 1 }), limits);
    expect(planMockScript(request('hello', { seed: 1 }), limits)).toEqual(a);
    expect(planMockScript(request('hello', { seed: 2 }), limits).tokens).not.toEqual(a.tokens);
    const long = planMockScript(request('hello [mock:tokens=400]'), limits).tokens.join('');
    expect([...long].some((c) => c.codePointAt(0)! > 0x7f)).toBe(true);
  });

  it('reads directives, honours max_tokens and caps length', () => {
    expect(parseDirectives('[mock:tool=a,b] [mock:error=3] [mock:tps=10] [mock:echo]')).toEqual({
      tool: ['a', 'b'],
      error: 3,
      tps: 10,
      echo: true,
    });
    const capped = planMockScript(request('x [mock:tokens=50]', { max_tokens: 7 }), limits);
    expect(capped.tokens).toHaveLength(7);
    expect(capped.finishReason).toBe('length');
    expect(planMockScript(request('x [mock:tokens=99999]'), limits).tokens).toHaveLength(4096);
    expect(planMockScript(request('echo this 水門 [mock:echo]'), limits).tokens.join('')).toBe(
      'echo this 水門',
    );
  });

  it('answers a tool result with text, so tool loops end', () => {
    const script = planMockScript(
      {
        model: 'm',
        messages: [
          { role: 'user', content: 'go [mock:tool]' },
          { role: 'tool', content: '{"ok":true}', tool_call_id: 'c1' },
        ],
        tools: [{ type: 'function', function: { name: 'f' } }],
      },
      limits,
    );
    expect(script.toolCalls).toEqual([]);
    expect(script.tokens.join('')).toBe('Tool result received: {"ok":true}');
  });

  it('stops when its signal aborts', async () => {
    const mock = createMockModel({ tokensPerSecond: 1000, timeToFirstTokenMs: null });
    const abort = new AbortController();
    const stream = await mock.open(request('x [mock:tokens=1000]'), {
      model: 'm',
      signal: abort.signal,
    });
    let n = 0;
    const run = (async () => {
      for await (const event of stream) if (event.type === 'content' && ++n === 3) abort.abort();
    })();
    await expect(run).rejects.toBeTruthy();
    expect(n).toBe(3);
  });
});

describe('chunk normalizer', () => {
  it('holds arguments until the name arrives, remaps indexes, tolerates a missing index', () => {
    const n = new ChunkNormalizer();
    const events: ModelEvent[] = [];
    const push = (delta: unknown, finish: string | null = null) =>
      events.push(...n.push({ choices: [{ index: 0, delta, finish_reason: finish }] }));
    push({ tool_calls: [{ index: 3, function: { arguments: '{"a":' } }] });
    push({ tool_calls: [{ index: 3, id: 'c1', function: { name: 'f', arguments: '1}' } }] });
    push({ tool_calls: [{ id: 'c2', function: { name: 'g', arguments: '{' } }] });
    push({ tool_calls: [{ function: { arguments: '}' } }] }, 'tool_calls');
    expect(events).toEqual([
      { type: 'tool_call', index: 0, id: 'c1', name: 'f', arguments: '{"a":1}' },
      { type: 'tool_call', index: 1, id: 'c2', name: 'g', arguments: '{' },
      { type: 'tool_call', index: 1, arguments: '}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('a reused index with a new id is a new call (parallel calls all at index 0, as Gemini sends)', () => {
    const n = new ChunkNormalizer();
    const events: ModelEvent[] = [];
    const push = (delta: unknown, finish: string | null = null) =>
      events.push(...n.push({ choices: [{ index: 0, delta, finish_reason: finish }] }));
    const call = (id: string, name: string, args: string) => ({
      tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: args } }],
    });
    push(call('a', 'weather', '{"city":"Paris"}'));
    push(call('b', 'time', '{"tz":'));
    push({ tool_calls: [{ index: 0, function: { arguments: '"UTC"' } }] });
    // The same id again, or a new id without a name (an unstable id), is the same call.
    push(call('b', 'time', ''));
    push({ tool_calls: [{ index: 0, id: 'b2', function: { arguments: '}' } }] }, 'tool_calls');
    expect(events).toEqual([
      { type: 'tool_call', index: 0, id: 'a', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'tool_call', index: 1, id: 'b', name: 'time', arguments: '{"tz":' },
      { type: 'tool_call', index: 1, arguments: '"UTC"' },
      { type: 'tool_call', index: 1, arguments: '}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('maps foreign finish reasons and throws on error payloads', () => {
    const n = new ChunkNormalizer();
    expect(n.push({ choices: [{ index: 0, delta: {}, finish_reason: 'max_tokens' }] })).toEqual([
      { type: 'finish', reason: 'length' },
    ]);
    expect(() => n.push({ error: { message: 'boom', code: 'x' } })).toThrow(/boom/);
  });
});

describe('delta buffer (coalescing unit)', () => {
  it('merges content and same-call argument fragments; role rides on the first delta', () => {
    const buffer = new DeltaBuffer();
    buffer.add({ type: 'content', text: 'a' });
    buffer.add({ type: 'content', text: 'b' });
    expect(buffer.take()).toEqual({ role: 'assistant', content: 'ab' });
    buffer.add({ type: 'tool_call', index: 0, id: 'c', name: 'f', arguments: '' });
    buffer.add({ type: 'tool_call', index: 0, arguments: '{"x"' });
    buffer.add({ type: 'tool_call', index: 0, arguments: ':1}' });
    buffer.add({ type: 'tool_call', index: 1, id: 'd', name: 'g', arguments: '{}' });
    expect(buffer.take()).toEqual({
      tool_calls: [
        { index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
        { index: 1, id: 'd', type: 'function', function: { name: 'g', arguments: '{}' } },
      ],
    });
  });
});

describe('model routing and configuration', () => {
  const fake = (name: string): ModelProvider => ({
    name,
    open: () => Promise.reject(new Error('unused')),
    listModels: async () => [{ id: `${name}-model`, object: 'model', created: 0, owned_by: name }],
  });

  it('routes sluice-mock to the mock, maps names, and is strict without a wildcard', async () => {
    const mock = fake('mock');
    const upstream = fake('up');
    const open = createModelRouter({
      mock,
      upstream,
      modelMap: { 'gpt-4o': 'llama3', '*': 'qwen' },
    });
    expect(open.route('sluice-mock')).toEqual({ provider: mock, model: 'sluice-mock' });
    expect(open.route('gpt-4o')).toEqual({ provider: upstream, model: 'llama3' });
    expect(open.route('other')).toEqual({ provider: upstream, model: 'qwen' });
    const strict = createModelRouter({
      mock,
      upstream,
      modelMap: { chat: 'llama3', demo: 'sluice-mock' },
    });
    expect(strict.route('demo').provider).toBe(mock);
    expect(() => strict.route('gpt-4o')).toThrow(
      expect.objectContaining({ code: 'llm_model_not_found' }),
    );
    expect(createModelRouter({ mock }).route('anything').provider).toBe(mock);
    expect((await open.listModels()).map((m) => m.id)).toEqual([
      'mock-model',
      'gpt-4o',
      'up-model',
    ]);
    expect(parseModelMap(' a=b , c = d ')).toEqual({ a: 'b', c: 'd' });
    expect(() => parseModelMap('broken')).toThrow();
  });

  it('builds options from env and flags (flags win)', () => {
    const options = llmOptionsFromEnv(
      {
        OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
        OPENAI_API_KEY: 'sk-1',
        SLUICE_GENERATION_GRACE_MS: 'never',
        SLUICE_MOCK_TPS: '0',
        SLUICE_MODEL_MAP: 'gpt-4o=llama3',
      },
      { '--upstream-api-key': 'sk-flag', '--coalesce-ms': '25', '--mock-ttft-ms': '10' },
    );
    expect(options).toEqual({
      upstream: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: 'sk-flag' },
      modelMap: { 'gpt-4o': 'llama3' },
      generationGraceMs: null,
      coalesceMs: 25,
      mock: { tokensPerSecond: null, timeToFirstTokenMs: 10 },
    });
    expect(llmOptionsFromEnv({ OPENAI_API_KEY: 'sk-only' })).toEqual({});
    expect(() => llmOptionsFromEnv({ SLUICE_COALESCE_MS: 'soon' })).toThrow(/--coalesce-ms/);
    expect(new Set(LLM_CONFIG_OPTIONS.map((o) => o.flag)).size).toBe(LLM_CONFIG_OPTIONS.length);
  });
});
