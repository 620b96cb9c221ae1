/**
 * The parser's conformance table: one case per assertion drawn from the WHATWG
 * `text/event-stream` rules (ids P1–P19 parsing, F1–F10 field semantics). Vectors marked
 * WPT come from web-platform-tests `eventsource/format-*`. Each case is run whole, split at
 * every position (as bytes and as a string), one unit at a time, and in random pieces
 * (parser-conformance.test.ts): the result must not depend on the chunking.
 */

export interface ExpectedEvent {
  /** Defaults to 'message'. */
  event?: string;
  data: string;
  /** Defaults to ''. */
  lastEventId?: string;
}

export interface ConformanceCase {
  name: string;
  rule: string;
  /** The stream: text (sent as its UTF-8 bytes) or raw bytes (for BOM and invalid UTF-8). */
  input: string | readonly number[];
  events: readonly ExpectedEvent[];
  /** onComment calls; default none. */
  comments?: readonly string[];
  /** onRetry calls; default none. */
  retries?: readonly number[];
  /** onId calls; default none. */
  ids?: readonly string[];
  /** parser.lastEventId after the stream ended; default ''. */
  lastEventId?: string;
}

const bytes = (text: string): number[] => [...new TextEncoder().encode(text)];
const BOM = [0xef, 0xbb, 0xbf];
const R = '\uFFFD';
const LONG = 'x'.repeat(2049); // WPT format-comments uses a 2 KB comment

export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  // --- P1–P3: UTF-8 decoding
  {
    name: 'two-byte UTF-8 decodes as UTF-8',
    rule: 'P1',
    input: 'data: Ü ok\n\n',
    events: [{ data: 'Ü ok' }],
  },
  {
    name: 'three-byte UTF-8 (CJK)',
    rule: 'P3',
    input: 'data: 中文字\n\n',
    events: [{ data: '中文字' }],
  },
  {
    name: 'four-byte UTF-8 (emoji)',
    rule: 'P3',
    input: 'data: 😀🎉\n\n',
    events: [{ data: '😀🎉' }],
  },
  {
    name: 'mixed 1/2/3/4-byte characters in event and data',
    rule: 'P3',
    input: 'event: é€\ndata: a é € 😀\n\n',
    events: [{ event: 'é€', data: 'a é € 😀' }],
  },
  {
    name: 'invalid byte FF becomes U+FFFD',
    rule: 'P2',
    input: [...bytes('data: a'), 0xff, ...bytes('b\n\n')],
    events: [{ data: `a${R}b` }],
  },
  {
    name: 'overlong C0 80 becomes two U+FFFD',
    rule: 'P2',
    input: [...bytes('data: '), 0xc0, 0x80, ...bytes('\n\n')],
    events: [{ data: R + R }],
  },
  {
    name: 'truncated sequence before LF becomes one U+FFFD',
    rule: 'P2',
    input: [...bytes('data: '), 0xe2, 0x82, ...bytes('\n\n')],
    events: [{ data: R }],
  },
  {
    name: 'lone continuation byte becomes U+FFFD',
    rule: 'P2',
    input: [...bytes('data: '), 0x80, ...bytes('x\n\n')],
    events: [{ data: `${R}x` }],
  },
  {
    name: 'encoded surrogate ED A0 80 becomes three U+FFFD',
    rule: 'P2',
    input: [...bytes('data: '), 0xed, 0xa0, 0x80, ...bytes('\n\n')],
    events: [{ data: R + R + R }],
  },
  {
    name: 'code point above U+10FFFF becomes four U+FFFD',
    rule: 'P2',
    input: [...bytes('data: '), 0xf4, 0x90, 0x80, 0x80, ...bytes('\n\n')],
    events: [{ data: R.repeat(4) }],
  },
  {
    name: 'truncated emoji then a valid one',
    rule: 'P2',
    input: [...bytes('data: '), 0xf0, 0x9f, 0x98, ...bytes('😀\n\n')],
    events: [{ data: `${R}😀` }],
  },
  {
    name: 'invalid bytes in a field name make it unknown, parsing goes on',
    rule: 'P2',
    input: [0xff, ...bytes('data: x\n\ndata: y\n\n')],
    events: [{ data: 'y' }],
  },
  // --- P4–P7: BOM
  {
    name: 'one leading BOM is stripped',
    rule: 'P4',
    input: [...BOM, ...bytes('data: 1\n\n')],
    events: [{ data: '1' }],
  },
  {
    name: 'a second leading BOM stays: its block is an unknown field (WPT format-bom-2)',
    rule: 'P4',
    input: [...BOM, ...BOM, ...bytes('data:1\r\n\r\ndata:2\r\n\r\ndata:3\r\n\r\n')],
    events: [{ data: '2' }, { data: '3' }],
  },
  {
    name: 'a BOM later in the stream is data (WPT format-bom)',
    rule: 'P5',
    input: [...BOM, ...bytes('data:1\r\n\r\n'), ...BOM, ...bytes('data:2\r\n\r\ndata:3\r\n\r\n')],
    events: [{ data: '1' }, { data: '3' }],
  },
  {
    name: 'a BOM at the start of a later line is data',
    rule: 'P5',
    input: 'data: 1\n\uFEFFdata: 2\n\n',
    events: [{ data: '1' }],
  },
  {
    name: 'BOM then a comment',
    rule: 'P6',
    input: [...BOM, ...bytes(': hi\ndata: x\n\n')],
    events: [{ data: 'x' }],
    comments: ['hi'],
  },
  {
    name: 'partial BOM EF BB then data is data',
    rule: 'P6',
    input: [0xef, 0xbb, ...bytes('\ndata: x\n\n')],
    events: [{ data: 'x' }],
  },
  { name: 'a stream that is only a BOM yields nothing', rule: 'P6', input: BOM, events: [] },
  {
    name: 'BOM inside data is kept',
    rule: 'P7',
    input: 'data: a\uFEFFb\n\n',
    events: [{ data: 'a\uFEFFb' }],
  },
  // --- P8–P10: line terminators
  { name: 'LF terminators', rule: 'P8', input: 'data: a\ndata: b\n\n', events: [{ data: 'a\nb' }] },
  { name: 'CR terminators', rule: 'P8', input: 'data: a\rdata: b\r\r', events: [{ data: 'a\nb' }] },
  {
    name: 'CRLF terminators',
    rule: 'P8',
    input: 'data: a\r\ndata: b\r\n\r\n',
    events: [{ data: 'a\nb' }],
  },
  {
    name: 'mixed terminators (WPT format-newlines)',
    rule: 'P8',
    input: 'data:test\r\ndata\ndata:test\r\n\r',
    events: [{ data: 'test\n\ntest' }],
  },
  {
    name: 'LF CR is two terminators: a blank line',
    rule: 'P8',
    input: 'data: a\n\rdata: b\n\n',
    events: [{ data: 'a' }, { data: 'b' }],
  },
  {
    name: 'CRLF pairs are single terminators, never extra blank lines',
    rule: 'P9',
    input: 'data: a\r\n\r\ndata: b\r\n\r\n',
    events: [{ data: 'a' }, { data: 'b' }],
  },
  {
    name: 'CR CR LF is a line end then a blank line',
    rule: 'P9',
    input: 'data: a\r\r\ndata: b\n\n',
    events: [{ data: 'a' }, { data: 'b' }],
  },
  {
    name: 'a CR blank line at the very end dispatches',
    rule: 'P10',
    input: 'data: a\r\r',
    events: [{ data: 'a' }],
  },
  {
    name: 'CR only stream with several events',
    rule: 'P10',
    input: 'id: 1\rdata: a\r\rid: 2\rdata: b\r\r',
    events: [
      { data: 'a', lastEventId: '1' },
      { data: 'b', lastEventId: '2' },
    ],
    ids: ['1', '2'],
    lastEventId: '2',
  },
  // --- P11: comments
  {
    name: 'comment lines are reported and do not end an event',
    rule: 'P11',
    input: 'data: a\n: note\ndata: b\n\n',
    events: [{ data: 'a\nb' }],
    comments: ['note'],
  },
  {
    name: 'a lone colon is an empty comment',
    rule: 'P11',
    input: ':\n\n',
    events: [],
    comments: [''],
  },
  {
    name: ':data:fail is a comment',
    rule: 'P11',
    input: ':data:fail\n\n',
    events: [],
    comments: ['data:fail'],
  },
  {
    name: 'a comment keeps a second leading space',
    rule: 'P11',
    input: ':  two\n',
    events: [],
    comments: [' two'],
  },
  {
    name: 'long comments with CR/LF mix (WPT format-comments)',
    rule: 'P11',
    input: `data:1\r:\0\n:\r\ndata:2\n:${LONG}\rdata:3\n:data:fail\r:${LONG}\ndata:4\n\n`,
    events: [{ data: '1\n2\n3\n4' }],
    comments: ['\0', '', LONG, 'data:fail', LONG],
  },
  // --- P12–P16: field parsing
  {
    name: 'the field name ends at the first colon',
    rule: 'P12',
    input: 'data:a:b: c\n\n',
    events: [{ data: 'a:b: c' }],
  },
  {
    name: 'event value with a colon',
    rule: 'P12',
    input: 'event: a:b\ndata: x\n\n',
    events: [{ event: 'a:b', data: 'x' }],
  },
  { name: 'no space after the colon', rule: 'P13', input: 'data:x\n\n', events: [{ data: 'x' }] },
  {
    name: 'a tab after the colon is kept (WPT format-leading-space)',
    rule: 'P13',
    input: 'data:\ttest\n\n',
    events: [{ data: '\ttest' }],
  },
  {
    name: 'only one space is removed',
    rule: 'P13',
    input: 'data:  2\n\n',
    events: [{ data: ' 2' }],
  },
  {
    name: 'one space removed from event and id too',
    rule: 'P13',
    input: 'event:  e\nid:  i\ndata:x\n\n',
    events: [{ event: ' e', data: 'x', lastEventId: ' i' }],
    ids: [' i'],
    lastEventId: ' i',
  },
  {
    name: 'data without a colon appends an empty line',
    rule: 'P14',
    input: 'data\n\n',
    events: [{ data: '' }],
  },
  {
    name: 'event without a colon means message',
    rule: 'P14',
    input: 'event: x\nevent\ndata: y\n\n',
    events: [{ data: 'y' }],
  },
  {
    name: 'id without a colon resets the id (WPT format-field-id-3)',
    rule: 'P14',
    input: 'id: 1\ndata: a\n\nid\ndata: b\n\n',
    events: [{ data: 'a', lastEventId: '1' }, { data: 'b' }],
    ids: ['1', ''],
  },
  {
    name: 'field names are case-sensitive and literal (WPT format-field-parsing)',
    rule: 'P15',
    input:
      'data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n',
    events: [{ data: '\0\n 2\n1\n3\n\n4' }],
  },
  {
    name: 'unknown fields are ignored (WPT format-field-unknown)',
    rule: 'P16',
    input: 'data:1\nfoo:bar\nDATA:2\ndata:3\n\n',
    events: [{ data: '1\n3' }],
  },
  {
    name: 'a block of only unknown fields dispatches nothing',
    rule: 'P16',
    input: 'foo: bar\nbaz\n\ndata: x\n\n',
    events: [{ data: 'x' }],
  },
  // --- P17: end of stream
  {
    name: 'an unterminated last line is discarded',
    rule: 'P17',
    input: 'data: a\n\ndata: b',
    events: [{ data: 'a' }],
  },
  {
    name: 'an event without its blank line is discarded',
    rule: 'P17',
    input: 'data: a\n\ndata: b\n',
    events: [{ data: 'a' }],
  },
  {
    name: 'the id of a discarded block does not count (WPT format-data-before-final-empty-line)',
    rule: 'P17',
    input: 'id: 1\ndata: a\n\nid: 2\ndata: b\n',
    events: [{ data: 'a', lastEventId: '1' }],
    ids: ['1'],
    lastEventId: '1',
  },
  {
    name: 'a trailing CR line end without a blank line is discarded',
    rule: 'P17',
    input: 'data: a\r',
    events: [],
  },
  {
    name: 'U+0000 in data is kept (WPT format-null-character)',
    rule: 'P18',
    input: 'data: a\0b\0\n\n',
    events: [{ data: 'a\0b\0' }],
  },
  // --- F1–F3: data and event type
  {
    name: 'data: alone gives an event with empty data',
    rule: 'F1',
    input: 'data:\n\n',
    events: [{ data: '' }],
  },
  {
    name: 'two empty data lines give one LF',
    rule: 'F1',
    input: 'data\ndata\n\n',
    events: [{ data: '\n' }],
  },
  {
    name: 'a trailing empty data line keeps a trailing LF',
    rule: 'F1',
    input: 'data: a\ndata:\n\n',
    events: [{ data: 'a\n' }],
  },
  {
    name: 'many data lines join with LF',
    rule: 'F1',
    input: 'data: 1\ndata: 2\ndata: 3\ndata: 4\n\n',
    events: [{ data: '1\n2\n3\n4' }],
  },
  {
    name: 'extra blank lines dispatch nothing',
    rule: 'F2',
    input: '\n\n\ndata: x\n\n\n\n',
    events: [{ data: 'x' }],
  },
  {
    name: 'a block with an event type but no data fires nothing and resets the type',
    rule: 'F2',
    input: 'event: x\n\ndata: y\n\n',
    events: [{ data: 'y' }],
  },
  {
    name: 'the event type is used and reset after dispatch',
    rule: 'F3',
    input: 'event: a\ndata: 1\n\ndata: 2\n\n',
    events: [{ event: 'a', data: '1' }, { data: '2' }],
  },
  {
    name: 'an empty event type means message (WPT format-field-event-empty)',
    rule: 'F3',
    input: 'event: \ndata: x\n\n',
    events: [{ data: 'x' }],
  },
  {
    name: 'the last event field wins',
    rule: 'F3',
    input: 'event: a\nevent: b\ndata: x\n\n',
    events: [{ event: 'b', data: 'x' }],
  },
  // --- F4–F8: ids
  {
    name: 'an id with U+0000 is ignored',
    rule: 'F4',
    input: 'id: a\0b\ndata: x\n\n',
    events: [{ data: 'x' }],
  },
  {
    name: 'an id with U+0000 keeps the buffered id (WPT format-field-id-null)',
    rule: 'F4',
    input: 'id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n',
    events: [
      { data: 'a', lastEventId: '1' },
      { data: 'b', lastEventId: '1' },
    ],
    ids: ['1'],
    lastEventId: '1',
  },
  {
    name: 'a NUL id after a good id in the same block',
    rule: 'F4',
    input: 'id: 1\nid: \0\ndata: x\n\n',
    events: [{ data: 'x', lastEventId: '1' }],
    ids: ['1'],
    lastEventId: '1',
  },
  {
    name: 'an empty id value clears the id',
    rule: 'F4',
    input: 'id: 1\ndata: a\n\nid:\ndata: b\n\n',
    events: [{ data: 'a', lastEventId: '1' }, { data: 'b' }],
    ids: ['1', ''],
  },
  {
    name: 'the last event id persists across events',
    rule: 'F5',
    input: 'id: 1\ndata: a\n\ndata: b\n\n',
    events: [
      { data: 'a', lastEventId: '1' },
      { data: 'b', lastEventId: '1' },
    ],
    ids: ['1'],
    lastEventId: '1',
  },
  {
    name: 'a later id replaces it',
    rule: 'F6',
    input: 'id: 1\ndata: a\n\nid: 2\ndata: b\n\n',
    events: [
      { data: 'a', lastEventId: '1' },
      { data: 'b', lastEventId: '2' },
    ],
    ids: ['1', '2'],
    lastEventId: '2',
  },
  {
    name: 'an id-only block updates the last event id (onId)',
    rule: 'F7',
    input: 'id: 5\n\ndata: x\n\n',
    events: [{ data: 'x', lastEventId: '5' }],
    ids: ['5'],
    lastEventId: '5',
  },
  {
    name: 'an id-only block at the end of the stream still counts',
    rule: 'F7',
    input: 'data: a\n\nid: 9\n\n',
    events: [{ data: 'a' }],
    ids: ['9'],
    lastEventId: '9',
  },
  {
    name: 'an id takes effect at the blank line, after the block',
    rule: 'F8',
    input: 'id: 1\ndata: a\nid: 2\n\n',
    events: [{ data: 'a', lastEventId: '2' }],
    ids: ['2'],
    lastEventId: '2',
  },
  // --- F9–F10: retry
  {
    name: 'retry with digits is reported',
    rule: 'F9',
    input: 'retry: 1000\n',
    events: [],
    retries: [1000],
  },
  {
    name: 'retry 03000 is decimal 3000 (WPT format-field-retry)',
    rule: 'F9',
    input: 'retry:03000\ndata:x\n\n',
    events: [{ data: 'x' }],
    retries: [3000],
  },
  { name: 'retry 0', rule: 'F9', input: 'retry: 0\n', events: [], retries: [0] },
  {
    name: 'bogus retry values are ignored (WPT format-field-retry-bogus)',
    rule: 'F9',
    input:
      'retry: 1000x\nretry: -1\nretry: 1.5\nretry: 1e3\nretry:  100\nretry: \nretry\nretry: ١٢\ndata: x\n\n',
    events: [{ data: 'x' }],
  },
  {
    name: 'retry applies in a block that is never dispatched',
    rule: 'F9',
    input: 'retry: 50\nevent: x\n\nretry: 60\ndata: y',
    events: [],
    retries: [50, 60],
  },
  {
    name: 'a huge retry is reported as-is (clamping is the client’s, F10)',
    rule: 'F10',
    input: 'retry: 99999999999\n',
    events: [],
    retries: [99999999999],
  },
  {
    name: 'a retry past the largest safe integer is capped there',
    rule: 'F10',
    input: `retry: 1${'0'.repeat(400)}\n`,
    events: [],
    retries: [Number.MAX_SAFE_INTEGER],
  },
  // --- a typical LLM token stream
  {
    name: 'an OpenAI-style stream with a done marker',
    rule: 'F1',
    input:
      'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: {"choices":[{"delta":{"content":" there"}}]}\n\ndata: [DONE]\n\n',
    events: [
      { data: '{"choices":[{"delta":{"content":"Hi"}}]}' },
      { data: '{"choices":[{"delta":{"content":" there"}}]}' },
      { data: '[DONE]' },
    ],
  },
];
