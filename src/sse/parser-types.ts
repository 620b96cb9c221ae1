/**
 * The SSE parser's public types and limits, re-exported by parser.ts (kept apart so the
 * parser file holds only the parsing).
 */
import { SluiceError } from '../core/errors.js';

export interface SseEvent {
  /** The event type; 'message' when the block had no (or an empty) `event` field. */
  event: string;
  data: string;
  /** The persistent last-event-ID string at dispatch (F5/F6), not just this block's id. */
  lastEventId: string;
}

export interface ParserCallbacks {
  onEvent(event: SseEvent): void;
  /** A comment line, without its `:` and one following space. */
  onComment?(text: string): void;
  /**
   * A valid `retry` field (only ASCII digits, read in base 10), when processed (F9). Capped
   * at Number.MAX_SAFE_INTEGER only; a sane clamp (F10) is the client's policy.
   */
  onRetry?(ms: number): void;
  /**
   * The last-event-ID string was set at the end of a block with a valid `id` field, even if
   * the block had no data (F7). Called before `onEvent` for the same block.
   */
  onId?(id: string): void;
  /** `sse_event_too_large`; without this callback `feed()` throws it instead. */
  onError?(error: SluiceError): void;
}

export interface ParserOptions {
  /** Cap in characters on the line being read plus the event's buffered data; null = unlimited. */
  maxEventSize?: number | null | undefined;
}

export const PARSER_DEFAULTS: Readonly<{ maxEventSize: number }> = Object.freeze({
  maxEventSize: 8 * 1024 * 1024,
});

export interface SseParser {
  /**
   * Parses the next chunk. Bytes are the canonical input (one BOM at byte 0 is stripped);
   * a string is taken as the stream decoded without BOM removal, so one U+FEFF at offset 0 of the
   * stream is stripped (see utf8-stream-decoder.ts: why bytes are exact, default-decoded strings
   * are not). Calling `reset()`/`end()` from a callback drops the rest of the chunk. The
   * bytes are read while feed() runs, callbacks included: don't modify them until it returns.
   */
  feed(chunk: string | Uint8Array): void;
  /** End of stream: discards a pending incomplete line and event, including its id (P17, F8). */
  end(): void;
  /** Starts a new stream (connection). Keeps `lastEventId` unless one is given. */
  reset(options?: { lastEventId?: string }): void;
  /** The last-event-ID string: the value to send as `Last-Event-ID` on reconnect. */
  readonly lastEventId: string;
}

/** The cap in force: `null` means none, `undefined` the default. */
export function resolveMaxEventSize(value: number | null | undefined): number {
  if (value === null) return Infinity;
  if (value === undefined) return PARSER_DEFAULTS.maxEventSize;
  if (!(value > 0)) {
    throw new SluiceError(
      'invalid_argument',
      `maxEventSize must be a positive number or null, got ${String(value)}`,
    );
  }
  return value;
}
