import { describe, expect, it } from 'vitest';
import { SluiceError, isSluiceError } from '../../src/core/errors.js';
import { toAsyncIterable } from '../../src/core/streams/to-async-iterable.js';

/** An endless stream that records cancellations. */
function endless() {
  const cancels: unknown[] = [];
  let n = 0;
  const stream = new ReadableStream<number>({
    pull: (controller) => controller.enqueue(n++),
    cancel: (reason) => {
      cancels.push(reason);
    },
  });
  return { stream, cancels };
}

describe('toAsyncIterable', () => {
  it('iterates to the end of a finite stream without cancelling it', async () => {
    let cancelled = false;
    const stream = new ReadableStream<number>({
      start(controller) {
        controller.enqueue(1);
        controller.enqueue(2);
        controller.close();
      },
      cancel: () => {
        cancelled = true;
      },
    });
    const out: number[] = [];
    for await (const value of toAsyncIterable(stream)) out.push(value);
    expect(out).toEqual([1, 2]);
    expect(cancelled).toBe(false);
    expect(stream.locked).toBe(false);
  });

  it('break cancels the stream exactly once', async () => {
    const { stream, cancels } = endless();
    for await (const value of toAsyncIterable(stream)) {
      if (value === 3) break;
    }
    expect(cancels).toHaveLength(1);
    expect(stream.locked).toBe(false);
  });

  it('a throw inside the loop cancels the stream and rethrows', async () => {
    const { stream, cancels } = endless();
    const run = async () => {
      for await (const value of toAsyncIterable(stream)) {
        if (value === 1) throw new Error('consumer failed');
      }
    };
    await expect(run()).rejects.toThrow('consumer failed');
    expect(cancels).toHaveLength(1);
  });

  it('preventCancel leaves the stream readable after break', async () => {
    const { stream, cancels } = endless();
    for await (const value of toAsyncIterable(stream, { preventCancel: true })) {
      if (value === 0) break;
    }
    expect(cancels).toHaveLength(0);
    const reader = stream.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
  });

  it('abort cancels the stream with the reason and the loop throws it', async () => {
    const controller = new AbortController();
    const pending = new ReadableStream<number>({
      cancel: (reason) => {
        cancels.push(reason);
      },
    });
    const cancels: unknown[] = [];
    const reason = new SluiceError('aborted', 'stop');
    const run = async () => {
      for await (const _ of toAsyncIterable(pending, { signal: controller.signal })) {
        // never reached: the stream never produces
      }
    };
    const done = run();
    setTimeout(() => controller.abort(reason), 5);
    await expect(done).rejects.toBe(reason);
    expect(cancels).toEqual([reason]);
  });

  it('an already-aborted signal cancels the stream before reading', async () => {
    const { stream, cancels } = endless();
    const run = async () => {
      for await (const _ of toAsyncIterable(stream, { signal: AbortSignal.abort() })) {
        // not reached
      }
    };
    await expect(run()).rejects.toSatisfy((e) => e instanceof DOMException || isSluiceError(e));
    expect(cancels).toHaveLength(1);
  });

  it('a stream error reaches the loop', async () => {
    const stream = new ReadableStream<number>({
      pull: (controller) => controller.error(new Error('broken')),
    });
    const run = async () => {
      for await (const _ of toAsyncIterable(stream)) {
        // not reached
      }
    };
    await expect(run()).rejects.toThrow('broken');
  });
});
