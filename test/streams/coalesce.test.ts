import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { coalesce, concatStrings } from '../../src/core/streams/coalesce.js';
import { drive } from './transform-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('coalesce', () => {
  it('emits the first item at once, then one merged item per interval', async () => {
    const { out, writer } = drive(coalesce({ intervalMs: 50, merge: concatStrings }));
    await writer.write('Hel');
    expect(out).toEqual(['Hel']);
    for (const t of ['lo', ', ', 'wor']) await writer.write(t);
    expect(out).toEqual(['Hel']);
    await vi.advanceTimersByTimeAsync(50);
    expect(out).toEqual(['Hel', 'lo, wor']);
    await writer.write('ld');
    await vi.advanceTimersByTimeAsync(49);
    expect(out).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(out).toEqual(['Hel', 'lo, wor', 'ld']);
    // A quiet interval stops the timer; the next item again goes out at once.
    await vi.advanceTimersByTimeAsync(50);
    expect(vi.getTimerCount()).toBe(0);
    await writer.write('!');
    expect(out.at(-1)).toBe('!');
  });

  it('emits what is pending at close and leaves no timer', async () => {
    const { out, writer, finished } = drive(coalesce({ intervalMs: 50, merge: concatStrings }));
    await writer.write('a');
    await writer.write('b');
    await writer.write('c');
    await writer.close();
    await finished;
    expect(out).toEqual(['a', 'bc']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('without leading, even the first item waits for the interval', async () => {
    const { out, writer } = drive(
      coalesce({ intervalMs: 20, merge: concatStrings, leading: false }),
    );
    await writer.write('a');
    await writer.write('b');
    expect(out).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(out).toEqual(['ab']);
  });

  it('emits a merged item early once it reaches maxBytes', async () => {
    const { out, writer } = drive(
      coalesce({ intervalMs: 1_000, merge: concatStrings, maxBytes: 4 }),
    );
    for (const t of ['x', 'ab', 'cd', 'e']) await writer.write(t);
    expect(out).toEqual(['x', 'abcd']);
  });

  it('merges non-string items with the given function', async () => {
    const { out, writer } = drive(
      coalesce<{ n: number }>({ intervalMs: 10, merge: (a, b) => ({ n: a.n + b.n }) }),
    );
    for (const n of [1, 2, 3]) await writer.write({ n });
    await vi.advanceTimersByTimeAsync(10);
    expect(out).toEqual([{ n: 1 }, { n: 5 }]);
  });

  it('a merge that throws errors the stream and clears its timer', async () => {
    const merge = (pending: string, next: string): string => {
      if (next === 'bad') throw new Error('unmergeable');
      return pending + next;
    };
    const { writer, finished } = drive(coalesce<string>({ merge, intervalMs: 60_000 }));
    await writer.write('a'); // leading: out at once, the interval starts
    await writer.write('b'); // pending
    expect(vi.getTimerCount()).toBe(1);
    await expect(writer.write('bad')).rejects.toThrow('unmergeable');
    expect(await finished).toEqual(new Error('unmergeable'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancel clears the timer and drops what is pending', async () => {
    const { writer, reader } = drive(coalesce({ intervalMs: 1_000, merge: concatStrings }));
    await writer.write('a');
    await writer.write('b');
    expect(vi.getTimerCount()).toBe(1);
    await reader.cancel();
    expect(vi.getTimerCount()).toBe(0);
  });
});
