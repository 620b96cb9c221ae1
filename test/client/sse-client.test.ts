import { describe, expect, it } from 'vitest';
import {
  SseClient,
  connectSse,
  type SseClientEvent,
  type SseOpenEvent,
  type SseStateChangeEvent,
} from '../../src/client/index.js';
import { isSluiceError } from '../../src/core/errors.js';
import {
  delay,
  eventWhere,
  nextEvent,
  openStream,
  FAST,
  useFixtures,
} from './sse-client-helpers.js';

const { serve, track } = useFixtures();

async function take(client: SseClient, count: number): Promise<SseClientEvent[]> {
  const events: SseClientEvent[] = [];
  for await (const event of client) {
    events.push(event);
    if (events.length === count) break;
  }
  return events;
}

describe('SseClient basics', () => {
  it('is CONNECTING synchronously and exposes the readyState constants', async () => {
    const server = await serve((_req, res) => openStream(res));
    const client = track(new SseClient(server.url, FAST));
    expect(client.readyState).toBe(SseClient.CONNECTING);
    expect([SseClient.CONNECTING, SseClient.OPEN, SseClient.CLOSED]).toEqual([0, 1, 2]);
    expect([client.CONNECTING, client.OPEN, client.CLOSED]).toEqual([0, 1, 2]);
    const open = await nextEvent<SseOpenEvent>(client, 'open');
    expect(client.readyState).toBe(SseClient.OPEN);
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toBe('text/event-stream');
  });

  it('iterates events with type, data and the persistent lastEventId', async () => {
    const server = await serve((_req, res) => {
      openStream(res);
      res.write('id: 1\ndata: first\n\n');
      res.write('event: tick\ndata: a\ndata: b\n\n');
      res.write(': keepalive\n\nid: 3\nevent: \ndata:\n\n');
    });
    const events = await take(track(connectSse(server.url, FAST)), 3);
    expect(events).toEqual([
      { event: 'message', data: 'first', lastEventId: '1' },
      { event: 'tick', data: 'a\nb', lastEventId: '1' },
      { event: 'message', data: '', lastEventId: '3' },
    ]);
  });

  it('decodes multi-byte UTF-8 split across network chunks', async () => {
    const text = 'héllo → 世界 🎉';
    const bytes = Buffer.from(`data: ${text}\n\n`, 'utf8');
    const server = await serve(async (_req, res) => {
      openStream(res);
      for (let i = 0; i < bytes.length; i += 1) {
        res.write(bytes.subarray(i, i + 1));
        await delay(1);
      }
    });
    const [event] = await take(track(connectSse(server.url, FAST)), 1);
    expect(event?.data).toBe(text);
  });

  it('dispatches MessageEvents: message to "message", named types only to their listeners', async () => {
    const server = await serve((_req, res) => {
      openStream(res);
      res.write('data: plain\n\nevent: update\ndata: named\n\n');
    });
    const client = track(connectSse(server.url, FAST));
    const messages: string[] = [];
    client.addEventListener('message', (event) => messages.push(event.data));
    const update = await nextEvent<MessageEvent<string>>(client, 'update');
    expect(update).toBeInstanceOf(MessageEvent);
    expect(update.data).toBe('named');
    expect(update.origin).toBe(new URL(server.url).origin);
    expect(update.bubbles).toBe(false);
    expect(update.cancelable).toBe(false);
    expect(messages).toEqual(['plain']);
  });

  it('sends Accept, no Last-Event-ID on a fresh start, and the initial lastEventId in UTF-8', async () => {
    const server = await serve((_req, res) => openStream(res));
    const fresh = track(connectSse(server.url, FAST));
    await nextEvent(fresh, 'open');
    fresh.close();
    const resumed = track(connectSse(server.url, { ...FAST, lastEventId: 'épisode…42' }));
    await nextEvent(resumed, 'open');
    expect(server.requests[0]?.headers.accept).toBe('text/event-stream');
    expect(server.requests[0]?.headers['last-event-id']).toBeUndefined();
    expect(server.requests[1]?.lastEventId).toBe('épisode…42');
    expect(resumed.lastEventId).toBe('épisode…42');
  });

  it('rejects a lastEventId with CR, LF or NUL, and a bad URL, at once', () => {
    expect(() => connectSse('http://127.0.0.1:1/', { lastEventId: 'a\nb' })).toThrow(/lastEventId/);
    expect(() => connectSse('http://[bad', {})).toThrow(/Invalid event stream URL/);
  });

  it('POSTs a body with headers; a headers function is evaluated per attempt', async () => {
    const server = await serve((req, res) => {
      openStream(res);
      res.end(`id: ${req.index}\ndata: ${req.body}\n\n`);
    });
    let token = 0;
    const client = track(
      connectSse(server.url, {
        ...FAST,
        method: 'POST',
        body: JSON.stringify({ prompt: 'hi' }),
        headers: () => ({
          authorization: `Bearer t${(token += 1)}`,
          'content-type': 'application/json',
        }),
      }),
    );
    const events = await take(client, 2);
    expect(events.map((event) => event.data)).toEqual(['{"prompt":"hi"}', '{"prompt":"hi"}']);
    expect(server.requests.map((req) => req.method)).toEqual(['POST', 'POST']);
    expect(server.requests.map((req) => req.headers.authorization)).toEqual([
      'Bearer t1',
      'Bearer t2',
    ]);
    expect(server.requests[0]?.headers['content-type']).toBe('application/json');
    expect(server.requests[1]?.lastEventId).toBe('0');
  });

  it('uses a custom fetch, and works without any server', async () => {
    const seen: { url: string; lastEventId: string | null }[] = [];
    let calls = 0;
    const client = track(
      connectSse('https://example.invalid/feed', {
        ...FAST,
        fetch: (url, init) => {
          calls += 1;
          seen.push({ url, lastEventId: new Headers(init.headers).get('last-event-id') });
          const body = calls === 1 ? 'id: a\ndata: one\n\n' : 'data: two\n\n';
          const headers = { 'content-type': 'Text/Event-Stream; charset=utf-8' };
          return Promise.resolve(new Response(body, { status: 200, headers }));
        },
      }),
    );
    const events = await take(client, 2);
    expect(events.map((event) => event.data)).toEqual(['one', 'two']);
    expect(seen).toEqual([
      { url: 'https://example.invalid/feed', lastEventId: null },
      { url: 'https://example.invalid/feed', lastEventId: 'a' },
    ]);
  });

  it('F12: close() in a handler stops the events already parsed from the same chunk', async () => {
    const server = await serve((_req, res) => {
      openStream(res);
      res.write('data: 1\n\ndata: 2\n\ndata: 3\n\n');
    });
    const client = track(connectSse(server.url, FAST));
    const seen: string[] = [];
    const closed = eventWhere<SseStateChangeEvent>(client, 'statechange', (e) => e.detail.to === 2);
    client.addEventListener('message', (event) => {
      seen.push(event.data);
      client.close();
    });
    await nextEvent(client, 'open');
    expect((await closed).detail.code).toBe('closed_by_client');
    await delay(50);
    expect(seen).toEqual(['1']);
    expect(client.readyState).toBe(SseClient.CLOSED);
  });

  it('reports an oversized event as a parse error and keeps streaming', async () => {
    const server = await serve((_req, res) => {
      openStream(res);
      res.write(`data: ${'x'.repeat(200)}\n\ndata: small\n\n`);
    });
    const client = track(connectSse(server.url, { ...FAST, maxEventSize: 50 }));
    const errors: string[] = [];
    client.addEventListener('error', (event) => errors.push(`${event.code}:${event.error?.code}`));
    const [event] = await take(client, 1);
    expect(event?.data).toBe('small');
    expect(errors).toEqual(['parse_error:sse_event_too_large']);
  });

  it('supports onopen/onmessage/onerror: reassigning replaces, null removes (C17)', async () => {
    const server = await serve((req, res) => {
      openStream(res);
      res.end(`data: ${req.index}\n\n`);
    });
    const client = track(connectSse(server.url, FAST));
    const calls: string[] = [];
    client.onmessage = () => calls.push('first');
    client.onmessage = (event) => calls.push(`second ${event.data}`);
    client.onopen = () => calls.push('open');
    client.onerror = (event) => calls.push(`error ${event.code}`);
    await eventWhere<MessageEvent<string>>(client, 'message', (event) => event.data === '1');
    client.onmessage = null;
    expect(client.onmessage).toBeNull();
    await eventWhere<MessageEvent<string>>(client, 'message', (event) => event.data === '2');
    expect(calls.slice(0, 6)).toEqual([
      'open',
      'second 0',
      'error server_closed',
      'open',
      'second 1',
      'error server_closed',
    ]);
    expect(calls).not.toContain('second 2');
  });

  it('allows one async iterator at a time', async () => {
    const server = await serve((_req, res) => openStream(res));
    const client = track(connectSse(server.url, FAST));
    client[Symbol.asyncIterator]();
    let thrown: unknown;
    try {
      client[Symbol.asyncIterator]();
    } catch (error) {
      thrown = error;
    }
    expect(isSluiceError(thrown, 'invalid_argument')).toBe(true);
  });
});
