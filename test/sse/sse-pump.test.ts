/**
 * The SSE pump against sinks that behave like a socket: full once enough bytes wait unread,
 * `ready()` settled by the next "drain". What these pin down: text pending in one tick
 * shares a write, a full sink is written to no more, and its "drain" is never missed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PollableIterator } from '../../src/core/pollable.js';
import type { SseFields } from '../../src/sse/encoder.js';
import { SsePump, type SseCloseReason, type SseSink } from '../../src/sse/sse-pump.js';

const pumps: SsePump<unknown>[] = [];
afterEach(() => {
  for (const pump of pumps.splice(0)) pump.cancel();
});

function start<T>(
  source: AsyncIterator<T>,
  sink: SseSink,
  stallTimeout: number | null = null,
  keepAlive: number | null = null,
) {
  const closed: { reason?: SseCloseReason } = {};
  const pump = new SsePump(source, sink, {
    retry: null,
    keepAlive,
    stallTimeout,
    signals: [],
    onClose: (reason) => (closed.reason = reason),
  });
  pumps.push(pump as SsePump<unknown>);
  void pump.run();
  return closed;
}

/** Full once `highWaterMark` bytes wait; `drain()` is the client reading them all. */
class SocketLikeSink implements SseSink {
  /** Every write, and whether the sink had already said it was full. */
  readonly writes: { text: string; intoFullSink: boolean }[] = [];
  readyCalls = 0;
  #waiting: number;
  #waiters: (() => void)[] = [];

  constructor(
    readonly highWaterMark: number,
    backlog = 0,
  ) {
    this.#waiting = backlog;
  }

  get pendingReady(): number {
    return this.#waiters.length;
  }

  drain(): void {
    this.#waiting = 0;
    const settle = this.#waiters;
    this.#waiters = [];
    for (const resolve of settle) resolve();
  }

  write(bytes: Uint8Array): boolean {
    return this.#take(Buffer.from(bytes).toString(), bytes.byteLength);
  }

  writeText(text: string): boolean {
    return this.#take(text, Buffer.byteLength(text));
  }

  ready(): Promise<void> {
    this.readyCalls++;
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  end(): void {}

  fail(): void {}

  #take(text: string, size: number): boolean {
    this.writes.push({ text, intoFullSink: this.#waiting >= this.highWaterMark });
    this.#waiting += size;
    return this.#waiting < this.highWaterMark;
  }
}

/** A pollable source with `items` ready at once (as a producer's queue is). */
function readySource<T>(items: T[]): PollableIterator<T> {
  return {
    poll: () => (items.length > 0 ? { done: false, value: items.shift()! } : undefined),
    onReadable: () => undefined,
    next: () => Promise.reject(new Error('polled only')),
  };
}

/** An await-per-item source: `push()` answers the pending `next()`. */
function pushedSource() {
  const waiting: ((result: IteratorResult<SseFields>) => void)[] = [];
  return {
    iterator: {
      next: () => new Promise<IteratorResult<SseFields>>((resolve) => waiting.push(resolve)),
    } satisfies AsyncIterator<SseFields>,
    push(data: string) {
      waiting.shift()?.({ done: false, value: { data } });
    },
  };
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('SsePump writes', () => {
  it('sends the opening comment in one write with an event that is ready at the start', async () => {
    const sink = new SocketLikeSink(1 << 20);
    start(readySource<SseFields>([{ id: '1', data: 'first token' }]), sink);
    await nextTask();
    expect(sink.writes.map((w) => w.text)).toEqual([': ok\nid: 1\ndata: first token\n\n']);
  });

  it('stops writing when the sink is full and waits for one drain at a time (byte chunks)', async () => {
    const sink = new SocketLikeSink(100);
    const chunks = Array.from({ length: 50 }, () => new Uint8Array(60).fill(97));
    start(readySource(chunks), sink);
    await nextTask();
    for (let round = 0; round < 4; round++) {
      expect(sink.writes.filter((w) => w.intoFullSink)).toEqual([]);
      expect(sink.pendingReady).toBe(1);
      const before = sink.writes.length;
      sink.drain();
      await nextTask();
      expect(sink.writes.length - before).toBe(2); // 60 bytes fit, the next 60 fill it
    }
    expect(sink.readyCalls).toBe(5);
  });

  it('waits for one drain at a time after a replay larger than one batch (text)', async () => {
    const sink = new SocketLikeSink(16 * 1024);
    const events = Array.from({ length: 40 }, (_, i) => ({
      id: String(i),
      data: 'x'.repeat(1000),
    }));
    start(readySource<SseFields>(events), sink);
    await nextTask();
    expect(sink.pendingReady).toBe(1);
    const before = sink.writes.length;
    sink.drain();
    await nextTask();
    expect(sink.writes.slice(before).filter((w) => w.intoFullSink)).toEqual([]);
    expect(sink.pendingReady).toBe(1);
  });

  it('does not miss the drain when its deferred opening write finds the sink full', async () => {
    // A socket still holding an earlier response: the opening comment fills it, and the
    // client reads it all 5 ms later (one drain), while the pump waits for its first item.
    const sink = new SocketLikeSink(64, 100);
    const source = pushedSource();
    const closed = start(source.iterator, sink, 300);
    await nextTask();
    expect(sink.writes.map((w) => w.text)).toEqual([': ok\n']);
    setTimeout(() => sink.drain(), 5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const data of ['one', 'two', 'three']) {
      source.push(data);
      await new Promise((resolve) => setTimeout(resolve, 20));
      sink.drain(); // the client keeps reading
    }
    expect(sink.writes.map((w) => w.text)).toEqual([
      ': ok\n',
      'data: one\n\n',
      'data: two\n\n',
      'data: three\n\n',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 350)); // past the stall timeout
    expect(closed.reason).toBeUndefined();
  });

  it('lets a quiet stream whose client reads on keep going: no stall, keepalives again', async () => {
    // The opening write fills the sink while the pump waits on a source that stays quiet;
    // the client reads everything every 10 ms. Nothing must wait for an item to notice.
    const sink = new SocketLikeSink(64, 100);
    const reading = setInterval(() => sink.drain(), 10);
    try {
      const closed = start(pushedSource().iterator, sink, 100, 30);
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(closed.reason).toBeUndefined(); // past the stall timeout
      const keepalives = sink.writes.filter((w) => w.text === ':\n');
      expect(keepalives.length).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(reading);
    }
  });
});
