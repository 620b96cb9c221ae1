import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../src/core/streams/bounded-queue.js';
import { BufferMonitor } from '../../src/core/streams/buffer-monitor.js';
import type { OverflowPolicy } from '../../src/core/streams/async-queue.js';

// Random interleavings of offers and takes under each dropping policy: the queue never
// holds more than its limits, loses nothing silently, and keeps the survivors in order.
describe('BoundedQueue invariants', () => {
  const policies: OverflowPolicy[] = ['drop-oldest', 'drop-newest'];
  it.each(policies)('%s: bounded, ordered, every item delivered or reported', async (policy) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null)), { maxLength: 200 }),
        async (maxItems, maxBytes, ops) => {
          const monitor = new BufferMonitor();
          const dropped: string[] = [];
          const q = new BoundedQueue<string>({
            maxItems,
            maxBytes,
            overflow: policy,
            monitor,
            onDrop: (item) => dropped.push(item),
          });
          const delivered: string[] = [];
          const offered: string[] = [];
          let seq = 0;
          for (const op of ops) {
            if (op === null) {
              if (q.length > 0) delivered.push((await q.next()).value as string);
            } else {
              const item = `${seq++}:${op}`;
              offered.push(item);
              q.offer(item);
            }
            expect(q.length).toBeLessThanOrEqual(maxItems);
            expect(q.bytes).toBeLessThanOrEqual(maxBytes);
            expect(monitor.queuedItems).toBe(q.length);
          }
          q.close();
          for await (const item of q) delivered.push(item);
          expect(delivered.length + dropped.length).toBe(offered.length);
          expect(q.dropped).toBe(dropped.length);
          const order = (s: string) => Number(s.slice(0, s.indexOf(':')));
          expect(delivered.map(order)).toEqual([...delivered.map(order)].sort((a, b) => a - b));
          expect(monitor.stats()).toMatchObject({ queuedItems: 0, dropped: dropped.length });
        },
      ),
      { numRuns: 200 },
    );
  });
});
