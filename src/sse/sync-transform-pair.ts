/**
 * A `{ writable, readable }` pair for `pipeThrough()` whose transform is synchronous and
 * yields at most one output per input chunk: the shape of `SseBatchParserStream`, where the
 * per-chunk cost of Node's web streams is a large part of the whole work.
 *
 * Why not a `TransformStream`: each write there goes through a transform promise and a
 * backpressure promise, and its readable calls `pull()` after every read. Here:
 *
 * - `write()` transforms and enqueues at once; it returns a promise (parks) only when the
 *   reader is `limit` outputs behind, and the next `pull()` releases it. Memory: at most
 *   `limit` outputs queued, plus the one input chunk the writable side holds.
 * - A readable stream does not call `pull()` before its `start()` has settled, and `pull()`
 *   is only needed to release a parked writer. So `start()` stays pending until the first
 *   time the writer parks; from then on `pull()` runs as in any stream. A reader that keeps
 *   up never pays the promise round trip a `pull()` costs per read (Node 20).
 *
 * Teardown, as a `TransformStream` does it: a throwing transform errors both sides (the
 * pipe then cancels its source); cancelling the readable errors the writable (the pipe then
 * cancels its source); aborting the writable errors the readable. Each releases a parked
 * writer, so nothing waits on a reader that is gone.
 */

export interface SyncTransform<I, O> {
  /** One input chunk: the output to enqueue, or undefined for none. May throw. */
  transform(chunk: I): O | undefined;
  /** The end of the input: a last output, or undefined. May throw. */
  flush(): O | undefined;
}

export function syncTransformPair<I, O>(
  transformer: SyncTransform<I, O>,
  limit: number,
): ReadableWritablePair<O, I> {
  let output!: ReadableStreamDefaultController<O>;
  let input!: WritableStreamDefaultController;
  /** Settles the readable's start(), which turns pull() on; undefined once it has. */
  let startPulling: (() => void) | undefined;
  /** Releases the parked write, if any. */
  let release: (() => void) | undefined;
  /** One side was cancelled, aborted or errored: nothing more is enqueued. */
  let finished = false;

  const unpark = (): void => {
    const resolve = release;
    release = undefined;
    resolve?.();
  };
  const fail = (error: unknown): void => {
    finished = true;
    output.error(error);
    unpark();
  };

  const readable = new ReadableStream<O>(
    {
      start(controller) {
        output = controller;
        return new Promise<void>((resolve) => (startPulling = resolve));
      },
      pull: unpark,
      cancel(reason) {
        finished = true;
        input.error(reason); // the pipe sees its destination errored and cancels its source
        unpark();
      },
    },
    { highWaterMark: limit },
  );

  const writable = new WritableStream<I>(
    {
      start(controller) {
        input = controller;
        // Fires as soon as abort() is called, even while a write is parked (the sink's own
        // abort() would only run after that write settled).
        controller.signal.addEventListener('abort', () => fail(controller.signal.reason), {
          once: true,
        });
      },
      write(chunk) {
        if (finished) return;
        let out: O | undefined;
        try {
          out = transformer.transform(chunk);
        } catch (error) {
          fail(error);
          throw error;
        }
        if (out === undefined) return;
        output.enqueue(out);
        if (output.desiredSize! > 0) return;
        // The reader is `limit` outputs behind: park until it takes one.
        if (startPulling !== undefined) {
          startPulling();
          startPulling = undefined;
        }
        return new Promise<void>((resolve) => (release = resolve));
      },
      close() {
        if (finished) return;
        let out: O | undefined;
        try {
          out = transformer.flush();
        } catch (error) {
          fail(error);
          throw error;
        }
        if (out !== undefined) output.enqueue(out);
        finished = true;
        output.close();
      },
    },
    { highWaterMark: 1 },
  );

  return { writable, readable };
}
