import { describe, expect, it } from 'vitest';
import { SluiceError, isSluiceError } from '../../src/core/errors.js';
import { fromAsyncIterable } from '../../src/core/streams/from-async-iterable.js';

/** An endless source that counts how often it was asked for a value and returned. */
function countingSource() {
  const counts = { next: 0, returns: 0, finallyRan: 0 };
  const iterable: AsyncIterable<number> = {
    [Symbol.asyncIterator]() {
      return {
        next: async () => ({ done: false, value: counts.next++ }),
        return: async () => {
          counts.returns += 1;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { counts, iterable };
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

describe('fromAsyncIterable', () => {
  it('yields every value of an async generator, then closes', async () => {
    async function* gen() {
      yield 'a';
      yield 'b';
      yield 'c';
    }
    const out: string[] = [];
    const reader = fromAsyncIterable(gen()).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
    expect(out).toEqual(['a', 'b', 'c']);
  });

  it('accepts a sync iterable', async () => {
    const reader = fromAsyncIterable([1, 2]).getReader();
    expect(await reader.read()).toEqual({ done: false, value: 1 });
    expect(await reader.read()).toEqual({ done: false, value: 2 });
    expect(await reader.read()).toEqual({ done: true, value: undefined });
  });

  it('pulls only up to the high-water mark while nobody reads', async () => {
    const { counts, iterable } = countingSource();
    const stream = fromAsyncIterable(iterable, { highWaterMark: 3 });
    for (let i = 0; i < 10; i += 1) await tick();
    expect(counts.next).toBe(3);
    const reader = stream.getReader();
    await reader.read();
    for (let i = 0; i < 5; i += 1) await tick();
    // One read frees one slot: exactly one more pull.
    expect(counts.next).toBe(4);
    await reader.cancel();
  });

  it('with highWaterMark 0 reads the source only when a reader waits', async () => {
    const { counts, iterable } = countingSource();
    const reader = fromAsyncIterable(iterable, { highWaterMark: 0 }).getReader();
    await tick();
    expect(counts.next).toBe(0);
    expect(await reader.read()).toEqual({ done: false, value: 0 });
    await tick();
    expect(counts.next).toBe(1);
    await reader.cancel();
  });

  it('cancel calls return() exactly once and runs the generator finally', async () => {
    const { counts, iterable } = countingSource();
    const controller = new AbortController();
    const stream = fromAsyncIterable(iterable, { signal: controller.signal });
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel('gone');
    controller.abort();
    await tick();
    expect(counts.returns).toBe(1);

    let finallyRan = 0;
    async function* gen() {
      try {
        for (let i = 0; ; i += 1) yield i;
      } finally {
        finallyRan += 1;
      }
    }
    const reader2 = fromAsyncIterable(gen()).getReader();
    await reader2.read();
    await reader2.cancel();
    expect(finallyRan).toBe(1);
  });

  it('cancel while next() is in flight returns once and drops the late value', async () => {
    let release: (() => void) | undefined;
    let returns = 0;
    const iterable: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<number>>((resolve) => {
            release = () => resolve({ done: false, value: 1 });
          }),
        return: async () => {
          returns += 1;
          return { done: true, value: undefined };
        },
      }),
    };
    const stream = fromAsyncIterable(iterable);
    await tick();
    expect(release).toBeDefined();
    await stream.cancel();
    release?.();
    await tick();
    expect(returns).toBe(1);
  });

  it('abort errors the stream with the reason and returns the iterator once', async () => {
    const { counts, iterable } = countingSource();
    const controller = new AbortController();
    const reader = fromAsyncIterable(iterable, { signal: controller.signal }).getReader();
    await reader.read();
    controller.abort(new SluiceError('aborted', 'client left'));
    await expect(reader.read()).rejects.toSatisfy((e) => isSluiceError(e, 'aborted'));
    await reader.cancel().catch(() => undefined);
    expect(counts.returns).toBe(1);
  });

  it('an already-aborted signal errors at once without touching the source', async () => {
    const { counts, iterable } = countingSource();
    const stream = fromAsyncIterable(iterable, { signal: AbortSignal.abort() });
    await expect(stream.getReader().read()).rejects.toBeDefined();
    expect(counts.next).toBe(0);
    expect(counts.returns).toBe(0);
  });

  it('a throwing source errors the stream and is not returned', async () => {
    let returns = 0;
    const iterable: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          throw new Error('upstream broke');
        },
        return: async () => {
          returns += 1;
          return { done: true, value: undefined };
        },
      }),
    };
    const reader = fromAsyncIterable(iterable).getReader();
    await expect(reader.read()).rejects.toThrow('upstream broke');
    expect(returns).toBe(0);
  });

  it('a source whose iterator cannot be created errors the stream, not the constructor', async () => {
    const iterable = {
      [Symbol.asyncIterator]: () => {
        throw new Error('no iterator');
      },
    } as unknown as AsyncIterable<number>;
    const stream = fromAsyncIterable(iterable);
    await expect(stream.getReader().read()).rejects.toThrow('no iterator');
  });
});

describe('fromAsyncIterable with a failing size()', () => {
  it('errors the stream and returns the iterator, so the generator runs its finally', async () => {
    let released = false;
    async function* source() {
      try {
        for (let n = 0; ; n++) yield n;
      } finally {
        released = true;
      }
    }
    const failure = new Error('unmeasurable');
    const size = (n: number): number => {
      if (n === 1) throw failure;
      return 1;
    };
    // Read-ahead (no reader waiting) is where the size is measured.
    const reader = fromAsyncIterable(source(), { size, highWaterMark: 2 }).getReader();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(reader.read()).rejects.toBe(failure);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(released).toBe(true);
  });
});
