import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBatchParser, createParser } from '../../src/sse/parser.js';
import { CONFORMANCE_CASES, type ConformanceCase } from './conformance-cases.js';

interface Outcome {
  events: { event: string; data: string; lastEventId: string }[];
  comments: string[];
  retries: number[];
  ids: string[];
  lastEventId: string;
}

/** Feeds the chunks to a fresh parser, ends the stream and reports everything observed. */
function run(chunks: readonly (string | Uint8Array)[], maxEventSize?: number): Outcome {
  const out: Outcome = { events: [], comments: [], retries: [], ids: [], lastEventId: '' };
  const parser = createParser(
    {
      onEvent: (e) => out.events.push(e),
      onComment: (c) => out.comments.push(c),
      onRetry: (ms) => out.retries.push(ms),
      onId: (id) => out.ids.push(id),
      onError: (err) => {
        throw err;
      },
    },
    { maxEventSize },
  );
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  out.lastEventId = parser.lastEventId;
  return out;
}

/** How many events each feed() call delivered, with the callback parser. */
function perChunk(chunks: readonly (string | Uint8Array)[]): number[] {
  let count = 0;
  const parser = createParser({ onEvent: () => count++ });
  return chunks.map((chunk) => {
    count = 0;
    parser.feed(chunk);
    return count;
  });
}

/** run() through createBatchParser(), plus the size of each batch (0: feed() returned none). */
function runBatched(chunks: readonly (string | Uint8Array)[]): [Outcome, number[]] {
  const out: Outcome = { events: [], comments: [], retries: [], ids: [], lastEventId: '' };
  const parser = createBatchParser({
    onComment: (c) => out.comments.push(c),
    onRetry: (ms) => out.retries.push(ms),
    onId: (id) => out.ids.push(id),
    onError: (err) => {
      throw err;
    },
  });
  const sizes = chunks.map((chunk) => {
    const batch = parser.feed(chunk);
    if (batch !== undefined) expect(batch.length).toBeGreaterThan(0); // never an empty batch
    out.events.push(...(batch ?? []));
    return batch?.length ?? 0;
  });
  parser.end();
  out.lastEventId = parser.lastEventId;
  return [out, sizes];
}

function expected(c: ConformanceCase): Outcome {
  return {
    events: c.events.map((e) => ({
      event: e.event ?? 'message',
      data: e.data,
      lastEventId: e.lastEventId ?? '',
    })),
    comments: [...(c.comments ?? [])],
    retries: [...(c.retries ?? [])],
    ids: [...(c.ids ?? [])],
    lastEventId: c.lastEventId ?? '',
  };
}

function bytesOf(c: ConformanceCase): Uint8Array {
  return typeof c.input === 'string' ? new TextEncoder().encode(c.input) : Uint8Array.from(c.input);
}

/** The stream as text, decoded without stripping a BOM: what the string path expects. */
function textOf(c: ConformanceCase): string {
  return typeof c.input === 'string'
    ? c.input
    : new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytesOf(c));
}

/**
 * The smallest maxEventSize the stream fits in. Under it the parser can't tell at once that
 * a chunk is safe, so it checks line by line: the general loop rather than the LF fast path.
 */
function tightLimit(text: string): number {
  let lo = 1;
  let hi = Math.max(1, text.length);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    try {
      run([text], mid);
      hi = mid;
    } catch {
      lo = mid + 1;
    }
  }
  return lo;
}

function splitAt<T extends string | Uint8Array>(input: T, cuts: readonly number[]): T[] {
  const points = [0, ...[...cuts].sort((a, b) => a - b), input.length];
  return points.slice(1).map((end, i) => input.slice(points[i], end) as T);
}

describe('conformance table', () => {
  it('has at least 60 cases, each with a rule id', () => {
    expect(CONFORMANCE_CASES.length).toBeGreaterThanOrEqual(60);
    for (const c of CONFORMANCE_CASES) expect(c.rule).toMatch(/^[PF]\d+$/);
    expect(new Set(CONFORMANCE_CASES.map((c) => c.name)).size).toBe(CONFORMANCE_CASES.length);
  });

  describe.each(CONFORMANCE_CASES.map((c) => [`${c.rule} ${c.name}`, c] as const))(
    '%s',
    (_title, c) => {
      const want = expected(c);
      const bytes = bytesOf(c);
      const text = textOf(c);

      it('whole, as bytes and as a string', () => {
        expect(run([bytes])).toEqual(want);
        expect(run([text])).toEqual(want);
      });

      it('split in two at every byte and every string position', () => {
        for (let i = 0; i <= bytes.length; i++)
          expect(run(splitAt(bytes, [i])), `byte split ${i}`).toEqual(want);
        for (let i = 0; i <= text.length; i++)
          expect(run(splitAt(text, [i])), `string split ${i}`).toEqual(want);
      });

      it('at the tightest maxEventSize, whole and split in two at every position', () => {
        const limit = tightLimit(text);
        expect(run([bytes], limit)).toEqual(want);
        for (let i = 0; i <= bytes.length; i++)
          expect(run(splitAt(bytes, [i]), limit), `byte split ${i}`).toEqual(want);
        for (let i = 0; i <= text.length; i++)
          expect(run(splitAt(text, [i]), limit), `string split ${i}`).toEqual(want);
      });

      it('one byte and one code unit at a time, with empty chunks between', () => {
        expect(
          run([new Uint8Array(0), ...splitAt(bytes, [...bytes.keys()]), new Uint8Array(0)]),
        ).toEqual(want);
        expect(
          run(['', ...splitAt(text, [...text.split('').keys()]).flatMap((s) => [s, ''])]),
        ).toEqual(want);
      });

      it('batched: the same events, each in the batch of the chunk that completed it', () => {
        const chunkings = [
          [bytes],
          [text],
          ...[...Array(bytes.length + 1).keys()].map((i) => splitAt(bytes, [i])),
          ...[...Array(text.length + 1).keys()].map((i) => splitAt(text, [i])),
          splitAt(bytes, [...bytes.keys()]),
          splitAt(text, [...text.split('').keys()]),
        ];
        for (const chunks of chunkings) {
          const [outcome, sizes] = runBatched(chunks);
          expect(outcome).toEqual(want);
          expect(sizes).toEqual(perChunk(chunks));
        }
      });

      it('random multi-splits', () => {
        fc.assert(
          fc.property(
            fc.uniqueArray(fc.nat({ max: bytes.length }), { maxLength: 12 }),
            fc.boolean(),
            (cuts, asText) => {
              const limitCuts = cuts.map((p) => Math.min(p, asText ? text.length : bytes.length));
              const chunks = asText ? splitAt(text, limitCuts) : splitAt(bytes, limitCuts);
              expect(run(chunks)).toEqual(want);
            },
          ),
          { numRuns: 40, seed: 42 },
        );
      });
    },
  );
});
