import { describe, expect, it } from 'vitest';
import { isSluiceError, type SluiceError } from '../../src/core/errors.js';
import type { SseEvent } from '../../src/sse/parser.js';
import { SseBatchParserStream, SseParserStream } from '../../src/sse/parser-stream.js';

const encoder = new TextEncoder();

function source(chunks: readonly (string | Uint8Array)[]): ReadableStream<string | Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function drain(stream: ReadableStream<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

describe('SseParserStream', () => {
  it('turns bytes into events, with a BOM and a CRLF split across chunks', async () => {
    const bytes = encoder.encode(
      '\uFEFFid: 1\r\nevent: a\r\ndata: x\r\n\r\ndata: 😀\r\n\r\ndata: cut',
    );
    const chunks = [
      bytes.subarray(0, 2),
      bytes.subarray(2, 23),
      bytes.subarray(23, 40),
      bytes.subarray(40),
    ];
    const events = await drain(source(chunks).pipeThrough(new SseParserStream()));
    expect(events).toEqual([
      { event: 'a', data: 'x', lastEventId: '1' },
      { event: 'message', data: '😀', lastEventId: '1' },
    ]);
  });

  it('accepts strings and reports comments, retry and ids to callbacks', async () => {
    const comments: string[] = [];
    const retries: number[] = [];
    const ids: string[] = [];
    const stream = new SseParserStream({
      onComment: (c) => comments.push(c),
      onRetry: (ms) => retries.push(ms),
      onId: (id) => ids.push(id),
    });
    const events = await drain(
      source([': hi\nretry: 10\n', 'id: 4\n\ndata: y\n\n']).pipeThrough(stream),
    );
    expect(events).toEqual([{ event: 'message', data: 'y', lastEventId: '4' }]);
    expect(comments).toEqual(['hi']);
    expect(retries).toEqual([10]);
    expect(ids).toEqual(['4']);
  });

  it("errors the stream on an oversized event by default ('terminate')", async () => {
    const stream = source(['data: ok\n\ndata: far too long\n\ndata: never\n\n']).pipeThrough(
      new SseParserStream({ maxEventSize: 10 }),
    );
    const reader = stream.getReader();
    expect(await reader.read()).toEqual({
      done: false,
      value: { event: 'message', data: 'ok', lastEventId: '' },
    });
    const failure: unknown = await reader.read().catch((error: unknown) => error);
    expect(isSluiceError(failure, 'sse_event_too_large')).toBe(true);
  });

  it('with an onError function, drops the oversized event and goes on', async () => {
    const errors: SluiceError[] = [];
    const stream = source(['data: ok\n\ndata: far too long\n\ndata: next\n\n']).pipeThrough(
      new SseParserStream({ maxEventSize: 10, onError: (e) => errors.push(e) }),
    );
    expect((await drain(stream)).map((e) => e.data)).toEqual(['ok', 'next']);
    expect(errors.map((e) => e.code)).toEqual(['sse_event_too_large']);
  });

  it('applies backpressure: an unread stream does not parse ahead without bound', async () => {
    const parser = new SseParserStream();
    const writer = parser.writable.getWriter();
    const chunk = 'data: x\n\n'.repeat(100); // 100 events per chunk
    const settled: boolean[] = [];
    for (let i = 0; i < 50; i++) {
      const index = settled.push(false) - 1;
      void writer.write(chunk).then(() => (settled[index] = true));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Nothing was read: only the first chunk(s) got parsed; the rest wait in the small writable queue.
    const done = settled.filter(Boolean).length;
    expect(done).toBeLessThanOrEqual(2);
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    // Reading releases the pressure and every event arrives, in order.
    const reader = parser.readable.getReader();
    let count = 0;
    while (count < 5000) {
      const { done: end, value } = await reader.read();
      if (end) break;
      expect(value.data).toBe('x');
      count++;
    }
    expect(count).toBe(5000);
    expect(settled.every(Boolean)).toBe(true);
    await writer.close();
    expect((await reader.read()).done).toBe(true);
  });

  it('cancelling the readable side cancels the source', async () => {
    let cancelled: unknown;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(encoder.encode('data: tick\n\n'));
      },
      cancel(reason) {
        cancelled = reason ?? 'cancelled';
      },
    });
    const reader = body.pipeThrough(new SseParserStream()).getReader();
    expect((await reader.read()).value?.data).toBe('tick');
    await reader.cancel(); // what leaving a for-await loop does
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cancelled).toBeDefined();
  });
});

describe('SseBatchParserStream', () => {
  it('emits one array of events per input chunk, never an empty one', async () => {
    const stream = source([
      'data: a\n\ndata: b\n\n',
      'data: c',
      '\n\n',
      ': only a comment\n',
    ]).pipeThrough(new SseBatchParserStream());
    const reader = stream.getReader();
    const batches: SseEvent[][] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      batches.push(value);
    }
    expect(batches.map((b) => b.map((e) => e.data))).toEqual([['a', 'b'], ['c']]);
  });

  it("errors on an oversized event by default ('terminate') and goes on with an onError function", async () => {
    const input = ['data: ok\n\ndata: far too long\n\ndata: next\n\n'];
    const failing = source(input)
      .pipeThrough(new SseBatchParserStream({ maxEventSize: 10 }))
      .getReader();
    const failure: unknown = await failing.read().catch((error: unknown) => error);
    expect(isSluiceError(failure, 'sse_event_too_large')).toBe(true);
    const errors: SluiceError[] = [];
    const going = source(input).pipeThrough(
      new SseBatchParserStream({ maxEventSize: 10, onError: (e) => errors.push(e) }),
    );
    const { value } = await going.getReader().read();
    expect(value?.map((e) => e.data)).toEqual(['ok', 'next']);
    expect(errors).toHaveLength(1);
  });
});
