import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  SseClient,
  connectSse,
  type SseFetchResponse,
  type SseStateChangeEvent,
} from '../../src/client/index.js';
import {
  delay,
  eventWhere,
  nextEvent,
  openStream,
  type Handler,
  FAST,
  useFixtures,
} from './sse-client-helpers.js';

const { serve, track } = useFixtures();

const ticking: Handler = async (_req, res) => {
  openStream(res);
  for (let i = 0; !res.destroyed && i < 200; i += 1) {
    res.write(`id: ${i}\ndata: tick ${i}\n\n`);
    await delay(10);
  }
};

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('SseClient teardown', () => {
  it('close() is synchronous and idempotent, fires one statechange, then nothing', async () => {
    const server = await serve(ticking);
    const client = track(connectSse(server.url, FAST));
    await nextEvent(client, 'message');
    const after: string[] = [];
    client.addEventListener('statechange', (event) => after.push(event.detail.code));
    client.addEventListener('message', (event) => after.push(event.data));
    client.addEventListener('error', (event) => after.push(event.code));
    client.close();
    expect(client.readyState).toBe(SseClient.CLOSED);
    client.close();
    await server.waitForNoSockets();
    await delay(100);
    expect(after).toEqual(['closed_by_client']);
    expect(server.requests).toHaveLength(1);
  });

  it('close() during a backoff wait clears the reconnect timer', async () => {
    const server = await serve((req, res) => {
      if (req.index === 0) res.writeHead(503).end();
      else openStream(res);
    });
    const backoff = { initialDelay: 10_000, maxDelay: 10_000, random: () => 0.9 };
    const client = track(connectSse(server.url, { backoff, inactivityTimeout: 10_000 }));
    const failed = await nextEvent(client, 'error');
    expect(failed).toMatchObject({ code: 'bad_status', delay: 9000 });
    // Measured in the same tick as close(), so no unrelated timer can come or go between.
    const waiting = activeTimeouts();
    client.close();
    expect(activeTimeouts()).toBe(waiting - 1);
    await delay(50);
    expect(server.requests).toHaveLength(1);
  });

  it('cancels the body of a response it does not read, even from a fetch that ignores the signal', async () => {
    // A custom fetch whose bodies never end and only stop when cancelled.
    const cancelled: string[] = [];
    // Plain objects, as a custom fetch may return (a `Response` refuses a body on a 204).
    const respond = (status: number, type: string, label: string): SseFetchResponse => ({
      status,
      statusText: '',
      url: '',
      headers: new Headers({ 'content-type': type }),
      body: new ReadableStream<Uint8Array<ArrayBuffer>>({
        cancel: () => void cancelled.push(label),
      }),
    });
    for (const [status, type, label] of [
      [404, 'text/plain', 'refused status'],
      [200, 'text/html', 'wrong type'],
      [204, 'text/event-stream', 'no content'],
    ] as const) {
      const client = track(
        connectSse('https://example.invalid/feed', {
          ...FAST,
          fetch: () => Promise.resolve(respond(status, type, label)),
        }),
      );
      await eventWhere<SseStateChangeEvent>(client, 'statechange', (e) => e.detail.to === 2);
    }
    // And a response that arrives after close().
    let answer: ((response: SseFetchResponse) => void) | undefined;
    const late = track(
      connectSse('https://example.invalid/feed', {
        ...FAST,
        fetch: () => new Promise<SseFetchResponse>((resolve) => (answer = resolve)),
      }),
    );
    await delay(10);
    late.close();
    answer?.(respond(200, 'text/event-stream', 'after close'));
    await delay(10);
    expect(cancelled).toEqual(['refused status', 'wrong type', 'no content', 'after close']);
  });

  it('close() right after construction makes no request', async () => {
    const server = await serve(ticking);
    track(connectSse(server.url, FAST)).close();
    await delay(100);
    expect(server.requests).toHaveLength(0);
  });

  it('an aborted signal closes the client, removes its listener and the socket', async () => {
    const server = await serve(ticking);
    const controller = new AbortController();
    const client = track(connectSse(server.url, { ...FAST, signal: controller.signal }));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await nextEvent(client, 'message');
    const closed = nextEvent<SseStateChangeEvent>(client, 'statechange');
    controller.abort();
    expect((await closed).detail).toMatchObject({ from: 1, to: 2, code: 'closed_by_client' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await server.waitForNoSockets();

    const early = track(connectSse(server.url, { ...FAST, signal: AbortSignal.abort() }));
    expect(early.readyState).toBe(SseClient.CLOSED);
    await delay(50);
    expect(server.requests).toHaveLength(1);
  });

  it('leaving a for-await loop closes the client and its connection', async () => {
    const server = await serve(ticking);
    const client = track(connectSse(server.url, FAST));
    for await (const event of client) {
      expect(event.data).toBe('tick 0');
      break;
    }
    expect(client.readyState).toBe(SseClient.CLOSED);
    await server.waitForNoSockets();
  });

  it('close() from elsewhere ends a waiting for-await loop quietly', async () => {
    const server = await serve((_req, res) => openStream(res));
    const client = track(connectSse(server.url, FAST));
    await nextEvent(client, 'open');
    setTimeout(() => client.close(), 20);
    const seen: string[] = [];
    for await (const event of client) seen.push(event.data);
    expect(seen).toEqual([]);
    await server.waitForNoSockets();
  });

  it('pauses reading while the iterator queue is full, then delivers everything in order', async () => {
    const total = 20_000;
    const payload = 'x'.repeat(1000);
    let written = 0;
    const server = await serve(async (_req, res) => {
      openStream(res);
      while (written < total && !res.destroyed) {
        if (!res.write(`id: ${written}\ndata: ${payload}\n\n`)) {
          await new Promise((resolve) => res.once('drain', resolve));
        }
        written += 1;
      }
    });
    const client = track(connectSse(server.url, { ...FAST, maxQueuedEvents: 8 }));
    let dispatched = 0;
    client.addEventListener('message', () => (dispatched += 1));
    const iterator = client[Symbol.asyncIterator]();
    await nextEvent(client, 'open');
    await eventWhere(client, 'message', () => dispatched >= 8);
    await delay(300);
    // One network chunk may overshoot the limit; nothing like the 20 MB the server offered.
    expect(dispatched).toBeLessThan(300);
    expect(written).toBeLessThan(total);
    let expected = 0;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done === true || value.lastEventId !== String(expected)) break;
      expected += 1;
      if (expected === total) break;
    }
    expect(expected).toBe(total);
    await iterator.return?.();
    expect(client.readyState).toBe(SseClient.CLOSED);
  });
});
