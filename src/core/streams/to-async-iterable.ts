/**
 * `toAsyncIterable`: iterate a ReadableStream with `for await`, with the guarantees a
 * server needs spelled out and tested: leaving the loop early (break, return, throw)
 * cancels the stream, so the producer behind it stops; aborting `signal` cancels the
 * stream and makes the loop throw the signal's reason.
 *
 * Node 20 streams are async iterable already, but TypeScript's DOM lib does not type them
 * so, and some browsers lack it; this works on any runtime with a reader.
 */
import { abortReason } from '../errors.js';

export interface ToAsyncIterableOptions {
  /** Aborting cancels the stream with the signal's reason; the loop throws it. */
  signal?: AbortSignal;
  /** Leave the stream running when the loop ends early (default: cancel it). */
  preventCancel?: boolean;
}

export async function* toAsyncIterable<T>(
  stream: ReadableStream<T>,
  options: ToAsyncIterableOptions = {},
): AsyncGenerator<T, void, undefined> {
  const { signal } = options;
  const reader = stream.getReader();
  // True once the stream closed or errored by itself: nothing left to cancel.
  let ended = false;
  const onAbort = (): void => {
    // Cancelling resolves the pending read with done; the loop then throws the reason.
    reader.cancel(abortReason(signal as AbortSignal)).catch(() => undefined);
  };
  try {
    if (signal !== undefined) {
      if (signal.aborted) {
        onAbort();
        throw abortReason(signal);
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    for (;;) {
      let result: ReadableStreamReadResult<T>;
      try {
        result = await reader.read();
      } catch (error) {
        ended = true;
        throw error;
      }
      if (signal?.aborted === true) throw abortReason(signal);
      if (result.done) {
        ended = true;
        return;
      }
      yield result.value;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!ended && options.preventCancel !== true && signal?.aborted !== true) {
      await reader.cancel();
    }
    reader.releaseLock();
  }
}
