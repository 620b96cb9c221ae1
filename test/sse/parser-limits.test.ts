import { describe, expect, it } from 'vitest';
import { isSluiceError, type SluiceError } from '../../src/core/errors.js';
import { createParser, type SseEvent } from '../../src/sse/parser.js';

function setup(maxEventSize?: number | null) {
  const events: SseEvent[] = [];
  const errors: SluiceError[] = [];
  const comments: string[] = [];
  const parser = createParser(
    {
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
      onComment: (c) => comments.push(c),
    },
    maxEventSize === undefined ? {} : { maxEventSize },
  );
  return { parser, events, errors, comments };
}

function* slices(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

describe('large input (P19)', () => {
  it('parses a 5 MB single-line field delivered in small byte slices', () => {
    const big = 'abcdefghij'.repeat(500_000);
    const bytes = new TextEncoder().encode(`id: big\ndata: ${big}\n\ndata: next\n\n`);
    const { parser, events, errors } = setup();
    for (let i = 0; i < bytes.length; i += 7) parser.feed(bytes.subarray(i, i + 7));
    expect(errors).toEqual([]);
    expect(events).toHaveLength(2);
    expect(events[0]!.data.length).toBe(big.length);
    expect(events[0]!.data === big).toBe(true);
    expect(events[1]).toEqual({ event: 'message', data: 'next', lastEventId: 'big' });
  });

  it('parses a 5 MB event of many short data lines and many tiny chunks', () => {
    const line = 'data: 0123456789\r\n';
    const text = `${line.repeat(300_000)}\r\n`;
    const { parser, events } = setup(null);
    for (const piece of slices(text, 3)) parser.feed(piece);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toBe(Array(300_000).fill('0123456789').join('\n'));
  });

  it('parses a long run of colon-less lines in one chunk', () => {
    const { parser, events } = setup();
    parser.feed(`${'unknownfield\n'.repeat(200_000)}data: x\n\n`);
    expect(events.map((e) => e.data)).toEqual(['x']);
  });
});

describe('maxEventSize', () => {
  it('stops buffering a line that grows past the cap, reports once and resyncs', () => {
    const { parser, events, errors } = setup(1000);
    parser.feed('data: ok\n\nid: 1\ndata: ');
    for (let i = 0; i < 500; i++) parser.feed('0123456789');
    parser.feed('\ndata: still the big event\n\n');
    parser.feed('data: after\n\n');
    expect(events.map((e) => e.data)).toEqual(['ok', 'after']);
    expect(errors).toHaveLength(1);
    expect(isSluiceError(errors[0], 'sse_event_too_large')).toBe(true);
    expect(errors[0]!.details).toEqual({ maxEventSize: 1000 });
    expect(events[1]!.lastEventId).toBe('');
  });

  it('counts the data already buffered for the event', () => {
    const { parser, events, errors } = setup(100);
    parser.feed(`${'data: 0123456789\n'.repeat(20)}\ndata: fits\n\n`);
    expect(errors).toHaveLength(1);
    expect(events.map((e) => e.data)).toEqual(['fits']);
  });

  it('applies to any line, whatever the chunking', () => {
    for (const size of [1, 5, 1000]) {
      const { parser, errors, comments, events } = setup(50);
      for (const piece of slices(`: ${'c'.repeat(100)}\n\ndata: x\n\n`, size)) parser.feed(piece);
      expect(errors).toHaveLength(1);
      expect(comments).toEqual([]);
      expect(events.map((e) => e.data)).toEqual(['x']);
    }
  });

  it('is exact: an event of exactly the cap passes', () => {
    const { parser, events, errors } = setup(16);
    parser.feed('data: 0123456789\n\n'); // the line is 16 characters
    parser.feed('data: 01234567890\n\n');
    expect(events.map((e) => e.data)).toEqual(['0123456789']);
    expect(errors).toHaveLength(1);
  });

  it('end() clears the skipping state', () => {
    const { parser, events, errors } = setup(10);
    parser.feed('data: way too long for the cap');
    parser.end();
    parser.feed('data: ok\n\n');
    expect(errors).toHaveLength(1);
    expect(events.map((e) => e.data)).toEqual(['ok']);
  });
});
