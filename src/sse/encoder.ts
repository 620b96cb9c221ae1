/**
 * The `text/event-stream` encoder, correct by construction (rules S2–S4, S5):
 * - every field is written `name: value`, always with one space after the colon, so a
 *   value that itself starts with a space survives the parser's one-space strip (S3);
 * - data is split on CRLF, CR and LF into one `data:` line per line, so a trailing newline
 *   survives the round trip (S2) and no line break can start a new field. Line breaks come
 *   out as LF, as every conforming parser would report them anyway;
 * - `event` and `id` with a CR or LF, and `id` with U+0000, are rejected (a field value
 *   cannot hold them, and passing them through would let input inject fields or events);
 * - comments and `retry` lines end without a blank line, so clients such as
 *   fetch-event-source do not see an empty message (S5).
 */
import { SluiceError } from '../core/errors.js';

export interface SseFields {
  data?: string;
  event?: string;
  id?: string;
  retry?: number;
  comment?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;
const CR_OR_LF = /[\r\n]/;

/** One event block: comment, event, id, retry and data lines, then the blank line. */
export function encodeEvent(fields: SseFields): string {
  const { data, event, id, retry, comment } = fields;
  if (
    data === undefined &&
    event === undefined &&
    id === undefined &&
    retry === undefined &&
    comment === undefined
  ) {
    throw new SluiceError(
      'sse_invalid_field',
      'encodeEvent() needs at least one of data, event, id, retry, comment',
    );
  }
  let out = comment === undefined ? '' : encodeComment(comment);
  if (event !== undefined) {
    if (CR_OR_LF.test(event)) throw invalid('event', 'a CR or LF');
    out += `event: ${event}\n`;
  }
  if (id !== undefined) {
    if (CR_OR_LF.test(id)) throw invalid('id', 'a CR or LF');
    if (id.includes('\0')) throw invalid('id', 'U+0000 (clients would ignore the whole field)');
    out += `id: ${id}\n`;
  }
  if (retry !== undefined) out += encodeRetry(retry);
  if (data !== undefined) {
    // Fast path: most payloads (JSON included) hold no line break.
    if (!CR_OR_LF.test(data)) out += `data: ${data}\n`;
    else for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  }
  return `${out}\n`;
}

/** Comment lines (`: text`), one per line of `text`; `:` alone for an empty line. No blank line. */
export function encodeComment(text = ''): string {
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += line === '' ? ':\n' : `: ${line}\n`;
  return out;
}

/** A `retry:` line (reconnection time in ms, a non-negative integer). No blank line. */
export function encodeRetry(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new SluiceError(
      'sse_invalid_field',
      `retry must be a non-negative integer number of ms, got ${String(ms)}`,
    );
  }
  return `retry: ${ms}\n`;
}

/** A message event whose data is `JSON.stringify(value)` (one line: JSON escapes line breaks). */
export function encodeData(value: unknown): string {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) {
    throw new SluiceError(
      'sse_invalid_field',
      `encodeData() cannot serialise a value of type ${typeof value}`,
    );
  }
  return encodeEvent({ data: json });
}

function invalid(field: string, what: string): SluiceError {
  return new SluiceError('sse_invalid_field', `The SSE ${field} field cannot contain ${what}`, {
    details: { field },
  });
}
