/**
 * An upstream that answers and then misbehaves, or a request refused after the upstream
 * already answered: the upstream connection is closed, the client gets a coded error in
 * bounded time, never a hang or a 500. A real `node:http` server plays the upstream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readSse, startLlmServer } from './helpers.js';

interface FakeUpstream {
  url: string;
  /** Per request, in arrival order: whether its response was closed. */
  closed: boolean[];
  close(): Promise<void>;
}

async function fakeUpstream(answer: (res: http.ServerResponse) => void): Promise<FakeUpstream> {
  const closed: boolean[] = [];
  const server = http.createServer((req, res) => {
    const index = closed.push(false) - 1;
    res.on('close', () => (closed[index] = true));
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    closed,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const chunk = (content: string): string =>
  `data: ${JSON.stringify({
    id: 'up',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  })}\n\n`;

function post(baseURL: string, stream: boolean): Promise<Response> {
  return fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-x', stream, messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(5_000), // a hang fails the test instead of stalling it
  });
}

/** The upstream and a sluice proxying to it, both closed after the test. */
async function setUp(
  answer: (res: http.ServerResponse) => void,
  options: Omit<Parameters<typeof startLlmServer>[0] & object, 'upstream'> & {
    headersTimeoutMs?: number;
    finishTailMs?: number;
  } = {},
) {
  const { headersTimeoutMs, finishTailMs, ...rest } = options;
  const upstream = await fakeUpstream(answer);
  const server = await startLlmServer({
    ...rest,
    upstream: {
      baseUrl: upstream.url,
      ...(headersTimeoutMs ? { headersTimeoutMs } : {}),
      ...(finishTailMs ? { finishTailMs } : {}),
    },
  });
  cleanups.push(
    () => upstream.close(),
    () => server.close(),
  );
  return { upstream, server };
}

async function expectUpstreamError(response: Response, status: number): Promise<void> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string } };
  expect(body.error.code).toBe('llm_upstream_error');
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('upstream failures', () => {
  it('a streamed request refused for want of a generation slot (429) never calls the upstream', async () => {
    // A generation that runs for good: the only slot stays taken.
    const { upstream, server } = await setUp(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('a'));
      },
      { maxGenerations: 1, generationGraceMs: null },
    );
    const first = await post(server.baseURL, true);
    expect(first.status).toBe(200);
    const second = await post(server.baseURL, true);
    expect(second.status).toBe(429);
    await second.body?.cancel();
    // One upstream request only, still running: the refused one cost the upstream nothing.
    expect(upstream.closed).toEqual([false]);
    await first.body?.cancel();
  });

  it('an error status whose body never comes is answered within the headers timeout', async () => {
    const { upstream, server } = await setUp(
      (res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.flushHeaders(); // and then nothing
      },
      { headersTimeoutMs: 300 },
    );
    await expectUpstreamError(await post(server.baseURL, true), 502);
    await until(() => upstream.closed[0] === true);
    expect(upstream.closed).toEqual([true]);
  });

  it('a connection that breaks after the finish reason ends a whole answer normally', async () => {
    const { server } = await setUp((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('whole'));
      const finish = { choices: [{ index: 0, delta: {}, finish_reason: 'length' }] };
      // No usage chunk, no [DONE], no end of the chunked body: the socket just goes.
      res.write(`data: ${JSON.stringify(finish)}\n\n`, () => {
        setTimeout(() => res.socket?.destroy(), 20);
      });
    });
    const response = await post(server.baseURL, true);
    const id = response.headers.get('x-generation-id') ?? '';
    const streamed = await readSse(response);
    expect(streamed.data.at(-1)).toBe('[DONE]');
    expect(streamed.data.join('')).toContain('"finish_reason":"length"');
    const summary = await server.nextUsage(id);
    expect(summary).toMatchObject({
      status: 'completed',
      finishReason: 'length',
      usageCounted: true,
    });

    const whole = await post(server.baseURL, false);
    expect(whole.status).toBe(200);
    const body = (await whole.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toBe('whole');
  });

  it('an upstream silent after the finish reason ends a whole answer normally, soon', async () => {
    const { upstream, server } = await setUp(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('whole'));
        const finish = { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
        res.write(`data: ${JSON.stringify(finish)}\n\n`); // then nothing, connection open
      },
      { finishTailMs: 200 },
    );
    const response = await post(server.baseURL, true);
    const id = response.headers.get('x-generation-id') ?? '';
    const streamed = await readSse(response);
    expect(streamed.data.at(-1)).toBe('[DONE]');
    expect(streamed.data.join('')).toContain('"finish_reason":"stop"');
    expect(await server.nextUsage(id)).toMatchObject({ status: 'completed', finishReason: 'stop' });
    await until(() => upstream.closed[0] === true);
    expect(upstream.closed).toEqual([true]); // its connection is not kept: its state is unknown
  });

  it('a JSON answer that is not JSON is a 502 upstream error, not a 500', async () => {
    const { server } = await setUp((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [');
    });
    await expectUpstreamError(await post(server.baseURL, false), 502);
  });

  it('a JSON answer of the wrong shape (a null tool call) is a 502 upstream error, not a 500', async () => {
    const { server } = await setUp((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const message = { role: 'assistant', content: null, tool_calls: [null] };
      res.end(JSON.stringify({ choices: [{ index: 0, message, finish_reason: 'tool_calls' }] }));
    });
    await expectUpstreamError(await post(server.baseURL, false), 502);
    await expectUpstreamError(await post(server.baseURL, true), 502);
  });
});
