import { describe, expect, it } from 'vitest';
import {
  SseClient,
  connectSse,
  type SseClientEvent,
  type SseClientOptions,
  type SseErrorEvent,
  type SseFetchResponse,
  type SseStateChangeEvent,
} from '../../src/client/index.js';
import { isSluiceError } from '../../src/core/errors.js';
import {
  delay,
  eventWhere,
  openStream,
  type TestServer,
  FAST,
  useFixtures,
} from './sse-client-helpers.js';

const { serve, track } = useFixtures();

interface Recorded {
  client: SseClient;
  states: string[];
  errors: SseErrorEvent[];
  closed: Promise<SseStateChangeEvent>;
}

function connect(url: string, options: SseClientOptions): Recorded {
  const client = connectSse(url, options);
  track(client);
  const states: string[] = [];
  const errors: SseErrorEvent[] = [];
  client.addEventListener('statechange', (event) => states.push(event.detail.code));
  client.addEventListener('error', (event) => errors.push(event));
  const closed = eventWhere<SseStateChangeEvent>(client, 'statechange', (e) => e.detail.to === 2);
  return { client, states, errors, closed };
}

/** Drains the iterator; returns the events and what it threw, if anything. */
async function drain(client: SseClient): Promise<{ events: SseClientEvent[]; error: unknown }> {
  const events: SseClientEvent[] = [];
  try {
    for await (const event of client) events.push(event);
  } catch (error) {
    return { events, error };
  }
  return { events, error: undefined };
}

const statusServer = (
  statuses: number[],
  headers: Record<string, string> = {},
): Promise<TestServer> =>
  serve((req, res) => {
    const status = statuses[req.index] ?? 200;
    if (status !== 200) {
      res.writeHead(status, headers).end();
      return;
    }
    openStream(res);
    res.write(`data: after ${req.index}\n\n`);
  });

describe('SseClient reconnection', () => {
  it('reconnects with Last-Event-ID after a cut, discarding the partial event (P17, F8)', async () => {
    const server = await serve((req, res) => {
      openStream(res);
      if (req.index === 0) {
        res.write('id: 1\ndata: a\n\nid: 2\ndata: partial');
        setTimeout(() => res.destroy(), 20);
      } else res.write('data: b\n\n');
    });
    const { client, states } = connect(server.url, FAST);
    const events: string[] = [];
    for await (const event of client) {
      events.push(event.data);
      if (events.length === 2) break;
    }
    expect(events).toEqual(['a', 'b']);
    expect(server.requests[1]?.lastEventId).toBe('1');
    expect(states).toEqual(['open', 'network_error', 'open', 'closed_by_client']);
  });

  it('reconnects after a clean end of body (C11); id-only blocks count, an empty id clears', async () => {
    const bodies = ['id: é…1\ndata: a\n\nid: 7\n\n', 'id\ndata: b\n\n', 'data: c\n\n'];
    const server = await serve((req, res) => {
      openStream(res);
      res.end(bodies[req.index] ?? '');
    });
    const { client, states } = connect(server.url, FAST);
    const events: string[] = [];
    for await (const event of client) {
      events.push(event.data);
      if (events.length === 3) break;
    }
    expect(events).toEqual(['a', 'b', 'c']);
    expect(server.requests.map((req) => req.lastEventId)).toEqual([undefined, '7', undefined]);
    expect(states.slice(0, 4)).toEqual(['open', 'server_closed', 'open', 'server_closed']);
  });

  it('follows redirects, and reconnects to the original URL (C4, C14)', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/stream') res.writeHead(307, { location: '/final' }).end();
      else res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`data: ${req.url}\n\n`);
    });
    const { client } = connect(server.url, FAST);
    const events: string[] = [];
    for await (const event of client) {
      events.push(event.data);
      if (events.length === 2) break;
    }
    expect(events).toEqual(['/final', '/final']);
    expect(server.requests.slice(0, 4).map((req) => req.url)).toEqual([
      '/stream',
      '/final',
      '/stream',
      '/final',
    ]);
  });

  it('stops on 204: CLOSED with no_content, no further request, iteration ends quietly', async () => {
    const server = await statusServer([204]);
    const { client, states, errors, closed } = connect(server.url, FAST);
    const result = await drain(client);
    await closed;
    await delay(100);
    expect(result).toEqual({ events: [], error: undefined });
    expect(states).toEqual(['no_content']);
    expect(errors.map((e) => [e.code, e.status, e.delay])).toEqual([['bad_status', 204, null]]);
    expect(server.requests).toHaveLength(1);
  });

  it('stops on 204 even when a custom shouldRetry would retry it (C6)', async () => {
    // A predicate written for errors (here: anything but a clean end) must not override the
    // server's explicit "stop reconnecting": it hammered the endpoint that said 204.
    const server = await statusServer([204, 204, 204]);
    const seen: (number | undefined)[] = [];
    const { client, states, closed } = connect(server.url, {
      ...FAST,
      shouldRetry: ({ code, status }) => (seen.push(status), code !== 'server_closed'),
    });
    const result = await drain(client);
    await closed;
    await delay(100);
    expect(result).toEqual({ events: [], error: undefined });
    expect(states).toEqual(['no_content']);
    expect(server.requests).toHaveLength(1);
    expect(seen).toEqual([]);
  });

  it('retries 500 by default', async () => {
    const server = await statusServer([500, 503]);
    const { client, errors } = connect(server.url, FAST);
    const first = await client[Symbol.asyncIterator]().next();
    expect(first.value?.data).toBe('after 2');
    expect(errors.map((e) => [e.code, e.status, e.attempt])).toEqual([
      ['bad_status', 500, 1],
      ['bad_status', 503, 2],
    ]);
    expect(errors.every((e) => typeof e.delay === 'number')).toBe(true);
  });

  it('stops on 404 (retry_stopped) and the iterator throws sse_bad_status', async () => {
    const server = await statusServer([404]);
    const { client, states } = connect(server.url, FAST);
    const { error } = await drain(client);
    expect(isSluiceError(error, 'sse_bad_status') && error.status).toBe(404);
    expect(states).toEqual(['retry_stopped']);
    expect(server.requests).toHaveLength(1);
  });

  it('follows a custom shouldRetry: retry a 404, stop after a clean end', async () => {
    const server = await serve((req, res) => {
      if (req.index === 0) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: done\n\n');
    });
    const seen: string[] = [];
    const { client, states } = connect(server.url, {
      ...FAST,
      shouldRetry: ({ code, status, attempt }) => {
        seen.push(`${code}:${status}:${attempt}`);
        return code !== 'server_closed';
      },
    });
    const result = await drain(client);
    expect(result).toEqual({
      events: [{ event: 'message', data: 'done', lastEventId: '' }],
      error: undefined,
    });
    expect(seen).toEqual(['bad_status:404:1', 'server_closed:undefined:2']);
    expect(states).toEqual(['open', 'retry_stopped']);
  });

  it.each([
    ['text/html', 'text/html'],
    ['a missing header', undefined],
  ])('fails for good on a wrong Content-Type (%s)', async (_name, type) => {
    const server = await serve((_req, res) => {
      res.writeHead(200, type === undefined ? {} : { 'content-type': type }).end('data: x\n\n');
    });
    const { client, states, errors } = connect(server.url, FAST);
    const { events, error } = await drain(client);
    expect(events).toEqual([]);
    expect(isSluiceError(error, 'sse_bad_content_type')).toBe(true);
    expect(states).toEqual(['bad_content_type']);
    expect(errors.map((e) => e.code)).toEqual(['bad_content_type']);
    await delay(50);
    expect(server.requests).toHaveLength(1);
  });

  it('waits the server retry: plus the jittered backoff, and clamps a huge retry (F10)', async () => {
    const server = await serve((req, res) => {
      openStream(res);
      res.end(req.index === 0 ? 'retry: 120\n\n' : 'retry: 99999999999\n\n');
    });
    const backoff = { initialDelay: 10, maxDelay: 300, random: () => 0 };
    const { client, errors } = connect(server.url, { backoff });
    const second = await eventWhere<SseErrorEvent>(client, 'error', (e) => e.attempt === 2);
    expect(errors[0]?.delay).toBe(120);
    expect(client.reconnectionTime).toBe(300);
    expect(second.delay).toBe(300);
  });

  it('draws full-jitter delays within exponential bounds, then gives up after maxRetries', async () => {
    const bounds = async (random: number): Promise<(number | null)[]> => {
      const server = await statusServer([503, 503, 503, 503, 503]);
      const backoff = { initialDelay: 40, maxDelay: 100, multiplier: 2, random: () => random };
      const { client, errors } = connect(server.url, { backoff, maxRetries: 3 });
      const { error } = await drain(client);
      expect(isSluiceError(error, 'sse_retries_exhausted')).toBe(true);
      expect(isSluiceError((error as Error).cause, 'sse_bad_status')).toBe(true);
      expect(server.requests).toHaveLength(4);
      return errors.map((e) => e.delay);
    };
    expect(await bounds(0)).toEqual([0, 0, 0, null]);
    expect(await bounds(0.5)).toEqual([20, 40, 50, null]);
    expect(await bounds(0.999)).toEqual([39, 79, 99, null]);
  });

  it('resets the backoff after a connection stayed up minUptime', async () => {
    const attempts = async (minUptime: number): Promise<number[]> => {
      const server = await serve((_req, res) => {
        openStream(res);
        setTimeout(() => res.end('data: x\n\n'), 15);
      });
      const backoff = { initialDelay: 20, maxDelay: 100, random: () => 0.5 };
      const { client, errors } = connect(server.url, { backoff, minUptime });
      await server.waitForRequests(4);
      client.close();
      return errors.map((e) => e.attempt);
    };
    expect(await attempts(0)).toEqual([1, 1, 1]);
    expect(await attempts(60_000)).toEqual([1, 2, 3]);
  });

  it('honours Retry-After on a retried status as a minimum delay', async () => {
    const server = await statusServer([429], { 'retry-after': '2' });
    const { client } = connect(server.url, { backoff: { initialDelay: 10, maxDelay: 30_000 } });
    const error = await eventWhere<SseErrorEvent>(client, 'error', () => true);
    client.close();
    expect(error.status).toBe(429);
    expect(error.delay).toBeGreaterThanOrEqual(2000);
  });
});

describe('SseClient inactivity timeout', () => {
  it('reconnects when an open stream goes silent, and closes the silent socket', async () => {
    const server = await serve((req, res) => {
      openStream(res);
      res.write(`id: ${req.index}\ndata: hello\n\n`);
    });
    const { client, states, errors } = connect(server.url, { ...FAST, inactivityTimeout: 200 });
    await server.waitForRequests(2);
    await eventWhere<SseStateChangeEvent>(client, 'statechange', (e) => e.detail.to === 1);
    expect(states.slice(0, 3)).toEqual(['open', 'inactivity_timeout', 'open']);
    expect(errors[0]?.error?.code).toBe('sse_inactivity_timeout');
    expect(server.requests[1]?.lastEventId).toBe('0');
    client.close();
    await server.waitForNoSockets();
  });

  it('also covers a server that never sends headers', async () => {
    const server = await serve(() => undefined);
    const { errors } = connect(server.url, { ...FAST, inactivityTimeout: 200 });
    await server.waitForRequests(2);
    expect(errors[0]?.code).toBe('inactivity_timeout');
  });

  it('reports a silent stream as inactivity_timeout from a fetch that ignores the signal', async () => {
    // The timer's abort does not reach such a fetch; cancelling the body ends the read as a
    // clean end, which was reported as server_closed (a predicate stopping on clean ends
    // then gave up on a connection that had only gone quiet).
    const silent = (): Promise<SseFetchResponse> =>
      Promise.resolve({
        status: 200,
        statusText: '',
        url: '',
        headers: new Headers({ 'content-type': 'text/event-stream' }),
        body: new ReadableStream<Uint8Array<ArrayBuffer>>(),
      });
    const { client, states, errors } = connect('https://example.invalid/feed', {
      ...FAST,
      inactivityTimeout: 50,
      fetch: silent,
    });
    await eventWhere<SseErrorEvent>(client, 'error', () => true);
    client.close();
    expect(states.slice(0, 2)).toEqual(['open', 'inactivity_timeout']);
    expect(errors[0]?.error?.code).toBe('sse_inactivity_timeout');
  });

  it('gives up on headers that never come from a fetch that ignores the signal', async () => {
    // The timer's abort cannot end such a fetch: the attempt waited forever, no reconnect.
    const calls: number[] = [];
    const fetch = (): Promise<SseFetchResponse> => {
      calls.push(calls.length);
      return new Promise(() => undefined);
    };
    const { client, errors } = connect('https://example.invalid/feed', {
      ...FAST,
      inactivityTimeout: 50,
      fetch,
    });
    await eventWhere<SseErrorEvent>(client, 'error', () => true);
    await delay(50);
    client.close();
    expect(errors[0]?.code).toBe('inactivity_timeout');
    expect(calls.length).toBeGreaterThanOrEqual(2);
  });

  it('counts keepalive comments as activity; null disables the timer', async () => {
    const server = await serve(async (req, res) => {
      openStream(res);
      if (req.index > 0) return;
      for (let i = 0; i < 20 && !res.destroyed; i += 1) {
        res.write(': keepalive\n');
        await delay(30);
      }
    });
    const { states } = connect(server.url, { ...FAST, inactivityTimeout: 300 });
    const quiet = connect(server.url, { ...FAST, inactivityTimeout: null });
    await delay(700);
    expect(states).toEqual(['open']);
    expect(quiet.states).toEqual(['open']);
    expect(server.requests).toHaveLength(2);
  });
});
