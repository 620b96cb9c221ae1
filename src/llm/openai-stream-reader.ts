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
  // Set from parser callbacks; a holder object so control-flow narrowing does not go stale.
  const state: { failure: SluiceError | undefined; done: boolean } = {
    failure: undefined,
    done: false,
  };

  const onEvent = (event: SseEvent) => {
    if (state.done || state.failure) return;
    if (event.data === '[DONE]') {
      state.done = true;
      queue.push(...normalizer.done());
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
      queue.push(...normalizer.push(json));
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

  const reader = body.getReader();
  let released = false;
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      throwIfFailed();
      if (state.done) return;
      const { done: ended, value } = await read(reader, inactivity, options.signal);
      if (ended) {
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
      parser.feed(value);
    }
  } finally {
    // Stop the upstream: after [DONE], on errors, and when the consumer leaves early.
    if (!released) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

async function read(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  inactivityMs: number | null,
  signal: AbortSignal | undefined,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (signal?.aborted) throw abortReason(signal);
  if (inactivityMs === null && !signal) return reader.read();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    if (inactivityMs !== null) {
      timer = setTimeout(() => {
        reject(
          new SluiceError(
            'llm_upstream_error',
            `The upstream sent nothing for ${inactivityMs} ms`,
            {
              status: 504,
            },
          ),
        );
      }, inactivityMs);
      timer.unref?.();
    }
    if (signal) {
      onAbort = () => {
        const reason = abortReason(signal);
        reject(reason instanceof Error ? reason : new SluiceError('aborted', 'Aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([reader.read(), stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
