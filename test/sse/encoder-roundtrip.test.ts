import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeComment, encodeEvent, type SseFields } from '../../src/sse/encoder.js';
import { createParser, type SseEvent } from '../../src/sse/parser.js';

interface Parsed {
  events: SseEvent[];
  comments: string[];
  retries: number[];
}

function parse(chunks: readonly (string | Uint8Array)[]): Parsed {
  const out: Parsed = { events: [], comments: [], retries: [] };
  const parser = createParser({
    onEvent: (e) => out.events.push(e),
    onComment: (c) => out.comments.push(c),
    onRetry: (ms) => out.retries.push(ms),
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return out;
}

function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [
    0,
    ...cuts.map((c) => Math.min(c, bytes.length)).sort((a, b) => a - b),
    bytes.length,
  ];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

/** Unicode text biased towards line breaks of every kind. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc
    .array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 6 }),
        fc.constantFrom('\r\n', '\r', '\n', ' ', ':', '\0'),
      ),
      {
        maxLength: 12,
      },
    )
    .map((parts) => parts.join('')),
);
const noBreak = text.map((s) => s.replace(/[\r\n]/g, '_'));
const id = noBreak.map((s) => s.replace(/\0/g, '_'));
const normalise = (s: string) => s.replace(/\r\n|\r/g, '\n');

const fields: fc.Arbitrary<SseFields> = fc.record(
  { data: text, event: noBreak, id, retry: fc.nat(), comment: text },
  { requiredKeys: ['data'] },
);

describe('encode, then parse (round trip)', () => {
  it('gives back data (line breaks as LF), event type, id, retry and comments, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fields, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (list, cuts) => {
          const wire = list.map(encodeEvent).join('');
          const parsed = parse(split(new TextEncoder().encode(wire), cuts));
          let lastId = '';
          expect(parsed.events).toEqual(
            list.map((f) => {
              if (f.id !== undefined) lastId = f.id;
              return { event: f.event || 'message', data: normalise(f.data!), lastEventId: lastId };
            }),
          );
          expect(parsed.retries).toEqual(
            list.flatMap((f) => (f.retry === undefined ? [] : [f.retry])),
          );
          expect(parsed.comments).toEqual(
            list.flatMap((f) => (f.comment === undefined ? [] : normalise(f.comment).split('\n'))),
          );
        },
      ),
      { numRuns: 500, seed: 3 },
    );
  });

  it('keeps a trailing newline and a leading space in data (S2, S3)', () => {
    for (const data of ['a\n', '\n', ' a', '  ', 'a\r\n', '\r\n\r\n', '']) {
      expect(parse([encodeEvent({ data })]).events[0]?.data).toBe(normalise(data));
    }
  });

  it('comments never produce an event, even for clients that fire on every blank line (S5)', () => {
    fc.assert(
      fc.property(text, (comment) => {
        const wire = encodeComment(comment);
        expect(wire).not.toMatch(/\n\n/);
        expect(parse([wire]).events).toEqual([]);
      }),
    );
  });
});
