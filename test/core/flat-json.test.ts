/**
 * flatJson keeps the text and makes retained JSON cheaper: V8 returns longer
 * `JSON.stringify` results as ropes, and a retained rope holds several heap objects.
 * Measured as heap growth after full collections (memory, not speed).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { flatJson } from '../../src/core/flat-json.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function retainedBytes(make: (i: number) => string, count: number): number {
  gc();
  gc();
  const before = v8.getHeapStatistics().used_heap_size;
  const kept: string[] = [];
  for (let i = 0; i < count; i++) kept.push(make(i));
  gc();
  gc();
  const after = v8.getHeapStatistics().used_heap_size;
  expect(kept).toHaveLength(count);
  return after - before;
}

describe('flatJson', () => {
  it('returns the same text', () => {
    const json = JSON.stringify({ content: ' a longer token with "quotes" and ünïcödé ✓' });
    expect(flatJson(json)).toBe(json);
    expect(flatJson('')).toBe('');
  });

  it('retains a JSON.stringify result in less heap than the rope it was built as', () => {
    const make = (i: number) => JSON.stringify({ content: ` token${i} with some more text` });
    const count = 100_000;
    const rope = retainedBytes(make, count);
    const flat = retainedBytes((i) => flatJson(make(i)), count);
    // About 45 bytes less per string on Node 20 (a rope node plus part headers).
    expect(flat).toBeLessThan(rope * 0.8);
  });
});
