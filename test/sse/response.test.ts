import { describe, expect, it, vi } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { createMemoryBroker } from '../../src/broker/memory-broker.js';
import {
  createSseResponse,
  getLastEventId,
  type SseSourceContext,
} from '../../src/sse/response.js';
import type { SseFields } from '../../src/sse/encoder.js';
import { blocks } from '../helpers/sse-text.js';

/** An endless source that records how often it was pulled and whether it was released. */
function countingSource(payload = 'x'.repeat(1000)) {
  const state = { pulls: 0, returned: 0 };
  const iterable: AsyncIterable<SseFields> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        state.pulls++;
        return { done: false, value: { id: String(state.pulls), data: payload } };
      },
      return: async () => {
        state.returned++;
        return { done: true, value: undefined };
      },
    }),
  };
  return { state, iterable };
}

const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createSseResponse', () => {
  it('sets the SSE headers, and Connection only on HTTP/1.x', async () => {
    const h1 = createSseResponse(countingSource().iterable, { httpVersion: '1.1' });
    expect(h1.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(h1.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(h1.headers.get('x-accel-buffering')).toBe('no');
    expect(h1.headers.get('connection')).toBe('keep-alive');
    const h2 = createSseResponse(countingSource().iterable, {
      httpVersion: '2.0',
      headers: { connection: 'keep-alive', 'x-extra': '1' },
    });
    expect(h2.headers.get('connection')).toBeNull();
    expect(h2.headers.get('x-extra')).toBe('1');
    const closing = createSseResponse(countingSource().iterable, {
      httpVersion: '1.1',
      request: new Request('http://x/e', { headers: { connection: 'close' } }),
    });
    expect(closing.headers.get('connection')).toBeNull();
    const plainH2 = createSseResponse(countingSource().iterable, { httpVersion: '2.0' });
    expect(plainH2.headers.get('connection')).toBeNull();
    expect(plainH2.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    // Each response has headers of its own, even when built from the same constant pairs.
    h1.headers.set('x-mine', '1');
    expect(createSseResponse(countingSource().iterable).headers.get('x-mine')).toBeNull();
    await plainH2.body?.cancel();
    await closing.body?.cancel();
    await h1.body?.cancel();
    await h2.body?.cancel();
  });

  it('sends retry first, then the events with ids', async () => {
    async function* source(): AsyncGenerator<SseFields> {
      yield { id: '1', data: 'a\nb' };
      yield { id: '2', event: 'tick', data: '{"n":2}' };
    }
    const response = createSseResponse(source(), { retry: 2500, keepAlive: null });
    const text = await new Response(response.body).text();
    expect(text.startsWith('retry: 2500\n')).toBe(true);
    expect(text).toContain('id: 1\ndata: a\ndata: b\n\n');
    expect(blocks(text).slice(-1)).toEqual([{ id: '2', event: 'tick', data: '{"n":2}' }]);
  });

  it('does not pull the source while the client is not reading', async () => {
    const { state, iterable } = countingSource();
    const response = createSseResponse(iterable, { highWaterMark: 8 * 1024, keepAlive: null });
    await tick(30);
    // Lazy: nothing is pulled before the first read.
    expect(state.pulls).toBe(0);
    const reader = response.body!.getReader();
    await reader.read();
    await tick(30);
    // About highWaterMark / event size events are buffered, and no more.
    expect(state.pulls).toBeGreaterThan(0);
    expect(state.pulls).toBeLessThanOrEqual(10);
    const pullsBefore = state.pulls;
    await tick(50);
    expect(state.pulls).toBe(pullsBefore);
    // Reading drains the buffer and lets the source be pulled again.
    for (let i = 0; i < pullsBefore + 1; i++) await reader.read();
    await tick(10);
    expect(state.pulls).toBeGreaterThan(pullsBefore);
    await reader.cancel();
    expect(state.returned).toBe(1);
  });

  it('disconnects a client stalled past stallTimeout and releases the source', async () => {
    const { state, iterable } = countingSource();
    let closeReason: string | undefined;
    const response = createSseResponse(iterable, {
      highWaterMark: 4096,
      stallTimeout: 60,
      keepAlive: null,
      onClose: (reason) => (closeReason = reason),
    });
    const reader = response.body!.getReader();
    await reader.read();
    await tick(150);
    expect(closeReason).toBe('stall');
    expect(state.returned).toBe(1);
    let error: unknown;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      error = e;
    }
    expect(isSluiceError(error, 'slow_consumer')).toBe(true);
  });

  it('sends keepalive comments and clears every timer on disconnect', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    try {
      let released = false;
      // A source that never yields: it waits until the stream ends.
      // eslint-disable-next-line require-yield
      async function* quiet(context: { signal: AbortSignal }): AsyncGenerator<SseFields> {
        try {
          await new Promise((_, reject) =>
            context.signal.addEventListener('abort', () => reject(context.signal.reason as Error)),
          );
        } finally {
          released = true;
        }
      }
      const response = createSseResponse((context) => quiet(context), {
        keepAlive: 20,
        stallTimeout: 10_000,
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      expect(decoder.decode((await reader.read()).value)).toBe(': ok\n');
      // The keepalive interval is the only timer (no stall timer while the client reads).
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(60);
      let text = '';
      for (let i = 0; i < 3; i++) text += decoder.decode((await reader.read()).value);
      expect(text).toBe(':\n:\n:\n');
      await reader.cancel();
      await Promise.resolve();
      expect(released).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends on the request signal and calls return() on the source exactly once', async () => {
    const { state, iterable } = countingSource('y');
    const abort = new AbortController();
    const request = new Request('http://x/events', { signal: abort.signal });
    const response = createSseResponse(iterable, { request, keepAlive: 1000 });
    const reader = response.body!.getReader();
    await reader.read();
    abort.abort();
    for (;;) if ((await reader.read()).done) break;
    expect(state.returned).toBe(1);
  });

  it('hands Last-Event-ID (header first, then ?lastEventId=) to the source', async () => {
    const seen: (string | undefined)[] = [];
    const make = (request: Request) =>
      createSseResponse(
        async function* ({ lastEventId }): AsyncGenerator<SseFields> {
          seen.push(lastEventId);
          yield { data: 'x' };
        },
        { request, keepAlive: null },
      );
    await make(new Request('http://x/e', { headers: { 'last-event-id': 'a:1' } })).text();
    await make(new Request('http://x/e?lastEventId=b:2')).text();
    await make(new Request('http://x/e')).text();
    expect(seen).toEqual(['a:1', 'b:2', undefined]);
    const both = new Request('http://x/e?lastEventId=q', { headers: { 'last-event-id': 'h' } });
    expect(getLastEventId(both)).toBe('h');
  });

  it('reads a Last-Event-ID header as the UTF-8 bytes clients send (C13)', () => {
    // Header values reach a server as byte strings (one char per byte): an id such as
    // `café…` sent by the server came back as `cafÃ©â\x80¦`, and the resume missed.
    const utf8 = 'caf\xc3\xa9\xe2\x80\xa6';
    const request = new Request('http://x/e', { headers: { 'last-event-id': utf8 } });
    expect(getLastEventId(request)).toBe('café…');
    // Not UTF-8 (a Latin-1 client): kept as it came rather than turned into U+FFFD.
    const latin1 = new Request('http://x/e', { headers: { 'last-event-id': 'caf\xe9' } });
    expect(getLastEventId(latin1)).toBe('caf\xe9');
    expect(getLastEventId(new Request('http://x/e?lastEventId=caf%C3%A9'))).toBe('café');
  });

  it("aborts a source function's signal at the end, also when it is first read after the end", async () => {
    const left = new Error('client left');
    const run = async (readDuring: boolean) => {
      let context: SseSourceContext | undefined;
      let during: AbortSignal | undefined;
      const response = createSseResponse(
        (c) => {
          context = c;
          if (readDuring) during = c.signal;
          return countingSource().iterable;
        },
        { keepAlive: null },
      );
      const reader = response.body!.getReader();
      await reader.read();
      expect(during?.aborted ?? false).toBe(false);
      await reader.cancel(left);
      return { during, after: context!.signal };
    };
    const read = await run(true);
    expect(read.during!.aborted).toBe(true);
    expect(read.after).toBe(read.during); // one signal per stream
    const unread = await run(false);
    expect(unread.after.aborted).toBe(true);
    expect(read.during!.reason).toBe(left);
    expect(unread.after.reason).toBe(left);
  });

  it('releases a signal-free broker subscription when an item cannot be encoded', async () => {
    const broker = createMemoryBroker();
    const response = createSseResponse(() => broker.subscribe('c'), {
      keepAlive: null,
      map: (item) => {
        if (item.type !== 'message') return {};
        return { id: item.message.id, data: JSON.stringify(item.message.data) };
      },
    });
    const text = new Response(response.body).text();
    await tick();
    expect(broker.stats().subscribers).toBe(1);
    await broker.publish('c', { data: 1n }); // JSON.stringify throws on a BigInt
    await expect(text).rejects.toThrow();
    expect(broker.stats().subscribers).toBe(0);
    await broker.close();
  });

  it("ends the stream when the source's return() throws or returns no promise", async () => {
    // return() is run from the teardown (here the stall timer): its throw went uncaught,
    // which ends a Node process, and the stream was left open with no onClose.
    for (const release of [
      () => {
        throw new Error('cleanup failed');
      },
      () => ({ done: true, value: undefined }), // a hand-written iterator's plain object
    ]) {
      const closes: string[] = [];
      const iterable = {
        [Symbol.asyncIterator]: () => ({
          next: () => Promise.resolve({ done: false, value: { data: 'x'.repeat(1000) } }),
          return: release,
        }),
      } as unknown as AsyncIterable<SseFields>;
      const response = createSseResponse(iterable, {
        stallTimeout: 30,
        keepAlive: null,
        onClose: (reason) => closes.push(reason),
      });
      const reader = response.body!.getReader();
      await reader.read();
      await tick(100);
      expect(closes).toEqual(['stall']);
      await expect(
        (async () => {
          for (;;) if ((await reader.read()).done) return;
        })(),
      ).rejects.toThrow(/stopped reading/);
    }
  });

  it('rejects an invalid retry value with a coded error', () => {
    expect(() => createSseResponse(countingSource().iterable, { retry: -1 })).toThrow(/retry/);
  });

  it('rejects timings and a buffer limit it cannot honour, with a coded error', () => {
    // A timer clamps a delay past 2^31 - 1 ms (or 0, NaN) to about 1 ms: a "practically
    // never" stall timeout cut every client whose buffer filled for a moment, a keepalive
    // interval became a flood, and a NaN limit reported every write as full.
    const bad = [
      { stallTimeout: 2 ** 31 },
      { stallTimeout: 0 },
      { keepAlive: 2 ** 31 },
      { keepAlive: 0 },
      { keepAlive: Number.NaN },
      { highWaterMark: Number.NaN },
      { highWaterMark: 0 },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        createSseResponse(countingSource().iterable, options);
      } catch (thrown) {
        error = thrown;
      }
      expect(isSluiceError(error) && error.code, JSON.stringify(options)).toBe('invalid_argument');
    }
    const fine = { stallTimeout: 2 ** 31 - 1, keepAlive: 1, highWaterMark: 1 };
    expect(createSseResponse(countingSource().iterable, fine).status).toBe(200);
    const off = { stallTimeout: null, keepAlive: null };
    expect(createSseResponse(countingSource().iterable, off).status).toBe(200);
  });

  it('ends every stream even when an onClose hook throws, and reports the error', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      // Two subscribers of one broker: closing the broker ends both from inside one call,
      // so a hook that threw into that call would leave the second stream open.
      const broker = createMemoryBroker();
      const hookError = new Error('hook failed');
      const responses = [0, 1].map(() =>
        createSseResponse(({ signal }) => broker.subscribe('c', { signal }), {
          keepAlive: null,
          map: (item) => (item.type === 'message' ? { id: item.message.id, data: 'x' } : {}),
          onClose: () => {
            throw hookError;
          },
        }),
      );
      const bodies = responses.map((response) => new Response(response.body).text());
      await tick();
      await broker.publish('c', { data: 1 });
      await broker.close();
      const texts = await Promise.all(bodies);
      for (const text of texts) expect(blocks(text)).toHaveLength(1);
      expect(logged.mock.calls.filter((call) => call.includes(hookError))).toHaveLength(2);
    } finally {
      logged.mockRestore();
    }
  });
});
