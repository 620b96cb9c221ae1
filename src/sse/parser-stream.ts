/**
 * The parser as a stream pair: bytes (e.g. `response.body`) or strings in, events out.
 * Feed bytes directly: no `TextDecoderStream` is needed, and the BOM is then handled
 * exactly (see utf8-stream-decoder.ts).
 *
 * - `SseParserStream` emits one `SseEvent` per event: the natural shape. A `TransformStream`;
 *   its readable side has a high-water mark of 0, so once a chunk's events are queued the
 *   next chunk is not parsed until the reader has taken them (at most one input chunk's
 *   worth of events is queued).
 * - `SseBatchParserStream` emits one `SseEvent[]` per input chunk (never an empty one).
 *   Each read from a web `ReadableStream` costs a promise and a trip through the stream
 *   machinery (about a microsecond in Node 20), which dominates when events are small and
 *   many (LLM tokens); batching pays it once per network chunk instead. It is a plain
 *   `{ writable, readable }` pair, not a `TransformStream`, to pay less per chunk too (see
 *   sync-transform-pair.ts). Backpressure: parsing pauses once `maxQueuedBatches` batches
 *   wait for the reader, so at most that many input chunks' worth of events is queued.
 *   Use it where throughput matters; docs/benchmarks.md has the figures.
 */
import { SluiceError } from '../core/errors.js';
import {
  createBatchParser,
  createParser,
  type BatchParserCallbacks,
  type ParserOptions,
  type SseEvent,
  type SseParser,
} from './parser.js';
import { syncTransformPair } from './sync-transform-pair.js';

export const PARSER_STREAM_DEFAULTS = Object.freeze({
  /**
   * SseBatchParserStream: batches (one per input chunk that completed an event) that may
   * wait for the reader before parsing pauses. Enough that a reader a little behind does
   * not stall the pipe; small enough to bound memory to a few network chunks.
   */
  maxQueuedBatches: 8,
});

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

export interface SseBatchParserStreamOptions extends SseParserStreamOptions {
  /** Default `PARSER_STREAM_DEFAULTS.maxQueuedBatches`; a positive integer. */
  maxQueuedBatches?: number | undefined;
}

type Input = string | Uint8Array;

/** The callbacks both streams give their parser, and the failure that must error the stream. */
interface StreamCallbacks {
  callbacks: BatchParserCallbacks;
  failure: () => SluiceError | undefined;
}

/** `stop` ends the parser, which stops parsing the rest of the chunk. */
function streamCallbacks(options: SseParserStreamOptions, stop: () => void): StreamCallbacks {
  const { onComment, onRetry, onId, onError = 'terminate' } = options;
  let failure: SluiceError | undefined;
  return {
    callbacks: {
      ...(onComment && { onComment }),
      ...(onRetry && { onRetry }),
      ...(onId && { onId }),
      onError: (error) => {
        if (onError !== 'terminate') return onError(error);
        failure = error;
        stop();
      },
    },
    failure: () => failure,
  };
}

export class SseParserStream extends TransformStream<Input, SseEvent> {
  constructor(options: SseParserStreamOptions = {}) {
    let parser: SseParser | undefined;
    const { callbacks, failure } = streamCallbacks(options, () => parser!.end());
    super(
      {
        start(controller) {
          // The hot path: one enqueue per event, all inside the one transform() call.
          parser = createParser(
            { ...callbacks, onEvent: (event) => controller.enqueue(event) },
            { maxEventSize: options.maxEventSize },
          );
        },
        transform(chunk) {
          parser!.feed(chunk);
          const error = failure();
          if (error !== undefined) throw error;
        },
        flush() {
          parser!.end(); // an incomplete final event is discarded (P17)
        },
      },
      { highWaterMark: 1 },
      { highWaterMark: 0 },
    );
  }
}

function resolveMaxQueuedBatches(value: number | undefined): number {
  if (value === undefined) return PARSER_STREAM_DEFAULTS.maxQueuedBatches;
  if (!Number.isInteger(value) || value < 1) {
    throw new SluiceError(
      'invalid_argument',
      `maxQueuedBatches must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

export class SseBatchParserStream implements ReadableWritablePair<SseEvent[], Input> {
  readonly readable: ReadableStream<SseEvent[]>;
  readonly writable: WritableStream<Input>;

  constructor(options: SseBatchParserStreamOptions = {}) {
    const limit = resolveMaxQueuedBatches(options.maxQueuedBatches);
    const { callbacks, failure } = streamCallbacks(options, () => parser.end());
    const parser = createBatchParser(callbacks, { maxEventSize: options.maxEventSize });
    ({ readable: this.readable, writable: this.writable } = syncTransformPair<Input, SseEvent[]>(
      {
        transform(chunk) {
          const events = parser.feed(chunk);
          const error = failure();
          if (error !== undefined) throw error;
          return events;
        },
        flush() {
          parser.end(); // an incomplete final event is discarded (P17)
          return undefined;
        },
      },
      limit,
    ));
  }
}
