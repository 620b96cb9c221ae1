import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { encodeComment, encodeData, encodeEvent, encodeRetry } from '../../src/sse/encoder.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isSluiceError(error) ? error.code : 'not a SluiceError';
  }
  return undefined;
}

describe('encoder', () => {
  it('writes fields with one space after the colon and ends with a blank line (S3)', () => {
    expect(encodeEvent({ event: 'tick', id: '1', data: ' x' })).toBe(
      'event: tick\nid: 1\ndata:  x\n\n',
    );
  });

  it('splits multi-line data on CRLF, CR and LF; a trailing newline survives (S2)', () => {
    expect(encodeEvent({ data: 'a\r\nb\rc\nd\n' })).toBe(
      'data: a\ndata: b\ndata: c\ndata: d\ndata: \n\n',
    );
    expect(encodeEvent({ data: '' })).toBe('data: \n\n');
  });

  it('rejects CR/LF in event and id, NUL in id, and bad retry values', () => {
    expect(codeOf(() => encodeEvent({ event: 'a\nb' }))).toBe('sse_invalid_field');
    expect(codeOf(() => encodeEvent({ id: 'a\rb' }))).toBe('sse_invalid_field');
    expect(codeOf(() => encodeEvent({ id: 'a\0b' }))).toBe('sse_invalid_field');
    for (const ms of [-1, 1.5, Number.NaN, Infinity])
      expect(codeOf(() => encodeRetry(ms))).toBe('sse_invalid_field');
    expect(codeOf(() => encodeEvent({}))).toBe('sse_invalid_field');
  });

  it('writes comments line by line without a trailing blank line (S5)', () => {
    expect(encodeComment()).toBe(':\n');
    expect(encodeComment('ping')).toBe(': ping\n');
    expect(encodeComment('a\nb')).toBe(': a\n: b\n');
    expect(encodeRetry(3000)).toBe('retry: 3000\n');
    expect(encodeEvent({ comment: 'c', retry: 5, data: 'd' })).toBe(': c\nretry: 5\ndata: d\n\n');
  });

  it('encodes JSON data on one line', () => {
    expect(encodeData({ text: 'a\nb' })).toBe('data: {"text":"a\\nb"}\n\n');
    expect(codeOf(() => encodeData(undefined))).toBe('sse_invalid_field');
  });
});
