import { afterEach, describe, expect, it, vi } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { BufferMonitor, type BufferStats } from '../../src/core/streams/buffer-monitor.js';
import { monitorBackpressure } from '../../src/core/streams/monitor-backpressure.js';

/** An endless pull-based source (no read-ahead of its own) that counts pulls and cancels. */
function countingSource(make: (n: number) => string = (n) => `item-${n}`) {
  const counts = { pulls: 0, cancels: [] as unknown[] };
  const stream = new ReadableStream<string>(
    {
      pull(controller) {
        controller.enqueue(make(counts.pulls));
        counts.pulls += 1;
      },
      cancel(reason) {
        counts.cancels.push(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { counts, stream };
}

/** Lets queued promise jobs and (fake or real) zero-delay timers run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

afterEach(() => {
  vi.useRealTimers();
});

describe('monitorBackpressure', () => {
  it('passes a finite stream through in order and closes', async () => {
    const source = new ReadableStream<string>({
      start(controller) {
        for (const s of ['a', 'b', 'c']) controller.enqueue(s);
        controller.close();
      },
    });
    const monitor = new BufferMonitor();
    const reader = monitorBackpressure(source, { monitor }).getReader();
    const out: string[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
    expect(out).toEqual(['a', 'b', 'c']);
    expect(monitor.stats()).toMatchObject({
      queuedItems: 0,
      queuedBytes: 0,
      enqueued: 3,
      dequeued: 3,
    });
  });

  it('reads ahead only up to maxItems while the consumer does not read', async () => {
    vi.useFakeTimers();
    const { counts, stream } = countingSource();
    const monitor = new BufferMonitor();
    const wrapped = monitorBackpressure(stream, { maxItems: 4, monitor, stallTimeoutMs: null });
    for (let i = 0; i < 20; i += 1) await settle();
    expect(counts.pulls).toBe(4);
    expect(monitor.stats()).toMatchObject({ queuedItems: 4, peakItems: 4, queuedBytes: 24 });

    const reader = wrapped.getReader();
    expect(await reader.read()).toEqual({ done: false, value: 'item-0' });
    for (let i = 0; i < 20; i += 1) await settle();
    expect(counts.pulls).toBe(5);
    await reader.cancel();
    expect(monitor.queuedItems).toBe(0);
  });

  it('limits read-ahead by size too', async () => {
    vi.useFakeTimers();
    const { counts, stream } = countingSource(() => 'x'.repeat(10));
    const wrapped = monitorBackpressure(stream, {
      maxBytes: 25,
      maxItems: null,
      stallTimeoutMs: null,
    });
    for (let i = 0; i < 20; i += 1) await settle();
    expect(counts.pulls).toBe(3);
    await wrapped.cancel();
  });

  it('errors with slow_consumer and cancels the source when nobody reads past the timeout', async () => {
    vi.useFakeTimers();
    const { counts, stream } = countingSource();
    const stalls: BufferStats[] = [];
    const monitor = new BufferMonitor();
    const wrapped = monitorBackpressure(stream, {
      maxItems: 2,
      stallTimeoutMs: 1_000,
      monitor,
      onStall: (stats) => stalls.push(stats),
    });
    await settle();
    await vi.advanceTimersByTimeAsync(999);
    expect(stalls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toMatchObject({ stalls: 1, queuedItems: 2 });
    const reader = wrapped.getReader();
    await expect(reader.read()).rejects.toSatisfy((e) => isSluiceError(e, 'slow_consumer'));
    expect(counts.cancels).toHaveLength(1);
    expect(isSluiceError(counts.cancels[0], 'slow_consumer')).toBe(true);
    expect(monitor.queuedItems).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a consumer that keeps reading, however slowly, is not stalled', async () => {
    vi.useFakeTimers();
    const { stream } = countingSource();
    const onStall = vi.fn();
    const reader = monitorBackpressure(stream, {
      maxItems: 2,
      stallTimeoutMs: 1_000,
      onStall,
    }).getReader();
    for (let i = 0; i < 20; i += 1) {
      await vi.advanceTimersByTimeAsync(900);
      expect((await reader.read()).done).toBe(false);
    }
    expect(onStall).not.toHaveBeenCalled();
    await reader.cancel();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a consumer waiting on a quiet source is not stalled', async () => {
    vi.useFakeTimers();
    const quiet = new ReadableStream<string>({}, { highWaterMark: 0 });
    const onStall = vi.fn();
    const reader = monitorBackpressure(quiet, { stallTimeoutMs: 1_000, onStall }).getReader();
    const pending = reader.read();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onStall).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    await reader.cancel();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('cancel reaches the source with the reason and clears the timer and counts', async () => {
    vi.useFakeTimers();
    const { counts, stream } = countingSource();
    const monitor = new BufferMonitor();
    const wrapped = monitorBackpressure(stream, { stallTimeoutMs: 1_000, monitor, maxItems: 3 });
    await settle();
    expect(vi.getTimerCount()).toBe(1);
    await wrapped.cancel('client gone');
    expect(counts.cancels).toEqual(['client gone']);
    expect(vi.getTimerCount()).toBe(0);
    expect(monitor.stats()).toMatchObject({ queuedItems: 0, queuedBytes: 0, stalls: 0 });
  });

  it('abort errors the stream with the reason and cancels the source', async () => {
    const { counts, stream } = countingSource();
    const controller = new AbortController();
    const reader = monitorBackpressure(stream, { signal: controller.signal }).getReader();
    await reader.read();
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(reader.read()).rejects.toBe(reason);
    expect(counts.cancels).toEqual([reason]);
  });

  it('a source error reaches the consumer', async () => {
    const source = new ReadableStream<string>({
      pull: (controller) => controller.error(new Error('upstream broke')),
    });
    const reader = monitorBackpressure(source).getReader();
    await expect(reader.read()).rejects.toThrow('upstream broke');
  });

  it('one monitor aggregates several streams', async () => {
    vi.useFakeTimers();
    const monitor = new BufferMonitor();
    const a = monitorBackpressure(countingSource().stream, {
      maxItems: 2,
      monitor,
      stallTimeoutMs: null,
    });
    const b = monitorBackpressure(countingSource().stream, {
      maxItems: 3,
      monitor,
      stallTimeoutMs: null,
    });
    for (let i = 0; i < 20; i += 1) await settle();
    expect(monitor.queuedItems).toBe(5);
    await a.cancel();
    expect(monitor.queuedItems).toBe(3);
    await b.cancel();
    expect(monitor.stats()).toMatchObject({ queuedItems: 0, queuedBytes: 0, peakItems: 5 });
  });

  it('refuses a buffer without any limit', () => {
    expect(() =>
      monitorBackpressure(countingSource().stream, { maxItems: null, maxBytes: null }),
    ).toThrow(/cannot both be null/);
  });
});

describe('monitorBackpressure with a failing size()', () => {
  it('errors the stream and cancels the source, which would otherwise be left running', async () => {
    const { counts, stream } = countingSource();
    const failure = new Error('unmeasurable');
    const size = (item: string): number => {
      if (item === 'item-1') throw failure;
      return item.length;
    };
    const reader = monitorBackpressure(stream, { size, stallTimeoutMs: null }).getReader();
    expect(await reader.read()).toEqual({ done: false, value: 'item-0' });
    await expect(reader.read()).rejects.toBe(failure);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(counts.cancels).toEqual([failure]);
  });
});
