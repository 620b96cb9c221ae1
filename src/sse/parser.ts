/**
 * The incremental `text/event-stream` parser (WHATWG HTML §9.2.6), free of I/O: feed it
 * bytes or strings in any chunking and it calls back per event. Rule ids (P…, F…) refer
 * to the conformance table in test/sse/conformance-cases.ts.
 *
 * Linear time whatever the chunking (P19): an incomplete line is kept as its fragments
 * (one as a string, more in an array: a line split only once costs no array work)
 * and joined once when its terminator arrives; the next CR, LF and `:` positions are
 * searched forward from the current line only, never from the start of the buffer.
 *
 * Two loops: the hot loops of parser-scan.ts for the usual chunk (LF line ends, no U+0000,
 * too short to reach the size cap: decided once per chunk, then nothing is checked per
 * line), and the general loop in scan() for everything else (CR, a pending line, the cap,
 * skipping). The event being built lives in a ScanState the two share.
 *
 * Size cap and its policy: no line and no event's data may exceed `maxEventSize`
 * characters (UTF-16 code units), counting the line being read plus the data already
 * buffered for the event. Past it the parser reports `sse_event_too_large` (to `onError`,
 * or thrown from `feed()` once the chunk is processed when there is no `onError`), drops
 * the event (its data, type and id), buffers nothing more and skips input up to the next
 * blank line, where it resynchronises and parses the following events normally.
 */
import { SluiceError } from '../core/errors.js';
import {
  resolveMaxEventSize,
  type ParserCallbacks,
  type ParserOptions,
  type SseEvent,
  type SseParser,
} from './parser-types.js';
import { scanBytes, scanText, ScanState, takeEvent, type CoreCallbacks } from './parser-scan.js';
import { Utf8StreamDecoder } from './utf8-stream-decoder.js';

export {
  PARSER_DEFAULTS,
  type ParserCallbacks,
  type ParserOptions,
  type SseEvent,
  type SseParser,
} from './parser-types.js';

const LF = 10;
const SPACE = 32;
const COLON = 58;

export function createParser(callbacks: ParserCallbacks, options: ParserOptions = {}): SseParser {
  return parserCore(callbacks, options, false);
}

/**
 * createBatchParser()'s callbacks: no onEvent, since feed() returns the events, and onError
 * is required (feed() could not throw an error after returning the events before it).
 */
export type BatchParserCallbacks = Omit<ParserCallbacks, 'onEvent' | 'onError'> &
  Required<Pick<ParserCallbacks, 'onError'>>;

/** An SseParser whose feed() returns the events the chunk completed, in order (none: undefined). */
export interface SseBatchParser extends Omit<SseParser, 'feed'> {
  feed(chunk: string | Uint8Array): SseEvent[] | undefined;
}

/**
 * SseBatchParserStream's parser (internal: not exported by the package). feed() returns the
 * chunk's events instead of calling back per event, which is a good part of the cost when
 * events are small and many.
 */
export function createBatchParser(
  callbacks: BatchParserCallbacks,
  options: ParserOptions = {},
): SseBatchParser {
  return parserCore(callbacks, options, true);
}

/** `onEvent` may be absent only when `batched`: events then go to the batch feed() returns. */
function parserCore(
  callbacks: CoreCallbacks,
  options: ParserOptions,
  batched: boolean,
): SseBatchParser {
  const st = new ScanState(callbacks, batched, processLine);
  const limit = resolveMaxEventSize(options.maxEventSize);
  const decoder = new Utf8StreamDecoder();

  // Incomplete line carried between chunks: its first fragment; all of them once there are more.
  let pending = '';
  const pendingMore: string[] = [];
  let pendingLength = 0;
  /** The last chunk ended with a CR: an LF starting the next one belongs to it (P9). */
  let skipLF = false;
  // Overflow policy state: skipping input up to the next blank line.
  let discarding = false;
  let discardLineOpen = false;
  let thrown: SluiceError | undefined;
  let feeding = false;
  // Position of the next ':' in the text being scanned, searched forward only; -2 = not yet.
  let colonAt = -2;
  // Likewise for U+0000, which invalidates an id (F4): most streams have none at all.
  let nulAt = -2;

  function feed(chunk: string | Uint8Array): SseEvent[] | undefined {
    if (feeding) {
      throw new SluiceError(
        'invalid_argument',
        'SseParser.feed() was called from one of its own callbacks',
      );
    }
    feeding = true;
    try {
      scan(decoder.decode(chunk));
    } catch (error) {
      if (st.batch !== null) st.batch = []; // a callback threw: the chunk's events go with it
      throw error;
    } finally {
      feeding = false;
    }
    if (thrown !== undefined) {
      const error = thrown;
      thrown = undefined;
      throw error;
    }
    if (st.batch === null || st.batch.length === 0) return undefined;
    const events = st.batch;
    st.batch = [];
    return events;
  }

  function scan(text: string): void {
    const n = text.length;
    if (n === 0) return;
    const gen = st.generation;
    colonAt = -2;
    nulAt = -2;
    let pos = 0;
    if (skipLF) {
      skipLF = false;
      if (text.charCodeAt(0) === LF) pos = 1;
    }
    let cr = text.indexOf('\r', pos);
    // U+0000 only matters in an id (F4); a chunk with one anywhere takes the general loop.
    const fast = cr === -1 && text.indexOf('\0', pos) === -1;
    let lf = -2; // searched on first use: the fast path finds its own
    while (pos < n) {
      // No line can overflow if the rest of the chunk would fit in the current data.
      if (fast && pending === '' && !discarding && st.data.length + (n - pos) <= limit) {
        const b = decoder.bytes;
        pos = b === null ? scanText(st, text, pos, gen) : scanBytes(st, text, b, pos, gen);
        if (gen !== st.generation) return;
        break;
      }
      if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
      let end: number;
      if (cr === -1) {
        if (lf === -1) break;
        end = lf;
      } else {
        end = lf !== -1 && lf < cr ? lf : cr;
      }
      if (discarding) {
        if (end === pos && !discardLineOpen) discarding = false; // blank line: resync
        discardLineOpen = false;
      } else if (pending !== '') {
        let line: string;
        if (pendingMore.length === 0) line = pending + text.slice(pos, end);
        else {
          pendingMore.push(text.slice(pos, end));
          line = pendingMore.join(''); // one copy, a flat string
        }
        clearPending();
        colonAt = nulAt = -2;
        processLine(line, 0, line.length);
        colonAt = nulAt = -2;
      } else {
        processLine(text, pos, end);
      }
      if (end === cr) {
        // Act on the CR at once (P10) and swallow one LF after it, here or in the next chunk.
        if (end + 1 < n) pos = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
        else {
          skipLF = true;
          pos = n;
        }
      } else {
        pos = end + 1;
      }
      if (gen !== st.generation) return;
    }
    if (pos < n) {
      if (discarding) {
        discardLineOpen = true;
      } else {
        const rest = pos === 0 ? text : text.slice(pos);
        if (pending === '') pending = rest;
        else {
          if (pendingMore.length === 0) pendingMore.push(pending);
          pendingMore.push(rest);
        }
        pendingLength += n - pos;
        if (pendingLength + st.data.length > limit) overflow(true);
      }
    }
  }

  function processLine(text: string, start: number, end: number): void {
    if (start === end) {
      dispatch();
      return;
    }
    if (end - start + st.data.length > limit) {
      overflow(false);
      return;
    }
    const c = text.charCodeAt(start);
    // Fast paths for the common fields; a terminator (never a letter, ':' or ' ') may sit
    // at `end`, so reading one past a short line is harmless.
    if (
      c === 100 && // data:
      text.charCodeAt(start + 4) === COLON &&
      text.charCodeAt(start + 1) === 97 &&
      text.charCodeAt(start + 2) === 116 &&
      text.charCodeAt(start + 3) === 97
    ) {
      appendData(text.slice(text.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5, end));
      return;
    }
    if (c === 105 && text.charCodeAt(start + 1) === 100 && text.charCodeAt(start + 2) === COLON) {
      setId(text, text.charCodeAt(start + 3) === SPACE ? start + 4 : start + 3, end);
      return;
    }
    if (c === COLON) {
      if (callbacks.onComment)
        callbacks.onComment(
          text.slice(text.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1, end),
        );
      return;
    }
    if (colonAt === -2 || (colonAt !== -1 && colonAt < start)) colonAt = text.indexOf(':', start);
    // No colon: the whole line names a field with an empty value (P14).
    const noColon = colonAt === -1 || colonAt >= end;
    const field = text.slice(start, noColon ? end : colonAt);
    const from = noColon ? end : text.charCodeAt(colonAt + 1) === SPACE ? colonAt + 2 : colonAt + 1;
    const value = text.slice(from, end);
    // Field names compare literally and case-sensitively; unknown ones are ignored (P15, P16).
    switch (field) {
      case 'data':
        appendData(value);
        break;
      case 'event':
        st.eventType = value;
        break;
      case 'id':
        setId(text, from, end);
        break;
      case 'retry':
        if (callbacks.onRetry && /^[0-9]+$/.test(value)) {
          callbacks.onRetry(Math.min(parseInt(value, 10), Number.MAX_SAFE_INTEGER));
        }
        break;
    }
  }

  function appendData(value: string): void {
    st.data = st.dataLines === 0 ? value : `${st.data}\n${value}`;
    st.dataLines++;
  }

  function setId(text: string, from: number, end: number): void {
    if (nulAt === -2 || (nulAt !== -1 && nulAt < from)) nulAt = text.indexOf('\0', from);
    if (nulAt !== -1 && nulAt < end) return; // F4: the whole field is ignored
    st.idBuffer = text.slice(from, end);
    st.idInBlock = true;
  }

  function dispatch(): void {
    if (st.idInBlock) {
      st.idInBlock = false;
      st.lastEventId = st.idBuffer;
      if (callbacks.onId) callbacks.onId(st.idBuffer);
    }
    if (st.dataLines === 0) {
      st.eventType = ''; // F2/F3: no event, but the type buffer is reset
      return;
    }
    const event = takeEvent(st, st.data, st.lastEventId);
    st.data = '';
    st.dataLines = 0;
    if (st.batch !== null) st.batch.push(event);
    else callbacks.onEvent?.(event);
  }

  function overflow(lineOpen: boolean): void {
    clearEvent();
    clearPending();
    discarding = true;
    discardLineOpen = lineOpen;
    const error = new SluiceError(
      'sse_event_too_large',
      `An SSE event exceeded maxEventSize (${limit} characters); it was dropped up to the next blank line`,
      { details: { maxEventSize: limit } },
    );
    if (callbacks.onError) callbacks.onError(error);
    else thrown ??= error;
  }

  function clearPending(): void {
    pending = '';
    if (pendingMore.length > 0) pendingMore.length = 0;
    pendingLength = 0;
  }

  function clearEvent(): void {
    st.data = '';
    st.dataLines = 0;
    st.eventType = '';
    st.idBuffer = st.lastEventId;
    st.idInBlock = false;
  }

  function reset(resetOptions: { lastEventId?: string } = {}): void {
    st.generation++;
    decoder.reset();
    clearPending();
    skipLF = false;
    discarding = false;
    discardLineOpen = false;
    if (resetOptions.lastEventId !== undefined) st.lastEventId = resetOptions.lastEventId;
    clearEvent();
  }

  return {
    feed,
    end: () => reset(),
    reset,
    get lastEventId() {
      return st.lastEventId;
    },
  };
}
