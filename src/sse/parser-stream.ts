/**
 * The parser as a `TransformStream`: bytes (e.g. `response.body`) or strings in, one
 * `SseEvent` per event out. Feed bytes directly: no `TextDecoderStream` is needed, and
 * the BOM is then handled exactly (see utf8-stream-decoder.ts).
 *
 * Backpressure: the readable side has a high-water mark of 0 events, so once a chunk's
 * events are queued, the next chunk is not parsed until the reader has taken them. At most
 * one input chunk's worth of events is ever queued.
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

export class SseParserStream extends TransformStream<string | Uint8Array, SseEvent> {
  constructor(options: SseParserStreamOptions = {}) {
    const { onComment, onRetry, onId, onError = 'terminate', maxEventSize } = options;
    let parser: SseParser | undefined;
    let failure: SluiceError | undefined;
    super(
      {
        start(controller) {
          parser = createParser(
            {
              // The hot path: one enqueue per event, all inside the one transform() call.
              onEvent: (event) => controller.enqueue(event),
              ...(onComment && { onComment }),
              ...(onRetry && { onRetry }),
              ...(onId && { onId }),
              onError: (error) => {
                if (onError !== 'terminate') return onError(error);
                failure = error;
                parser?.end(); // stops parsing the rest of this chunk
              },
            },
            { maxEventSize },
          );
        },
        transform(chunk) {
          parser!.feed(chunk);
          if (failure !== undefined) throw failure;
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
