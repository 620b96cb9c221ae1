import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import type { SseEvent } from '../../src/sse/parser.js';
import {
  PARSER_STREAM_DEFAULTS,
  SseBatchParserStream,
  SseParserStream,
} from '../../src/sse/parser-stream.js';

const encoder = new TextEncoder();
const tick = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

/** A pull source of `count` chunks, each one complete event; counts what was pulled. */
function counted(count: number): {
  body: ReadableStream<Uint8Array>;
  pulled: () => number;
  cancelled: () => unknown;
} {
  let i = 0;
  let cancelled: unknown;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < count) controller.enqueue(encoder.encode(`id: ${i++}\ndata: e\n\n`));
      else controller.close();
    },
    cancel(reason) {
      cancelled = reason ?? 'cancelled';
    },
  });
  return { body, pulled: () => i, cancelled: () => cancelled };
}

/** Node's ReadableStream is async-iterable; the DOM typings do not say so. */
const iterate = <T>(stream: ReadableStream<T>) => stream as unknown as AsyncIterable<T>;

async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterate(stream)) out.push(value);
  return out;
}

/** Deterministic chunkings of one input (a seeded generator, 1–`max` bytes per chunk). */
function cut(bytes: Uint8Array, seed: number, max: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let s = seed;
  for (let at = 0; at < bytes.length;) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const size = 1 + (s % max);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function source<T>(chunks: readonly T[]): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

describe('SseBatchParserStream', () => {
  it('yields the same events as SseParserStream, whatever the chunking', async () => {
    const text =
      '\uFEFF: hello\nretry: 5\n' +
      Array.from({ length: 300 }, (_, i) =>
        i % 7 === 0
          ? `event: e${i}\r\ndata: ${'é'.repeat(i % 13)}\r\ndata: 😀\r\n\r\n`
          : `id: ${i}\ndata: {"n":${i}}\n\n`,
      ).join('') +
      'data: unterminated';
    const bytes = encoder.encode(text);
    for (const [seed, max] of [
      [1, 1],
      [2, 7],
      [3, 64],
      [4, 4096],
    ] as const) {
      const chunks = cut(bytes, seed, max);
      const single = await readAll(source(chunks).pipeThrough(new SseParserStream()));
      const batches = await readAll(source(chunks).pipeThrough(new SseBatchParserStream()));
      expect(batches.every((batch) => batch.length > 0)).toBe(true);
      expect(batches.flat()).toEqual(single);
      expect(single).toHaveLength(300);
    }
  });

  it('stops pulling from its source once maxQueuedBatches batches wait for a reader', async () => {
    for (const limit of [undefined, 1, 3]) {
      const src = counted(1_000);
      const readable = src.body.pipeThrough(new SseBatchParserStream({ maxQueuedBatches: limit }));
      await tick(30); // nobody reads
      // The queued batches, plus the one chunk the source itself holds ready.
      const bound = (limit ?? PARSER_STREAM_DEFAULTS.maxQueuedBatches) + 2;
      expect(src.pulled()).toBeLessThanOrEqual(bound);
      // Reading releases it: every event arrives, in order.
      const ids = (await readAll(readable)).flat().map((e) => Number(e.lastEventId));
      expect(ids).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    }
  });

  it('keeps the bound with a reader that reads one batch now and then', async () => {
    const src = counted(200);
    const reader = src.body
      .pipeThrough(new SseBatchParserStream({ maxQueuedBatches: 2 }))
      .getReader();
    let events = 0;
    for (let round = 0; round < 5; round++) {
      await tick(5);
      expect(src.pulled() - events).toBeLessThanOrEqual(2 + 2);
      const { value } = await reader.read();
      events += value?.length ?? 0;
    }
    await reader.cancel();
  });

  it('rejects a maxQueuedBatches that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      let failure: unknown;
      try {
        new SseBatchParserStream({ maxQueuedBatches: bad });
      } catch (error) {
        failure = error;
      }
      expect(isSluiceError(failure, 'invalid_argument')).toBe(true);
    }
  });

  it('cancelling the reader cancels the source, even while parsing is paused', async () => {
    const src = counted(1_000);
    const reader = src.body.pipeThrough(new SseBatchParserStream()).getReader();
    expect((await reader.read()).value?.[0]?.data).toBe('e');
    await tick(); // the queue fills and the writer waits
    await reader.cancel(new Error('gone'));
    await tick(0);
    expect(src.cancelled()).toBeInstanceOf(Error);
    const pulled = src.pulled();
    await tick();
    expect(src.pulled()).toBe(pulled);
  });

  it('breaking out of for-await cancels the source', async () => {
    const src = counted(1_000);
    for await (const batch of iterate(src.body.pipeThrough(new SseBatchParserStream()))) {
      expect(batch[0]?.data).toBe('e');
      break;
    }
    await tick(0);
    expect(src.cancelled()).toBeDefined();
  });

  it('aborting the writable errors the readable, even with a parked write', async () => {
    const stream = new SseBatchParserStream({ maxQueuedBatches: 1 });
    const writer = stream.writable.getWriter();
    void writer.write('data: a\n\n'); // fills the queue: this write waits for a reader
    const second = writer.write('data: b\n\n');
    second.catch(() => undefined);
    await tick(0);
    const reason = new Error('upstream failed');
    await writer.abort(reason);
    const reader = stream.readable.getReader();
    await expect(reader.read()).rejects.toBe(reason);
    await expect(second).rejects.toBe(reason);
  });

  it('an error in the source errors the readable', async () => {
    const failure = new Error('socket reset');
    let sent = false;
    const body = new ReadableStream<string>({
      pull(controller) {
        if (sent) return controller.error(failure);
        sent = true;
        controller.enqueue('data: a\n\n');
      },
    });
    const reader = body.pipeThrough(new SseBatchParserStream()).getReader();
    const outcomes: unknown[] = [];
    for (;;) {
      const result = await reader.read().catch((error: unknown) => error);
      outcomes.push(result);
      if (result === failure) break;
    }
    expect(outcomes[0]).toEqual({
      done: false,
      value: [{ event: 'message', data: 'a', lastEventId: '' }],
    });
    expect(outcomes.at(-1)).toBe(failure);
  });

  it('an oversized event errors both sides and cancels the source', async () => {
    let cancelled: unknown;
    const body = new ReadableStream<string>({
      pull(controller) {
        controller.enqueue(`data: ${'x'.repeat(50)}\n\n`);
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const reader = body.pipeThrough(new SseBatchParserStream({ maxEventSize: 10 })).getReader();
    const failure: unknown = await reader.read().catch((error: unknown) => error);
    expect(isSluiceError(failure, 'sse_event_too_large')).toBe(true);
    await tick(0);
    expect(isSluiceError(cancelled, 'sse_event_too_large')).toBe(true);
  });

  it('closes the readable when the writable closes, after the last batch', async () => {
    const stream = new SseBatchParserStream();
    const writer = stream.writable.getWriter();
    const reading = readAll(stream.readable);
    await writer.write('data: a\n\ndata: b');
    await writer.write('\n\n');
    await writer.write('data: cut');
    await writer.close();
    const batches: SseEvent[][] = await reading;
    expect(batches.map((b) => b.map((e) => e.data))).toEqual([['a'], ['b']]);
  });
});
