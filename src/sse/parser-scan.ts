/**
 * The SSE parser's hot loops (see parser.ts), and the state they share with it.
 */
import type { ParserCallbacks, SseEvent } from './parser-types.js';

const LF = 10;
const SPACE = 32;
const COLON = 58;

/** `onEvent` is absent only in a batched parser, whose events go to `batch`. */
export type CoreCallbacks = Omit<ParserCallbacks, 'onEvent'> &
  Partial<Pick<ParserCallbacks, 'onEvent'>>;

/** What the hot loops read and write: the event being built, and how to leave the loop. */
export class ScanState {
  // The event being built (spec: data buffer, event type buffer, last event ID buffer).
  data = '';
  dataLines = 0;
  eventType = '';
  idBuffer = '';
  idInBlock = false;
  lastEventId = '';
  /** Bumped by reset()/end() so a scan in progress stops (a callback may reset the parser). */
  generation = 0;
  /** A batched parser's events completed so far in this chunk; null: onEvent is called. */
  batch: SseEvent[] | null;

  constructor(
    // Called as methods of `callbacks`, so a class instance keeps its `this`.
    readonly callbacks: CoreCallbacks,
    batched: boolean,
    /** Any line the loops do not handle inline, and the blank line's dispatch. */
    readonly processLine: (text: string, start: number, end: number) => void,
  ) {
    this.batch = batched ? [] : null;
  }
}

/** The event that a blank line dispatches (the type buffer is reset for the next one). */
export function takeEvent(st: ScanState, data: string, lastEventId: string): SseEvent {
  const type = st.eventType;
  st.eventType = '';
  return { event: type === '' ? 'message' : type, data, lastEventId };
}

/**
 * The hot loops. The caller made sure the rest of `text` has no CR and no U+0000 and is
 * too short to overflow, so each line is only classified: `data:`, `id:` and the blank
 * line are handled inline, anything else goes to processLine(). They return where they
 * stopped: at the unterminated tail, or early when a callback reset the parser. Characters
 * are read from the chunk's bytes when they align with the text (see utf8-stream-decoder.ts),
 * a good deal faster than charCodeAt(); scanText() is the same loop for other text.
 *
 * A batched parser's events are pushed to `st.batch`: no call per event. scanBytes() keeps
 * the event's data and id in locals, written back before any call out and at the end: a
 * long-lived parser's state is in the old generation, where each store of a fresh string
 * costs a write barrier, and a local costs nothing until the one store per chunk.
 */
export function scanBytes(
  st: ScanState,
  text: string,
  b: Uint8Array,
  pos: number,
  gen: number,
): number {
  const n = text.length;
  const out = st.batch;
  let d = st.data;
  let lines = st.dataLines;
  let id = st.idBuffer;
  let idSet = st.idInBlock;
  let lastId = st.lastEventId;
  let lf = text.indexOf('\n', pos);
  while (lf !== -1) {
    if (lf !== pos) {
      // A terminator (never ':' or ' ') sits at `lf`, so reading one past is harmless.
      if (
        b[pos] === 100 &&
        b[pos + 4] === COLON &&
        b[pos + 1] === 97 &&
        b[pos + 2] === 116 &&
        b[pos + 3] === 97
      ) {
        const value = text.slice(b[pos + 5] === SPACE ? pos + 6 : pos + 5, lf);
        d = lines === 0 ? value : `${d}\n${value}`;
        lines++;
      } else if (b[pos] === 105 && b[pos + 1] === 100 && b[pos + 2] === COLON) {
        id = text.slice(b[pos + 3] === SPACE ? pos + 4 : pos + 3, lf);
        idSet = true;
      } else {
        save(st, d, lines, id, idSet, lastId);
        st.processLine(text, pos, lf);
        if (gen !== st.generation) return lf + 1;
        d = st.data;
        lines = st.dataLines;
        id = st.idBuffer;
        idSet = st.idInBlock;
        lastId = st.lastEventId;
      }
      pos = lf + 1;
      // A blank line right after is the usual end of an event: no search needed for it.
      if (pos === n || b[pos] !== LF) {
        lf = text.indexOf('\n', pos);
        continue;
      }
      lf = pos;
    }
    pos = lf + 1;
    if (idSet) {
      idSet = false;
      lastId = id;
      if (st.callbacks.onId) {
        save(st, d, lines, id, idSet, lastId);
        st.callbacks.onId(id);
        if (gen !== st.generation) return pos;
      }
    }
    if (lines === 0) {
      st.eventType = ''; // F2/F3
    } else {
      const event = takeEvent(st, d, lastId);
      d = '';
      lines = 0;
      if (out !== null) out.push(event);
      else {
        save(st, d, lines, id, idSet, lastId);
        st.callbacks.onEvent?.(event);
        if (gen !== st.generation) return pos;
      }
    }
    lf = text.indexOf('\n', pos);
  }
  save(st, d, lines, id, idSet, lastId);
  return pos;
}

/** Writes scanBytes()'s locals back to the state. */
function save(
  st: ScanState,
  d: string,
  lines: number,
  id: string,
  idSet: boolean,
  lastId: string,
): void {
  st.data = d;
  st.dataLines = lines;
  st.idBuffer = id;
  st.idInBlock = idSet;
  st.lastEventId = lastId;
}

export function scanText(st: ScanState, text: string, pos: number, gen: number): number {
  const n = text.length;
  let d = st.data;
  let lines = st.dataLines;
  let lf = text.indexOf('\n', pos);
  while (lf !== -1) {
    if (lf !== pos) {
      const c = text.charCodeAt(pos);
      if (
        c === 100 && // data:
        text.charCodeAt(pos + 4) === COLON &&
        text.charCodeAt(pos + 1) === 97 &&
        text.charCodeAt(pos + 2) === 116 &&
        text.charCodeAt(pos + 3) === 97
      ) {
        const value = text.slice(text.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5, lf);
        d = lines === 0 ? value : `${d}\n${value}`;
        lines++;
      } else if (
        c === 105 && // id:
        text.charCodeAt(pos + 1) === 100 &&
        text.charCodeAt(pos + 2) === COLON
      ) {
        st.idBuffer = text.slice(text.charCodeAt(pos + 3) === SPACE ? pos + 4 : pos + 3, lf);
        st.idInBlock = true;
      } else {
        st.data = d;
        st.dataLines = lines;
        st.processLine(text, pos, lf);
        if (gen !== st.generation) return lf + 1;
        d = st.data;
        lines = st.dataLines;
      }
      pos = lf + 1;
      if (pos === n || text.charCodeAt(pos) !== LF) {
        lf = text.indexOf('\n', pos);
        continue;
      }
      lf = pos;
    }
    pos = lf + 1;
    if (st.idInBlock) {
      st.idInBlock = false;
      st.lastEventId = st.idBuffer;
      if (st.callbacks.onId) {
        st.data = d;
        st.dataLines = lines;
        st.callbacks.onId(st.idBuffer);
        if (gen !== st.generation) return pos;
      }
    }
    if (lines === 0) {
      st.eventType = ''; // F2/F3
    } else {
      const event = takeEvent(st, d, st.lastEventId);
      d = st.data = '';
      lines = st.dataLines = 0;
      if (st.batch !== null) st.batch.push(event);
      else {
        st.callbacks.onEvent?.(event);
        if (gen !== st.generation) return pos;
      }
    }
    lf = text.indexOf('\n', pos);
  }
  st.data = d;
  st.dataLines = lines;
  return pos;
}
