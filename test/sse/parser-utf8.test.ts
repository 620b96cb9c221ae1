import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createParser } from '../../src/sse/parser.js';

const encoder = new TextEncoder();

function parseData(chunks: readonly (string | Uint8Array)[]): string[] {
  const data: string[] = [];
  const parser = createParser({ onEvent: (e) => data.push(e.data) });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return data;
}

function splitAt(input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [0, ...[...cuts].sort((a, b) => a - b), input.length];
  return points.slice(1).map((end, i) => input.subarray(points[i], end));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('UTF-8 across chunk boundaries (P2, P3)', () => {
  const samples = ['é', 'ß', '€', '中文', '한국어', '😀', '👩‍👩‍👧', '𝄞', 'aé€😀中b'];

  it.each(samples)('decodes %s split at every pair and triple of positions', (sample) => {
    const text = `data: ${sample}${sample}\nevent: ${sample}\ndata:${sample}\n\n`;
    const bytes = encoder.encode(text);
    const want = [`${sample}${sample}\n${sample}`];
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++)
        expect(parseData(splitAt(bytes, [i, j]))).toEqual(want);
    }
  });

  it('decodes 2-, 3- and 4-byte characters fed one byte at a time', () => {
    const text = 'data: ' + 'ÿ ࠀ ￿ 𐀀 􏿿 ' + '\n\n';
    const bytes = encoder.encode(text);
    expect(parseData(splitAt(bytes, [...bytes.keys()]))).toEqual(['ÿ ࠀ ￿ 𐀀 􏿿 ']);
  });

  it('decodes arbitrary bytes exactly like a one-shot WHATWG decoder, whatever the chunking', () => {
    const lineSafe = fc
      .uint8Array({ maxLength: 64 })
      .map((a) => a.map((b) => (b === 10 || b === 13 ? 0x80 : b)));
    fc.assert(
      fc.property(
        lineSafe,
        fc.uniqueArray(fc.nat({ max: 80 }), { maxLength: 10 }),
        (payload, cuts) => {
          const stream = concat(encoder.encode('data: '), payload, encoder.encode('\n\n'));
          const want = new TextDecoder('utf-8', { ignoreBOM: true }).decode(payload);
          const chunks = splitAt(
            stream,
            cuts.map((c) => Math.min(c, stream.length)),
          );
          expect(parseData(chunks)).toEqual([want]);
        },
      ),
      { numRuns: 1000, seed: 7 },
    );
  });

  it('decodes arbitrary unicode text split anywhere, as bytes and as strings', () => {
    const noBreaks = fc
      .string({ unit: 'binary', maxLength: 40 })
      .map((s) => s.replace(/[\r\n]/g, ' '));
    fc.assert(
      fc.property(
        noBreaks,
        fc.uniqueArray(fc.nat({ max: 200 }), { maxLength: 8 }),
        (payload, cuts) => {
          const text = `data: ${payload}\n\n`;
          const bytes = encoder.encode(text);
          expect(
            parseData(
              splitAt(
                bytes,
                cuts.map((c) => Math.min(c, bytes.length)),
              ),
            ),
          ).toEqual([payload]);
          const pieces = [
            0,
            ...cuts.map((c) => Math.min(c, text.length)).sort((a, b) => a - b),
            text.length,
          ];
          expect(parseData(pieces.slice(1).map((end, i) => text.slice(pieces[i], end)))).toEqual([
            payload,
          ]);
        },
      ),
      { numRuns: 500, seed: 11 },
    );
  });

  it('replaces an incomplete character at the end of a line, not the line terminator', () => {
    const stream = concat(
      encoder.encode('data: a'),
      new Uint8Array([0xf0, 0x9f]),
      encoder.encode('\n\ndata: b\n\n'),
    );
    for (let i = 0; i <= stream.length; i++)
      expect(parseData(splitAt(stream, [i]))).toEqual(['a\uFFFD', 'b']);
  });

  it('reads field names the same from bytes as from text, whatever the bytes decode to', () => {
    // Lines built from field names, separators and bytes that decode to fewer code units
    // (é, €, a split 4-byte character) or to one U+FFFD each (0xFF, a stray 0x80): the
    // parser reads ASCII straight from the bytes only when they align with the text.
    const pieces = ['data', 'id', 'event', ':', ' ', 'x', '7', '\n', '\n', 'é', '€', '😀']
      .map((t) => encoder.encode(t))
      .concat([new Uint8Array([0xff]), new Uint8Array([0x80]), new Uint8Array([0xf0, 0x9f])]);
    const decode = (b: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);
    const run = (chunks: readonly (string | Uint8Array)[]) => {
      const seen: string[] = [];
      const parser = createParser({
        onEvent: (e) => seen.push(`${e.event}|${e.data}|${e.lastEventId}`),
        onId: (id) => seen.push(`id ${id}`),
      });
      for (const chunk of chunks) parser.feed(chunk);
      parser.end();
      return seen;
    };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pieces), { maxLength: 60 }),
        fc.uniqueArray(fc.nat({ max: 120 }), { maxLength: 6 }),
        (parts, cuts) => {
          const stream = concat(...parts, encoder.encode('\n\n'));
          const want = run([decode(stream)]); // one string: the charCodeAt loop
          const chunks = splitAt(
            stream,
            cuts.map((c) => Math.min(c, stream.length)),
          );
          expect(run(chunks)).toEqual(want);
        },
      ),
      { numRuns: 2000, seed: 5 },
    );
  });

  it('decodes a stream that turns from ASCII to multi-byte and back, cut into small chunks', () => {
    // The decoder decodes a chunk before looking at its end while the stream is ASCII, and
    // looks first once it is not: every switch, with a chunk cut inside a character.
    const values = Array.from({ length: 40 }, (_, i) => (i % 3 === 2 ? `€${i}😀é` : `t${i}`));
    const bytes = encoder.encode(values.map((v) => `data: ${v}\n\n`).join(''));
    for (const step of [1, 2, 3, 5, 7]) {
      const cuts: number[] = [];
      for (let at = step, k = 0; at < bytes.length; at += step + (k++ % 4)) cuts.push(at);
      expect(parseData(splitAt(bytes, cuts))).toEqual(values);
    }
  });

  it('turns bytes held back before a string chunk into U+FFFD (mixed input)', () => {
    expect(
      parseData([encoder.encode('data: a').subarray(0), new Uint8Array([0xe2, 0x82]), 'b\n\n']),
    ).toEqual(['a\uFFFDb']);
  });
});
