import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import net from 'node:net';
import { createMemoryBroker, type MemoryBroker } from '../../src/broker/memory-broker.js';
import { createLlmHandler } from '../../src/llm/index.js';
import { createChannelsHandler } from '../../src/server/channels-handler.js';
import { blocks, readUntil } from '../helpers/sse-text.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ keepAlive: null });
});
afterEach(async () => {
  await server.close();
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function events(channel: string, query = '', headers: Record<string, string> = {}) {
  return fetch(`${server.url}/v1/channels/${channel}/events${query}`, { headers });
}

describe('HTTP contract', () => {
  it('GET /healthz answers 200 JSON', async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      sse: { streams: 0 },
      websocket: { connections: 0 },
      llm: { running: 0 },
    });
  });

  it('GET / lists the endpoints with curl examples', async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toContain('/v1/channels/news/events');
    expect(html).toContain('curl -N');
  });

  it('publishes with 201 and an id, and streams it with id, event and JSON data', async () => {
    const stream = await events('room-1');
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.headers.get('connection')).toBe('keep-alive');
    const published = await post(
      '/v1/channels/room-1/messages',
      '{"data":{"text":"héllo 👋"},"event":"chat"}',
    );
    expect(published.status).toBe(201);
    expect(typeof published.body.id).toBe('string');
    const text = await readUntil(stream.body!, (t) => t.includes('héllo'));
    expect(blocks(text)).toContainEqual({
      id: published.body.id,
      event: 'chat',
      data: '{"text":"héllo 👋"}',
    });
  });

  it.each([
    ['malformed JSON', '/v1/channels/a/messages', '{"data":', 400, 'invalid_json'],
    ['no data field', '/v1/channels/a/messages', '{"event":"x"}', 400, 'bad_request'],
    ['a bad channel name', '/v1/channels/a%20b/messages', '{"data":1}', 400, 'invalid_channel'],
    [
      'a too long channel name',
      `/v1/channels/${'c'.repeat(129)}/messages`,
      '{"data":1}',
      400,
      'invalid_channel',
    ],
    [
      'CR/LF in event',
      '/v1/channels/a/messages',
      '{"data":1,"event":"x\\ndata: evil"}',
      400,
      'invalid_event_name',
    ],
    [
      'a reserved event name',
      '/v1/channels/a/messages',
      '{"data":1,"event":"sluice.gap"}',
      400,
      'reserved_event_name',
    ],
  ])('answers %s with a coded 4xx', async (_name, path, body, status, code) => {
    const response = await post(path, body);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({
      error: { code, message: expect.any(String) as unknown },
    });
  });

  it('answers a body over the limit with 413, declared or not', async () => {
    const big = JSON.stringify({ data: 'x'.repeat(1024 * 1024) });
    const declared = await post('/v1/channels/a/messages', big);
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ error: { code: 'payload_too_large' } });
    const chunked = await fetch(`${server.url}/v1/channels/a/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('answers HEAD on a stream with its headers and no body, subscribing nothing', async () => {
    await server.close();
    const broker = createMemoryBroker();
    server = await startServer({ keepAlive: null }, broker);
    const response = await fetch(`${server.url}/v1/channels/room-h/events`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(3_000), // a HEAD that streamed would hang here
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(broker.stats().subscribers).toBe(0);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
      sse: { streams: number };
    };
    expect(health.sse.streams).toBe(0);
  });

  it('answers unknown paths with 404 and wrong methods with 405, as JSON', async () => {
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    const wrong = await fetch(`${server.url}/v1/channels/a/messages`);
    expect(wrong.status).toBe(405);
  });

  it('keeps serving other clients while one sends garbage', async () => {
    const stream = await events('steady');
    await post('/v1/channels/steady/messages', '{not json');
    const id = (await post('/v1/channels/steady/messages', '{"data":1}')).body.id;
    const text = await readUntil(stream.body!, (t) => t.includes(`id: ${String(id)}`));
    expect(text).toContain('data: 1');
  });
});

describe('stream settings', () => {
  it('refuses at construction a keepalive or stall timeout no timer can wait', () => {
    const broker = createMemoryBroker();
    for (const bad of [{ keepAlive: 2 ** 31 }, { stallTimeout: 0 }, { stallTimeout: Number.NaN }]) {
      expect(() => createChannelsHandler({ broker, ...bad }), JSON.stringify(bad)).toThrow(
        /must be between/,
      );
    }
    expect(() =>
      createChannelsHandler({ broker, keepAlive: null, stallTimeout: null }),
    ).not.toThrow();
  });

  it('the LLM handler refuses them at construction too, not on each request', () => {
    for (const bad of [
      { keepAlive: 2 ** 31 },
      { stallTimeout: 0 },
      { stallTimeout: Number.NaN },
      { generationGraceMs: 2 ** 31 },
      { coalesceMs: -1 },
    ]) {
      expect(() => createLlmHandler(bad), JSON.stringify(bad)).toThrow(/must be between/);
    }
    const llm = createLlmHandler({ keepAlive: null, stallTimeout: 60_000 });
    return llm.close();
  });
});

describe('slow clients', () => {
  it('disconnects a client that stops reading, and releases its subscription', async () => {
    await server.close();
    server = await startServer({ keepAlive: null, stallTimeout: 200 });
    const broker = server.app.broker as MemoryBroker;
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.write(`GET /v1/channels/stall/events HTTP/1.1\r\nHost: x\r\n\r\n`);
    await vi.waitFor(() => expect(broker.stats().subscribers).toBe(1));
    socket.pause(); // never read again: kernel buffers fill, then the server's
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Publish until the socket buffers on both sides are full and the server gives up.
    const payload = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 5000 && broker.stats().subscribers > 0; i++) {
      await broker.publish('stall', { data: payload });
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await vi.waitFor(() => expect(broker.stats().subscribers).toBe(0), { timeout: 5000 });
    socket.resume();
    await closed;
  });
});

describe('resume', () => {
  it('replays exactly the events after Last-Event-ID, then continues live', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await server.publish('feed', i));
    const stream = await events('feed', '', { 'last-event-id': ids[1]! });
    const later = await server.publish('feed', 5);
    const text = await readUntil(stream.body!, (t) => t.includes(`id: ${later}`));
    const got = blocks(text).filter((b) => b.id !== undefined);
    expect(got.map((b) => b.data)).toEqual(['2', '3', '4', '5']);
    expect(got.map((b) => b.id)).toEqual([...ids.slice(2), later]);
  });

  it('accepts ?lastEventId= for clients that cannot set headers', async () => {
    const first = await server.publish('q', 'a');
    await server.publish('q', 'b');
    const stream = await events('q', `?lastEventId=${encodeURIComponent(first)}`);
    const text = await readUntil(stream.body!, (t) => t.includes('"b"'));
    expect(
      blocks(text)
        .filter((b) => b.id)
        .map((b) => b.data),
    ).toEqual(['"b"']);
  });

  it('sends sluice.gap first when history no longer reaches back', async () => {
    await server.close();
    server = await startServer({ keepAlive: null, historyLimit: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await server.publish('short', i));
    const stream = await events('short', '', { 'last-event-id': ids[0]! });
    const text = await readUntil(stream.body!, (t) => t.includes(`id: ${ids[5]}`));
    const [gap, ...rest] = blocks(text);
    expect(gap!.event).toBe('sluice.gap');
    expect(JSON.parse(gap!.data!)).toMatchObject({
      channel: 'short',
      reason: 'expired',
      requested: ids[0],
    });
    expect(rest.map((b) => b.data)).toEqual(['3', '4', '5']);
  });

  it('sends sluice.gap for an id from before a restart (another epoch)', async () => {
    const old = await server.publish('epochs', 'before');
    await server.close();
    server = await startServer({ keepAlive: null });
    const stream = await events('epochs', '', { 'last-event-id': old });
    const after = await server.publish('epochs', 'after');
    const text = await readUntil(stream.body!, (t) => t.includes(`id: ${after}`));
    const [gap, next] = blocks(text);
    expect(gap!.event).toBe('sluice.gap');
    expect(JSON.parse(gap!.data!)).toMatchObject({ reason: 'epoch', requested: old });
    expect(next).toMatchObject({ id: after, data: '"after"' });
  });

  it('keeps history across an HTTP server restart when the broker survives', async () => {
    await server.close();
    const broker = createMemoryBroker();
    server = await startServer({ keepAlive: null }, broker);
    const a = await server.publish('kept', 'a');
    await server.publish('kept', 'b');
    await server.close();
    server = await startServer({ keepAlive: null }, broker);
    const stream = await events('kept', '', { 'last-event-id': a });
    const text = await readUntil(stream.body!, (t) => t.includes('"b"'));
    expect(
      blocks(text)
        .filter((b) => b.id)
        .map((b) => b.data),
    ).toEqual(['"b"']);
    await broker.close();
  });
});
