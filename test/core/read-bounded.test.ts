import { describe, expect, it } from 'vitest';
import { readAllBounded } from '../../src/core/read-bounded.js';

function streamOf(parts: number[][], onCancel?: () => void): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts[index++];
      if (part === undefined) controller.close();
      else controller.enqueue(new Uint8Array(part));
    },
    cancel: () => onCancel?.(),
  });
}

describe('readAllBounded', () => {
  it('joins every chunk when the total is within the limit', async () => {
    const bytes = await readAllBounded(streamOf([[1, 2], [3], [4, 5]]), 5, () => new Error('big'));
    expect([...bytes]).toEqual([1, 2, 3, 4, 5]);
    expect([...(await readAllBounded(streamOf([]), 0, () => new Error('big')))]).toEqual([]);
  });

  it('throws the caller’s error and cancels the stream once past the limit', async () => {
    let cancelled = false;
    const pulledAfter: number[][] = [[1, 2, 3], [4, 5, 6], [7]];
    await expect(
      readAllBounded(
        streamOf(pulledAfter, () => (cancelled = true)),
        4,
        () => new Error('big'),
      ),
    ).rejects.toThrow('big');
    expect(cancelled).toBe(true);
  });
});
