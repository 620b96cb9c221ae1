/**
 * Reads an OpenAI-format SSE body incrementally and yields normalised model events.
 *
 * Pull-based: body bytes are read only when the consumer asked for an event and none is
 * queued, so a slow generation leaves bytes in the upstream socket (TCP backpressure)
 * instead of in memory. Bytes go straight to the SSE parser, which decodes UTF-8 across
 * chunk boundaries, so any split (mid-line, mid-character) gives the same events. After
 * `[DONE]` it stops at once rather than waiting for the server to close.
 *
 * Pollable (core/pollable.ts): events whose bytes already arrived are handed out
 * synchronously, and the consumer is called back when more bytes came, so a token costs no
 * promise and no timer; `next()` remains for ordinary consumers.
 *
 * Ending: `[DONE]` or a finish reason followed by the end of the body (or its connection
 * breaking) is a normal end;
 * the body ending with neither is `llm_upstream_truncated` (the `openai` client would
 * report that as success); a `{"error":…}` frame or an `event: error` is
 * `llm_upstream_error`. Leaving early (return, abort) cancels the body.
 */
import { SluiceError, abortReason } from '../core/errors.js';
import { PollableBase, type SettledResult } from '../core/pollable.js';
import { createParser, type SseEvent, type SseParser } from '../sse/parser.js';
import { END, WebByteSource, type ByteSource } from './byte-source.js';
import { ChunkNormalizer, upstreamError } from './chunk-normalizer.js';
import type { ModelEvent } from './model.js';

export const STREAM_READER_DEFAULTS = Object.freeze({
  /** Largest single SSE event accepted from an upstream (UTF-16 units). */
  maxEventSize: 1024 * 1024,
  /** No byte from the upstream for this long mid-stream is an error; `null` disables. */
  inactivityTimeoutMs: 120_000,
  /**
   * After the finish reason, silence for this long ends the stream normally: the answer is
   * whole, and an upstream that never sends `[DONE]` (or its usage chunk) must not hold the
   * readers for the inactivity timeout and then fail them.
   */
  finishTailMs: 5_000,
});

export interface StreamReaderOptions {
  signal?: AbortSignal;
  maxEventSize?: number;
  inactivityTimeoutMs?: number | null;
  finishTailMs?: number;
}

/** The reader as an async generator over a Web body (the public, runtime-neutral form). */
export async function* readOpenAIStream(
  body: ReadableStream<Uint8Array>,
  options: StreamReaderOptions = {},
): AsyncGenerator<ModelEvent, void, undefined> {
  yield* new OpenAIStreamReader(new WebByteSource(body), options);
}

type Result = SettledResult<ModelEvent>;

export class OpenAIStreamReader extends PollableBase<ModelEvent> {
  readonly #source: ByteSource;
  readonly #normalizer = new ChunkNormalizer();
  readonly #parser: SseParser;
  readonly #signal: AbortSignal | undefined;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  /** Events parsed and not yet handed out; `#head` indexes the next one (no `shift()`). */
  #queue: ModelEvent[] = [];
  #head = 0;
  #failure: Error | undefined;
  #done = false;
  /** The body ended (END seen): nothing to cancel. */
  #ended = false;
  #closed = false;
  /** Waiting on the source: only then does the inactivity timer count. */
  #waiting = false;
  /** After the finish reason, the wait for the rest is short (`finishTailMs`). */
  #tail: ReturnType<typeof setTimeout> | undefined;
  readonly #tailMs: number;

  constructor(source: ByteSource, options: StreamReaderOptions = {}) {
    super();
    this.#source = source;
    this.#signal = options.signal;
    this.#tailMs = options.finishTailMs ?? STREAM_READER_DEFAULTS.finishTailMs;
    const inactivity =
      options.inactivityTimeoutMs === undefined
        ? STREAM_READER_DEFAULTS.inactivityTimeoutMs
        : options.inactivityTimeoutMs;
    this.#parser = createParser(
      {
        onEvent: (event) => this.#onEvent(event),
        onError: (error) => {
          this.#failure ??= new SluiceError('llm_upstream_error', 'Malformed upstream stream', {
            status: 502,
            cause: error,
          });
        },
      },
      { maxEventSize: options.maxEventSize ?? STREAM_READER_DEFAULTS.maxEventSize },
    );
    // One timer and one abort listener per stream, not per chunk. The timer is refreshed
    // each time the reader starts waiting for bytes and only fires while it still waits, so
    // it measures the upstream's silence, never a slow consumer between reads.
    if (inactivity !== null) {
      this.#timer = setTimeout(() => {
        if (this.#waiting) this.#stop(inactivityError(inactivity));
      }, inactivity);
      this.#timer.unref?.();
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#signal?.aborted) this.#onAbort();
  }

  async return(): Promise<IteratorResult<ModelEvent, undefined>> {
    this.#close();
    return { done: true, value: undefined };
  }

  /** The next result if one can be had without waiting; else starts waiting, undefined. */
  protected settle(): Result | undefined {
    for (;;) {
      if (this.#head < this.#queue.length) {
        const value = this.#queue[this.#head++]!;
        if (this.#head === this.#queue.length) {
          this.#queue.length = 0;
          this.#head = 0;
        }
        return { done: false, value };
      }
      if (this.#closed) return { done: true, value: undefined };
      if (this.#failure !== undefined) return this.#fail(this.#failure);
      if (this.#done) {
        this.#close();
        return { done: true, value: undefined };
      }
      let bytes: Uint8Array | null | typeof END;
      try {
        bytes = this.#source.read();
      } catch (error) {
        // After the finish reason the answer is whole: a connection that breaks before
        // `[DONE]` loses at most the usage chunk (then counted), so it ends normally.
        if (this.#normalizer.finished) this.#done = true;
        else this.#failure ??= error instanceof Error ? error : new Error(String(error));
        continue;
      }
      if (bytes === null) {
        if (!this.#waiting) {
          this.#waiting = true;
          if (this.#normalizer.finished) this.#armTail();
          else this.#timer?.refresh();
          this.#source.wait(this.#onBytes);
        }
        return undefined;
      }
      if (bytes === END) {
        this.#ended = true;
        this.#parser.end();
        if (this.#failure === undefined && !this.#done && !this.#normalizer.finished) {
          this.#failure = new SluiceError(
            'llm_upstream_truncated',
            'The upstream stream ended without a finish reason or [DONE]',
            { status: 502 },
          );
        }
        this.#done = true;
        continue;
      }
      this.#parser.feed(bytes);
    }
  }

  #onEvent(event: SseEvent): void {
    if (this.#done || this.#failure !== undefined) return;
    if (event.data === '[DONE]') {
      this.#done = true;
      this.#normalizer.done(this.#queue);
      return;
    }
    if (event.data === '') return;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch (error) {
      this.#failure = new SluiceError(
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
      this.#failure = upstreamError(json);
      return;
    }
    try {
      this.#normalizer.push(json, this.#queue);
    } catch (error) {
      this.#failure = error instanceof SluiceError ? error : upstreamError(undefined);
    }
  }

  /** The source may have bytes (or ended, or failed): hand them to whoever waits. */
  readonly #onBytes = (): void => {
    this.#waiting = false;
    this.wake();
  };

  readonly #onAbort = (): void => {
    const reason = abortReason(this.#signal!);
    this.#stop(reason instanceof Error ? reason : new SluiceError('aborted', 'Aborted'));
  };

  /** Waiting after the finish reason: the short timer replaces the inactivity one. */
  #armTail(): void {
    if (this.#tail !== undefined) {
      this.#tail.refresh();
      return;
    }
    clearTimeout(this.#timer);
    this.#tail = setTimeout(() => {
      if (!this.#waiting || this.#closed || this.#done) return;
      // The answer is whole; the connection's state is not known, so it is not reused.
      this.#waiting = false;
      this.#done = true;
      this.#ended = true;
      this.#source.cancel();
      this.wake();
    }, this.#tailMs);
    this.#tail.unref?.();
  }

  /** Abort or silence: events already parsed still go out first, then this error. */
  #stop(reason: Error): void {
    if (this.#closed || this.#done) return;
    this.#failure ??= reason;
    this.#waiting = false;
    this.#source.cancel(reason);
    this.wake();
  }

  #fail(error: Error): Result {
    this.#close();
    return { error };
  }

  /** Releases everything once: timer, listener, and the body unless it ended by itself. */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#head = 0;
    clearTimeout(this.#timer);
    clearTimeout(this.#tail);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (this.#ended) return;
    // After `[DONE]` the connection may still be reused; any other early end closes it.
    if (this.#done && this.#failure === undefined) this.#source.finish();
    else this.#source.cancel();
  }
}

function inactivityError(ms: number): SluiceError {
  return new SluiceError('llm_upstream_error', `The upstream sent nothing for ${ms} ms`, {
    status: 504,
  });
}
