/**
 * The parser as a `TransformStream`: bytes (e.g. `response.body`) or strings in, events
 * out. Feed bytes directly: no `TextDecoderStream` is needed, and the BOM is then handled
 * exactly (see utf8-stream-decoder.ts).
 *
 * - `SseParserStream` emits one `SseEvent` per event: the natural shape.
 * - `SseBatchParserStream` emits one `SseEvent[]` per input chunk (never an empty one).
 *   Each read from a web `ReadableStream` costs a promise and a trip through the stream
 *   machinery (about a microsecond in Node 20), which dominates when events are small and
 *   many (LLM tokens); batching pays it once per network chunk instead. Use it where
 *   throughput matters; docs/benchmarks.md has the figures.
 *
 * Backpressure: the readable side has a high-water mark of 0, so once a chunk's events are
 * queued, the next chunk is not parsed until the reader has taken them. At most one input
 * chunk's worth of events is ever queued.
 */
import type { SluiceError } from '../core/errors.js';
import { createParser, type ParserOptions, type SseEvent, type SseParser } from './parser.js';

export interface SseParserStreamOptions extends ParserOptions {
  onComment?: (text: string) => void;
  onRetry?: (ms: number) => void;
  onId?: (id: string) => void;
  /**
   * `sse_event_too_large`: 'terminate' (the default) errors the stream with it; a function
   * is told, and parsing goes on at the next event (the big one is dropped).
   */
  onError?: 'terminate' | ((error: SluiceError) => void);
}

type Input = string | Uint8Array;

/** The parser plus the failure (if any) that must error the stream after this chunk. */
interface StreamParser {
  parser: SseParser;
  failure(): SluiceError | undefined;
}

function streamParser(
  options: SseParserStreamOptions,
  onEvent: (event: SseEvent) => void,
): StreamParser {
  const { onComment, onRetry, onId, onError = 'terminate', maxEventSize } = options;
  let failure: SluiceError | undefined;
  const parser: SseParser = createParser(
    {
      onEvent,
      ...(onComment && { onComment }),
      ...(onRetry && { onRetry }),
      ...(onId && { onId }),
      onError: (error) => {
        if (onError !== 'terminate') return onError(error);
        failure = error;
        parser.end(); // stops parsing the rest of this chunk
      },
    },
    { maxEventSize },
  );
  return { parser, failure: () => failure };
}

export class SseParserStream extends TransformStream<Input, SseEvent> {
  constructor(options: SseParserStreamOptions = {}) {
    let state: StreamParser | undefined;
    super(
      {
        start(controller) {
          // The hot path: one enqueue per event, all inside the one transform() call.
          state = streamParser(options, (event) => controller.enqueue(event));
        },
        transform(chunk) {
          state!.parser.feed(chunk);
          const failure = state!.failure();
          if (failure !== undefined) throw failure;
        },
        flush() {
          state!.parser.end(); // an incomplete final event is discarded (P17)
        },
      },
      { highWaterMark: 1 },
      { highWaterMark: 0 },
    );
  }
}

export class SseBatchParserStream extends TransformStream<Input, SseEvent[]> {
  constructor(options: SseParserStreamOptions = {}) {
    let batch: SseEvent[] = [];
    const state = streamParser(options, (event) => batch.push(event));
    super(
      {
        transform(chunk, controller) {
          state.parser.feed(chunk);
          const failure = state.failure();
          if (failure !== undefined) throw failure;
          if (batch.length > 0) {
            controller.enqueue(batch);
            batch = [];
          }
        },
        flush() {
          state.parser.end();
        },
      },
      { highWaterMark: 1 },
      { highWaterMark: 0 },
    );
  }
}
