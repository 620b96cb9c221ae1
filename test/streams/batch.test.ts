import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { batch } from '../../src/core/streams/batch.js';
import { drive } from './transform-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('batch', () => {
  it('emits full batches by count and the remainder at close', async () => {
    const { out, writer, finished } = drive(batch<number>({ maxItems: 3, maxWaitMs: null }));
    for (let i = 1; i <= 7; i += 1) await writer.write(i);
    expect(out).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    await writer.close();
    await finished;
    expect(out.at(-1)).toEqual([7]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('emits a partial batch maxWaitMs after its first item, then stops its timer', async () => {
    const { out, writer } = drive(batch<string>({ maxItems: 10, maxWaitMs: 10 }));
    await writer.write('a');
    await vi.advanceTimersByTimeAsync(5);
    await writer.write('b');
    await vi.advanceTimersByTimeAsync(4);
    expect(out).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(out).toEqual([['a', 'b']]);
    expect(vi.getTimerCount()).toBe(0);
    await writer.write('c');
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(out).toEqual([['a', 'b'], ['c']]);
  });

  it('a full batch clears the pending timer', async () => {
    const { out, writer } = drive(batch<number>({ maxItems: 2, maxWaitMs: 10 }));
    await writer.write(1);
    expect(vi.getTimerCount()).toBe(1);
    await writer.write(2);
    expect(out).toEqual([[1, 2]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('respects maxBytes, emitting before an item would overflow the batch', async () => {
    const { out, writer, finished } = drive(
      batch<string>({ maxItems: 100, maxBytes: 10, maxWaitMs: null }),
    );
    for (const s of ['aaaa', 'bbbb', 'ccc', 'dddddddddddd', 'e']) await writer.write(s);
    await writer.close();
    await finished;
    expect(out).toEqual([['aaaa', 'bbbb'], ['ccc'], ['dddddddddddd'], ['e']]);
  });

  it('cancelling the readable side clears the timer', async () => {
    const { writer, reader } = drive(batch<number>({ maxWaitMs: 1_000 }));
    await writer.write(1);
    expect(vi.getTimerCount()).toBe(1);
    await reader.cancel('client gone');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aborting the writable side clears the timer', async () => {
    const { writer, finished } = drive(batch<number>({ maxWaitMs: 1_000 }));
    await writer.write(1);
    await writer.abort(new Error('upstream failed'));
    expect(vi.getTimerCount()).toBe(0);
    expect(await finished).toEqual(new Error('upstream failed'));
  });

  it('a size() that throws errors the stream and clears the timer of the batch in progress', async () => {
    const size = (item: string): number => {
      if (item === 'bad') throw new Error('unmeasurable');
      return 1;
    };
    const { writer, finished } = drive(batch<string>({ maxWaitMs: 60_000, size }));
    await writer.write('a');
    expect(vi.getTimerCount()).toBe(1);
    await expect(writer.write('bad')).rejects.toThrow('unmeasurable');
    expect(await finished).toEqual(new Error('unmeasurable'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes backpressure through: writes wait while nobody reads', async () => {
    const stream = batch<number>({ maxItems: 1, maxWaitMs: null });
    const writer = stream.writable.getWriter();
    const settled: number[] = [];
    const writes = [0, 1, 2, 3, 4].map((i) => writer.write(i).then(() => settled.push(i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toEqual([]);
    const reader = stream.readable.getReader();
    expect(await reader.read()).toEqual({ value: [0], done: false });
    await reader.cancel();
    // Writes still queued when the reader left fail: they were never delivered.
    const results = await Promise.allSettled(writes);
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
  });

  it('refuses nonsense limits', () => {
    expect(() => batch({ maxItems: 0 })).toThrow(/maxItems/);
  });
});
