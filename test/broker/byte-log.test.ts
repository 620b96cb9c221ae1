/**
 * The byte log under history's use: appends, reads by offset, releases from the old end.
 * Against a model (an array of the strings still live): every live string reads back the
 * same whatever was released and relocated around it, and the buffer stays within a
 * bound set by the live bytes, not by everything ever appended.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteLog } from '../../src/broker/byte-log.js';

const utf8 = (text: string) => new TextEncoder().encode(text).length;

type Op = { kind: 'append'; text: string } | { kind: 'release'; count: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      text: fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.string({ maxLength: 5000 }),
        fc.constant('😀世界'.repeat(1500)), // past the estimate: measured exactly
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      count: fc.integer({ min: 0, max: 5 }),
    }),
  },
);

describe('ByteLog', () => {
  it('reads back every live string and stays bounded by the live bytes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const log = new ByteLog();
        const live: { text: string; start: number; end: number }[] = [];
        let largest = 0;
        for (const o of ops) {
          if (o.kind === 'append') {
            const start = log.append(o.text);
            live.push({ text: o.text, start, end: log.end });
            expect(log.end - start).toBe(utf8(o.text));
            largest = Math.max(largest, o.text.length * 3);
          } else {
            const gone = live.splice(0, o.count);
            if (gone.length > 0) log.release(gone.at(-1)!.end);
          }
          for (const entry of live) expect(log.read(entry.start, entry.end)).toBe(entry.text);
          const liveBytes = live.reduce((sum, e) => sum + (e.end - e.start), 0);
          expect(log.liveBytes).toBe(liveBytes);
          // Growth doubles what one append needs; release shrinks past 4× the snug size.
          expect(log.capacity).toBeLessThanOrEqual(8 * Math.max(1024, 2 * (liveBytes + largest)));
        }
      }),
    );
  });

  it('keeps a turning ring small: capacity follows the live bytes, not the total', () => {
    const log = new ByteLog();
    const ends: number[] = [];
    let total = 0;
    for (let i = 0; i < 20_000; i++) {
      log.append(`message ${i} ${'x'.repeat(90)}`);
      ends.push(log.end);
      total = log.end;
      if (ends.length > 10) log.release(ends.shift()!);
    }
    expect(total).toBeGreaterThan(2_000_000);
    expect(log.liveBytes).toBeLessThan(1100);
    expect(log.capacity).toBeLessThanOrEqual(4096);
  });

  it('shrinks a large buffer once history was trimmed to a few messages', () => {
    const log = new ByteLog();
    const ends: number[] = [];
    for (let i = 0; i < 1000; i++) {
      log.append(`${i} ${'y'.repeat(1000)}`);
      ends.push(log.end);
    }
    expect(log.capacity).toBeGreaterThanOrEqual(1_000_000);
    log.release(ends[997]!); // two messages left
    expect(log.liveBytes).toBeLessThan(2100);
    expect(log.capacity).toBeLessThanOrEqual(8192);
    expect(log.read(ends[997]!, ends[998]!)).toBe(`998 ${'y'.repeat(1000)}`);
  });

  it('keeps a leading U+FEFF (not taken for a byte order mark)', () => {
    const log = new ByteLog();
    for (const text of ['\uFEFF', '\uFEFFx', 'a\uFEFF']) {
      const start = log.append(text);
      expect(log.read(start, log.end)).toBe(text);
    }
  });

  it('keeps a small buffer when a release empties the log (a history of one message)', () => {
    const log = new ByteLog();
    for (let i = 0; i < 100; i++) {
      // As history does it: the old message is dropped first, then the new one appended.
      log.release(log.end);
      expect(log.liveBytes).toBe(0);
      if (i > 0) expect(log.capacity).toBeGreaterThan(0); // kept, not let go and allocated again
      const start = log.append(`message ${i} ${'z'.repeat(400)}`);
      expect(log.read(start, log.end)).toBe(`message ${i} ${'z'.repeat(400)}`);
    }
  });

  it('lets a large buffer go once everything was released', () => {
    const log = new ByteLog();
    for (let i = 0; i < 1000; i++) log.append('y'.repeat(1000));
    expect(log.capacity).toBeGreaterThanOrEqual(1_000_000);
    log.release(log.end);
    expect(log.liveBytes).toBe(0);
    expect(log.capacity).toBe(0);
    const start = log.append('after');
    expect(log.read(start, log.end)).toBe('after');
  });
});
