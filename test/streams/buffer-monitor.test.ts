import { describe, expect, it } from 'vitest';
import { BufferMonitor, defaultSize } from '../../src/core/streams/buffer-monitor.js';

describe('BufferMonitor', () => {
  it('tracks queued items and bytes, peaks, drops, conflation and stalls', () => {
    const m = new BufferMonitor();
    m.recordEnqueue(10);
    m.recordEnqueue(20);
    m.recordDequeue(10);
    m.recordDrop(20, true);
    m.recordDrop(5, false);
    m.recordEnqueue(7);
    m.recordConflate(7, 9);
    m.recordStall();
    expect(m.stats()).toEqual({
      queuedItems: 1,
      queuedBytes: 9,
      peakItems: 2,
      peakBytes: 30,
      enqueued: 3,
      dequeued: 1,
      dropped: 2,
      droppedBytes: 25,
      conflated: 1,
      stalls: 1,
    });
  });

  it('returns frozen snapshots and restarts the peak window on resetPeaks', () => {
    const m = new BufferMonitor();
    m.recordEnqueue(100);
    m.recordDequeue(100);
    const before = m.stats();
    expect(Object.isFrozen(before)).toBe(true);
    m.resetPeaks();
    m.recordEnqueue(1);
    expect(before.peakBytes).toBe(100);
    expect(m.stats()).toMatchObject({ peakItems: 1, peakBytes: 1 });
  });

  it('releases discarded items without counting them as deliveries', () => {
    const m = new BufferMonitor();
    m.recordEnqueue(3);
    m.recordEnqueue(4);
    m.recordDiscard(2, 7);
    expect(m.stats()).toMatchObject({ queuedItems: 0, queuedBytes: 0, dequeued: 0, dropped: 0 });
  });
});

describe('defaultSize', () => {
  it('measures binary chunks and strings, and counts other values as 0', () => {
    expect(defaultSize(new Uint8Array(12))).toBe(12);
    expect(defaultSize(new ArrayBuffer(5))).toBe(5);
    expect(defaultSize('hello')).toBe(5);
    expect(defaultSize({ a: 1 })).toBe(0);
  });
});
