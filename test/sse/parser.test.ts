import { describe, expect, it } from 'vitest';
import { isSluiceError, type SluiceError } from '../../src/core/errors.js';
import {
  createBatchParser,
  createParser,
  PARSER_DEFAULTS,
  type SseEvent,
} from '../../src/sse/parser.js';

function collect(options: Parameters<typeof createParser>[1] = {}) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const ids: string[] = [];
  const errors: SluiceError[] = [];
  const parser = createParser(
    {
      onEvent: (e) => events.push(e),
      onComment: (c) => comments.push(c),
      onRetry: (ms) => retries.push(ms),
      onId: (id) => ids.push(id),
      onError: (err) => errors.push(err),
    },
    options,
  );
  return { parser, events, comments, retries, ids, errors };
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('createParser', () => {
  it('parses a typical stream of events', () => {
    const { parser, events, comments, retries, ids } = collect();
    parser.feed('retry: 1500\n: hello\n\nid: 1\nevent: tick\ndata: a\ndata: b\n\ndata: c\n\n');
    expect(events).toEqual([
      { event: 'tick', data: 'a\nb', lastEventId: '1' },
      { event: 'message', data: 'c', lastEventId: '1' },
    ]);
    expect(comments).toEqual(['hello']);
    expect(retries).toEqual([1500]);
    expect(ids).toEqual(['1']);
    expect(parser.lastEventId).toBe('1');
  });

  it('dispatches at a CR ending a chunk and swallows the LF that starts the next (P9, P10)', () => {
    const { parser, events } = collect();
    parser.feed('data: x\r\r');
    expect(events).toEqual([{ event: 'message', data: 'x', lastEventId: '' }]);
    parser.feed('\ndata: y\n\n');
    expect(events.map((e) => e.data)).toEqual(['x', 'y']);
  });

  it('strips a BOM split byte by byte and after empty chunks, only at stream start (P6)', () => {
    const { parser, events } = collect();
    const bytes = utf8('\uFEFFdata: 1\n\n\uFEFFdata: 2\n\ndata: 3\n\n');
    parser.feed(new Uint8Array(0));
    for (const b of bytes) parser.feed(new Uint8Array([b]));
    expect(events.map((e) => e.data)).toEqual(['1', '3']);
  });

  it('decodes multi-byte characters split across chunks and replaces invalid UTF-8 (P2, P3)', () => {
    const { parser, events } = collect();
    const bytes = utf8('data: é€😀\n\n');
    for (const b of bytes) parser.feed(new Uint8Array([b]));
    parser.feed(new Uint8Array([...utf8('data: '), 0xff, 0xe2, 0x82, 0x0a, 0x0a]));
    expect(events.map((e) => e.data)).toEqual(['é€😀', '\uFFFD\uFFFD']);
  });

  it('discards an incomplete final event, its id included, at end() (P17, F8)', () => {
    const { parser, events } = collect();
    parser.feed('id: 1\ndata: a\n\nid: 2\ndata: b\n');
    parser.end();
    expect(events.map((e) => e.data)).toEqual(['a']);
    expect(parser.lastEventId).toBe('1');
    parser.feed('data: c\n\n');
    expect(events[1]).toEqual({ event: 'message', data: 'c', lastEventId: '1' });
  });

  it('reset() keeps the last event id unless one is given', () => {
    const { parser } = collect();
    parser.feed('id: 7\n\n');
    parser.reset();
    expect(parser.lastEventId).toBe('7');
    parser.reset({ lastEventId: '' });
    expect(parser.lastEventId).toBe('');
  });

  it('reports an oversized event and resynchronises at the next blank line', () => {
    const { parser, events, errors } = collect({ maxEventSize: 16 });
    parser.feed('data: small\n\ndata: 0123456789');
    parser.feed('0123456789\ndata: more\nid: 9\n\ndata: after\n\n');
    expect(events.map((e) => e.data)).toEqual(['small', 'after']);
    expect(errors).toHaveLength(1);
    expect(isSluiceError(errors[0], 'sse_event_too_large')).toBe(true);
    expect(parser.lastEventId).toBe('');
  });

  it('throws the size error from feed() when there is no onError, and stays usable', () => {
    const events: SseEvent[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) }, { maxEventSize: 10 });
    expect(() => parser.feed('data: far too long\n\ndata: ok\n\n')).toThrow(/maxEventSize/);
    parser.feed('data: ok2\n\n');
    expect(events.map((e) => e.data)).toEqual(['ok', 'ok2']);
  });

  it('stops processing the chunk when a callback resets the parser (F12)', () => {
    const events: SseEvent[] = [];
    const parser = createParser({
      onEvent: (e) => {
        events.push(e);
        parser.end();
      },
    });
    parser.feed('data: 1\n\ndata: 2\n\ndata: 3\n\n');
    expect(events.map((e) => e.data)).toEqual(['1']);
  });

  it('rejects a bad maxEventSize and re-entrant feed()', () => {
    expect(() => createParser({ onEvent: () => {} }, { maxEventSize: 0 })).toThrow(/maxEventSize/);
    const parser = createParser({ onEvent: () => parser.feed('x') });
    expect(() => parser.feed('data: a\n\n')).toThrow(/own callbacks/);
    expect(PARSER_DEFAULTS.maxEventSize).toBeGreaterThan(0);
    expect(Object.isFrozen(PARSER_DEFAULTS)).toBe(true);
  });
});

describe('BOM and strings (P7)', () => {
  const wire = '\uFEFF\uFEFFdata: 1\n\ndata: 2\n\n';
  const bytes = new TextEncoder().encode(wire);
  const dataOf = (chunks: (string | Uint8Array)[]) => {
    const { parser, events } = collect();
    for (const chunk of chunks) parser.feed(chunk);
    return events.map((e) => e.data);
  };

  it('strips exactly one BOM from bytes, and from text decoded with ignoreBOM: true', () => {
    expect(dataOf([bytes])).toEqual(['2']);
    expect(dataOf([new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes)])).toEqual(['2']);
  });

  it('strips a second BOM from text a default TextDecoder already stripped (documented: feed bytes)', () => {
    expect(dataOf([new TextDecoder().decode(bytes)])).toEqual(['1', '2']);
  });
});

describe("createBatchParser (SseBatchParserStream's parser)", () => {
  const ev = (data: string, lastEventId = ''): SseEvent => ({
    event: 'message',
    data,
    lastEventId,
  });

  it('returns the events each chunk completed, or undefined when it completed none', () => {
    const parser = createBatchParser({ onError: () => {} });
    expect(parser.feed('id: 1\ndata: a\n\ndata: b')).toEqual([ev('a', '1')]);
    expect(parser.feed('c')).toBeUndefined();
    expect(parser.feed(utf8('\n\ndata: d\n\n'))).toEqual([ev('bc', '1'), ev('d', '1')]);
    parser.end();
    expect(parser.lastEventId).toBe('1');
  });

  it("drops a chunk's events when a callback throws, and goes on with the next chunk", () => {
    const parser = createBatchParser({
      onComment: (text) => {
        if (text === 'boom') throw new Error('boom');
      },
      onError: () => {},
    });
    expect(() => parser.feed('data: lost\n\n: boom\n')).toThrow('boom');
    expect(parser.feed('data: kept\n\n')).toEqual([ev('kept')]);
  });
});
