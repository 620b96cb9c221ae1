/**
 * `fromAsyncIterable`: an (async) iterable as a pull-based ReadableStream.
 *
 * The common sketch fills a ReadableStream from a `for await` loop inside `start()`; that
 * reads the source as fast as it produces, whatever the reader does, so a stalled client
 * makes the server buffer without limit. Here the source's `next()` is called only from
 * `pull()`, i.e. only when the stream's queue is below its high-water mark: a reader that
 * stops reading stops the source. Cancelling the stream (or aborting `signal`) calls the
 * iterator's `return()` exactly once, which is how an async generator runs its `finally`
 * and how an upstream request (a model call, a subscription) gets released.
 */
import { abortReason } from '../errors.js';

export interface FromAsyncIterableOptions<T> {
  /**
   * How many items (or size units, with `size`) the stream may read ahead of its reader.
   * `0` reads only when a reader is waiting.
   */
  highWaterMark?: number;
  /** Size of one item for the high-water mark (default: every item counts 1). */
  size?: (item: T) => number;
  /** Aborting errors the stream with the signal's reason and returns the iterator. */
  signal?: AbortSignal;
}

export const FROM_ASYNC_ITERABLE_DEFAULTS = Object.freeze({
  /** One item of read-ahead: the next token is ready when the reader asks, no more. */
  highWaterMark: 1,
});

export function fromAsyncIterable<T>(
  iterable: AsyncIterable<T> | Iterable<T>,
  options: FromAsyncIterableOptions<T> = {},
): ReadableStream<T> {
  const { signal } = options;
  let iterator: AsyncIterator<T> | undefined;
  // Set once the iterator needs no more calls: it finished, threw, or was returned.
  let settled = false;
  let onAbort: (() => void) | undefined;

  const detach = (): void => {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    onAbort = undefined;
  };

  /** Returns the iterator at most once; later calls (abort after cancel, ...) are no-ops. */
  const release = async (reason: unknown): Promise<void> => {
    if (settled) return;
    settled = true;
    detach();
    await iterator?.return?.(reason);
  };

  return new ReadableStream<T>(
    {
      start(controller) {
        if (signal?.aborted === true) {
          settled = true;
          controller.error(abortReason(signal));
          return;
        }
        try {
          iterator = toAsyncIterator(iterable);
        } catch (error) {
          settled = true;
          controller.error(error);
          return;
        }
        if (signal !== undefined) {
          onAbort = () => {
            controller.error(abortReason(signal));
            // The stream is already errored; a failing return() has nobody left to tell.
            release(abortReason(signal)).catch(() => undefined);
          };
          signal.addEventListener('abort', onAbort, { once: true });
        }
      },

      async pull(controller) {
        if (settled || iterator === undefined) return;
        let result: IteratorResult<T>;
        try {
          result = await iterator.next();
        } catch (error) {
          // A throwing iterator is finished by protocol: no return() call afterwards.
          if (settled) return;
          settled = true;
          detach();
          controller.error(error);
          return;
        }
        // Cancelled or aborted while next() was in flight: the value has no reader.
        if (settled) return;
        if (result.done === true) {
          settled = true;
          detach();
          controller.close();
          return;
        }
        try {
          controller.enqueue(result.value);
        } catch (error) {
          // The `size` strategy threw: the stream is now errored, and an errored stream gets
          // no cancel(), so the iterator must be returned here or its upstream stays open.
          await release(error).catch(() => undefined); // the size error is the one to report
          throw error;
        }
      },

      async cancel(reason) {
        await release(reason);
      },
    },
    {
      highWaterMark: options.highWaterMark ?? FROM_ASYNC_ITERABLE_DEFAULTS.highWaterMark,
      ...(options.size === undefined ? {} : { size: options.size }),
    },
  );
}

function toAsyncIterator<T>(iterable: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in iterable) return iterable[Symbol.asyncIterator]();
  // `yield*` in an async generator awaits promised values and forwards return().
  const sync = iterable;
  return (async function* () {
    yield* sync;
  })();
}
