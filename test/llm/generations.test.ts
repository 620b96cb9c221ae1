import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import type { LlmOptions } from '../../src/llm/index.js';
import { chat, readSse, startLlmServer, type LlmTestServer } from './helpers.js';

const servers: LlmTestServer[] = [];
async function start(options: LlmOptions = {}): Promise<LlmTestServer> {
  const server = await startLlmServer(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function post(server: LlmTestServer, payload: Record<string, unknown>): Promise<Response> {
  return fetch(`${server.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
}

function events(server: LlmTestServer, id: string, lastEventId?: string): Promise<Response> {
  return fetch(`${server.baseURL}/generations/${id}/events`, {
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
  });
}

function contentOf(data: string[]): string {
  return data
    .filter((d) => d !== '[DONE]')
    .map(
      (d) =>
        (JSON.parse(d) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta
          .content ?? '',
    )
    .join('');
}

describe('generations outlive the request', () => {
  it('SSE framing: an id on every event, no event field, [DONE] last, then the end', async () => {
    const server = await start();
    const response = await post(server, chat('frame [mock:tokens=8]', { stream: true }));
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const id = response.headers.get('x-generation-id')!;
    const text = await response.text();
    expect(text).not.toMatch(/^event:/m);
    const blocks = text.split('\n\n').filter((b) => b.includes('data:'));
    expect(blocks.every((b) => /^id: \S+$/m.test(b))).toBe(true);
    expect(blocks.at(-1)).toMatch(/data: \[DONE\]$/);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    for (const block of blocks.slice(0, -1)) expect(block).toContain(`"id":"${id}"`);
  });

  it('HEAD on the events answers the headers at once and does not count as a reader', async () => {
    const server = await start({ mock: { tokensPerSecond: 5, timeToFirstTokenMs: null } });
    const response = await post(server, chat('head [mock:tokens=50]', { stream: true }));
    const id = response.headers.get('x-generation-id')!;
    const head = await fetch(`${server.baseURL}/generations/${id}/events`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(3_000), // a HEAD that streamed would hang here
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const status = (await (await fetch(`${server.baseURL}/generations/${id}`)).json()) as {
      status: string;
      readers: number;
    };
    expect(status).toMatchObject({ status: 'running', readers: 1 }); // the POST's reader only
    await response.body?.cancel();
  });

  it('resumes after any Last-Event-ID with exactly the rest; 204 after the last one', async () => {
    const server = await start();
    const response = await post(server, chat('resume [mock:tokens=20]', { stream: true }));
    const id = response.headers.get('x-generation-id')!;
    const whole = await readSse(response);
    const replay = await readSse(await events(server, id));
    expect(replay).toEqual(whole);
    for (let k = 0; k < whole.ids.length - 1; k++) {
      const rest = await readSse(await events(server, id, whole.ids[k]));
      expect(rest.data).toEqual(whole.data.slice(k + 1));
      expect(contentOf([...whole.data.slice(0, k + 1), ...rest.data])).toBe(contentOf(whole.data));
    }
    const query = await fetch(
      `${server.baseURL}/generations/${id}/events?lastEventId=${whole.ids[3]}`,
    );
    expect((await readSse(query)).data).toEqual(whole.data.slice(4));
    const after = await events(server, id, whole.ids.at(-1));
    expect(after.status).toBe(204);
  });

  it('an unknown cursor is a 400 before any stream (EventSource stops); an unknown generation a 404', async () => {
    const server = await start();
    const response = await post(server, chat('x [mock:tokens=3]', { stream: true }));
    const id = response.headers.get('x-generation-id')!;
    await response.text();
    const bad = await events(server, id, 'not-a-cursor');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_cursor' } });
    // A native EventSource fails on the status and does not reconnect with the same cursor.
    const source = new EventSource(
      `${server.baseURL}/generations/${id}/events?lastEventId=not-a-cursor`,
    );
    await new Promise((resolve) => (source.onerror = resolve));
    expect(source.readyState).toBe(EventSource.CLOSED);
    source.close();
    const missing = await events(server, 'chatcmpl-nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'llm_generation_not_found' } });
    const cancel = await fetch(`${server.baseURL}/generations/chatcmpl-nope/cancel`, {
      method: 'POST',
    });
    expect(cancel.status).toBe(404);
    const status = await fetch(`${server.baseURL}/generations/${id}`);
    expect(await status.json()).toMatchObject({ id, status: 'completed', finish_reason: 'stop' });
  });

  it('a cursor from another generation is refused, even the id just before this one', async () => {
    const server = await start();
    const first = await readSse(await post(server, chat('one [mock:tokens=3]', { stream: true })));
    // Nothing else is published in between: the first generation's last id directly
    // precedes the second generation's own first message.
    const response = await post(server, chat('two [mock:tokens=3]', { stream: true }));
    const id = response.headers.get('x-generation-id')!;
    await response.text();
    for (const foreign of [first.ids.at(-1)!, first.ids[0]!]) {
      const resumed = await events(server, id, foreign);
      expect(resumed.status).toBe(400);
      expect(await resumed.json()).toMatchObject({ error: { code: 'invalid_cursor' } });
    }
  });

  it('no reader for the grace period: the model is aborted, usage counted, a late resume sees why', async () => {
    const server = await start({ generationGraceMs: 100 });
    const response = await post(
      server,
      chat('leave [mock:tokens=2000] [mock:tps=200]', { stream: true }),
    );
    const id = response.headers.get('x-generation-id')!;
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const usage = await server.nextUsage(id);
    expect(usage.status).toBe('abandoned');
    expect(usage.usageCounted).toBe(true);
    expect(usage.usage.completion_tokens).toBeLessThan(2000);
    const late = await readSse(await events(server, id));
    expect(JSON.parse(late.data.at(-1)!)).toMatchObject({
      error: { code: 'llm_generation_abandoned' },
    });
    expect(late.data).not.toContain('[DONE]');
  });

  it('a reader coming back within the grace period keeps the generation going', async () => {
    const server = await start({ generationGraceMs: 5_000 });
    const response = await post(
      server,
      chat('back [mock:tokens=60] [mock:tps=200]', { stream: true }),
    );
    const id = response.headers.get('x-generation-id')!;
    await response.body!.cancel();
    const rest = await readSse(await events(server, id));
    expect(rest.data.at(-1)).toBe('[DONE]');
    expect((await server.nextUsage(id)).status).toBe('completed');
  });

  it('coalescing merges deltas at high token rates without changing the text', async () => {
    const plain = await start();
    const merged = await start({ coalesceMs: 40 });
    const payload = chat('fast [mock:tokens=300] [mock:tps=2000]', { stream: true, seed: 4 });
    const a = await readSse(await post(plain, payload));
    const b = await readSse(await post(merged, payload));
    expect(contentOf(b.data)).toBe(contentOf(a.data));
    expect(a.data.length).toBeGreaterThan(300);
    expect(b.data.length).toBeLessThan(150);
  });

  it('coalescing also merges deltas from an upstream model (the pollable reader)', async () => {
    const back = await start();
    const plain = await start({ upstream: { baseUrl: back.baseURL } });
    const merged = await start({ upstream: { baseUrl: back.baseURL }, coalesceMs: 40 });
    const payload = chat('fast [mock:tokens=300] [mock:tps=2000]', { stream: true, seed: 4 });
    const a = await readSse(await post(plain, payload));
    const b = await readSse(await post(merged, payload));
    expect(contentOf(b.data)).toBe(contentOf(a.data));
    expect(a.data.length).toBeGreaterThan(300);
    expect(b.data.length).toBeLessThan(150);
    expect(merged.usage.at(-1)!.status).toBe('completed');
  });

  it('the per-generation event cap ends the answer with finish_reason length', async () => {
    const server = await start({ maxEventsPerGeneration: 20 });
    const response = await post(server, chat('cap [mock:tokens=100]', { stream: true }));
    const { data } = await readSse(response);
    expect(data.length).toBeLessThanOrEqual(20);
    const finish = data
      .filter((d) => d !== '[DONE]')
      .map(
        (d) =>
          (JSON.parse(d) as { choices: { finish_reason: string | null }[] }).choices[0]
            ?.finish_reason,
      )
      .find((r) => r);
    expect(finish).toBe('length');
  });

  it('teardown: readers leave no subscription; close() stops running generations', async () => {
    const server = await start({ generationGraceMs: null });
    const broker = server.llm.broker as MemoryBroker;
    const done = await post(server, chat('short [mock:tokens=5]', { stream: true }));
    await done.text();
    const running = await post(
      server,
      chat('long [mock:tokens=3000] [mock:tps=100]', { stream: true }),
    );
    const id = running.headers.get('x-generation-id')!;
    await running.body!.cancel();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(broker.stats().subscribers).toBe(0);
    expect(server.llm.stats().running).toBe(1); // grace null: it runs on without readers
    const ended = server.nextUsage(id);
    await server.llm.close();
    expect((await ended).status).toBe('abandoned');
    expect(server.llm.stats().running).toBe(0);
  });

  it('limits: full of running generations is a 429; a non-streaming disconnect stops its model', async () => {
    const server = await start({ maxGenerations: 1, generationGraceMs: null });
    const first = await post(
      server,
      chat('one [mock:tokens=3000] [mock:tps=100]', { stream: true }),
    );
    const second = await post(server, chat('two', { stream: true }));
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({
      error: { code: 'too_many_requests', type: 'rate_limit_error' },
    });
    await fetch(`${server.baseURL}/generations/${first.headers.get('x-generation-id')}/cancel`, {
      method: 'POST',
    });
    await first.text();

    const abort = new AbortController();
    const pending = fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('slow [mock:tokens=3000] [mock:tps=100]')),
      signal: abort.signal,
    }).catch(() => undefined);
    const ended = server.nextUsage();
    setTimeout(() => abort.abort(), 100);
    await pending;
    const usage = await ended;
    expect(usage.status).toBe('abandoned');
    expect(usage.usage.completion_tokens).toBeLessThan(3000);
  });

  it('API keys: a request without a listed bearer key is a 401', async () => {
    const server = await start({ apiKeys: ['k-1', 'k-2'] });
    const denied = await post(server, chat('hi'));
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({
      error: { code: 'unauthorized', type: 'authentication_error' },
    });
    const allowed = await fetch(`${server.baseURL}/models`, {
      headers: { authorization: 'Bearer k-2' },
    });
    expect(allowed.status).toBe(200);
    const wrong = await fetch(`${server.baseURL}/models`, {
      headers: { authorization: 'Bearer k-3' },
    });
    expect(wrong.status).toBe(401);
  });
});
