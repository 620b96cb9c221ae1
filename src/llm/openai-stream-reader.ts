/**
 * Reads an OpenAI-format SSE body incrementally and yields normalised model events.
 *
 * Pull-based: the next body chunk is read only when the consumer asked for an event and
 * none is queued, so a slow generation leaves bytes in the upstream socket (TCP
 * backpressure) instead of in memory. Bytes go straight to the SSE parser, which decodes
 * UTF-8 across chunk boundaries, so any split (mid-line, mid-character) gives the same
 * events. After `[DONE]` it stops at once rather than waiting for the server to close.
 *
 * Ending: `[DONE]` or a finish reason followed by the end of the body is a normal end;
 * the body ending with neither is `llm_upstream_truncated` (the `openai` client would
 * report that as success); a `{"error":…}` frame or an `event: error` is
 * `llm_upstream_error`. Leaving early (break, return, abort) cancels the body.
 */
import { SluiceError, abortReason } from '../core/errors.js';
import { createParser, type SseEvent } from '../sse/parser.js';
import { ChunkNormalizer, upstreamError } from './chunk-normalizer.js';
import type { ModelEvent } from './model.js';

export const STREAM_READER_DEFAULTS = Object.freeze({
  /** Largest single SSE event accepted from an upstream (UTF-16 units). */
  maxEventSize: 1024 * 1024,
  /** No byte from the upstream for this long mid-stream is an error; `null` disables. */
  inactivityTimeoutMs: 120_000,
});

export interface StreamReaderOptions {
  signal?: AbortSignal;
  maxEventSize?: number;
  inactivityTimeoutMs?: number | null;
}

export async function* readOpenAIStream(
  body: ReadableStream<Uint8Array>,
  options: StreamReaderOptions = {},
): AsyncGenerator<ModelEvent, void, undefined> {
  const inactivity =
    options.inactivityTimeoutMs === undefined
      ? STREAM_READER_DEFAULTS.inactivityTimeoutMs
      : options.inactivityTimeoutMs;
  const normalizer = new ChunkNormalizer();
  const queue: ModelEvent[] = [];
  // Set from callbacks (parser, timer, abort); a holder object so control-flow narrowing does not go stale.
  const state: { failure: SluiceError | undefined; done: boolean; stopped: Error | undefined } = {
    failure: undefined,
    done: false,
    stopped: undefined,
  };

  const onEvent = (event: SseEvent) => {
    if (state.done || state.failure) return;
    if (event.data === '[DONE]') {
      state.done = true;
      normalizer.done(queue);
      return;
    }
    if (event.data === '') return;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch (error) {
      state.failure = new SluiceError(
        'llm_upstream_error',
        'Malformed upstream stream: invalid JSON',
        {
          status: 502,
          cause: error,
        },
      );
      return;
    }
    if (event.event === 'error') {
      state.failure = upstreamError(json);
      return;
    }
    try {
      normalizer.push(json, queue);
    } catch (error) {
      state.failure = error instanceof SluiceError ? error : upstreamError(undefined);
    }
  };
  const parser = createParser(
    {
      onEvent,
      onError: (error) => {
        state.failure ??= new SluiceError('llm_upstream_error', 'Malformed upstream stream', {
          status: 502,
          cause: error,
        });
      },
    },
    { maxEventSize: options.maxEventSize ?? STREAM_READER_DEFAULTS.maxEventSize },
  );

  const throwIfFailed = (): void => {
    if (state.failure) throw state.failure;
  };
  const throwIfStopped = (): void => {
    if (state.stopped) throw state.stopped;
  };

  // One timer and one abort listener per stream, not per chunk. Either one stops the stream
  // by cancelling the reader, which settles a pending `read()`; the reason is kept aside and
  // thrown once that read returns. The timer is re-armed before each read, so it measures
  // only time spent waiting for the upstream, never a slow consumer between reads.
  const reader = body.getReader();
  const signal = options.signal;
  let reading = false;
  const stop = (reason: Error): void => {
    if (state.stopped !== undefined) return;
    state.stopped = reason;
    reader.cancel(reason).catch(() => undefined);
  };
  const timer =
    inactivity === null
      ? undefined
      : setTimeout(() => {
          if (reading) stop(inactivityError(inactivity));
        }, inactivity);
  timer?.unref?.();
  const onAbort = (): void => {
    const reason = abortReason(signal!);
    stop(reason instanceof Error ? reason : new SluiceError('aborted', 'Aborted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  let released = false;
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      throwIfFailed();
      if (state.done) return;
      if (signal?.aborted) onAbort();
      throwIfStopped();
      let result: ReadableStreamReadResult<Uint8Array>;
      reading = true;
      timer?.refresh();
      try {
        result = await reader.read();
      } catch (error) {
        throwIfStopped();
        throw error;
      } finally {
        reading = false;
      }
      throwIfStopped();
      if (result.done) {
        released = true;
        parser.end();
        while (queue.length > 0) yield queue.shift()!;
        throwIfFailed();
        if (!state.done && !normalizer.finished) {
          throw new SluiceError(
            'llm_upstream_truncated',
            'The upstream stream ended without a finish reason or [DONE]',
            { status: 502 },
          );
        }
        return;
      }
      parser.feed(result.value);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    // Stop the upstream: after [DONE], on errors, and when the consumer leaves early.
    if (!released) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function inactivityError(ms: number): SluiceError {
  return new SluiceError('llm_upstream_error', `The upstream sent nothing for ${ms} ms`, {
    status: 504,
  });
}
