import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { BoundedQueue } from '../../src/core/streams/bounded-queue.js';
import { BufferMonitor } from '../../src/core/streams/buffer-monitor.js';
import { fromAsyncIterable } from '../../src/core/streams/from-async-iterable.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
const values = async <T>(queue: BoundedQueue<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const v of queue) out.push(v);
  return out;
};

describe('BoundedQueue', () => {
  it('is FIFO and drains queued items after close', async () => {
    const q = new BoundedQueue<number>({ maxItems: 5000 });
    for (let i = 0; i < 5000; i += 1) await q.push(i);
    q.close();
    const out = await values(q);
    expect(out).toHaveLength(5000);
    expect(out.every((v, i) => v === i)).toBe(true);
    expect(q.state).toBe('closed');
  });

  it("'wait': a producer is held at the limit until the consumer takes an item", async () => {
    const q = new BoundedQueue<number>({ maxItems: 2 });
    let produced = 0;
    const producer = (async () => {
      for (let i = 0; i < 10; i += 1) {
        await q.push(i);
        produced += 1;
      }
      q.close();
    })();
    await tick();
    expect(produced).toBe(2);
    expect(q.length).toBe(2);
    expect(await q.next()).toEqual({ value: 0, done: false });
    await tick();
    expect(produced).toBe(3);
    expect(await values(q)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await producer;
  });

  it("'wait': waiting pushes are admitted in call order and can be aborted", async () => {
    const q = new BoundedQueue<string>({ maxItems: 1 });
    await q.push('a');
    const controller = new AbortController();
    const b = q.push('b');
    const c = q.push('c', { signal: controller.signal });
    const d = q.push('d');
    controller.abort(new Error('gave up'));
    await expect(c).rejects.toThrow('gave up');
    expect(q.offer('e')).toBe(false); // full, and behind waiters
    q.close();
    await Promise.all([values(q).then((v) => expect(v).toEqual(['a', 'b', 'd'])), b, d]);
  });

  it("'wait': an item larger than maxBytes can never fit and is refused", async () => {
    const q = new BoundedQueue<string>({ maxBytes: 4 });
    await expect(q.push('too long')).rejects.toSatisfy((e) => isSluiceError(e, 'buffer_overflow'));
  });

  it('limits by size: default size is string length', async () => {
    const q = new BoundedQueue<string>({ maxBytes: 10, maxItems: null, overflow: 'error' });
    await q.push('aaaa');
    await q.push('bbbb');
    await q.push('cc');
    expect(q.bytes).toBe(10);
    await expect(q.push('d')).rejects.toSatisfy((e) => isSluiceError(e, 'buffer_overflow'));
    expect(() => q.offer('d')).toThrow(/Queue full/);
  });

  it("'drop-oldest' keeps the newest items and reports what it dropped", async () => {
    const dropped: number[] = [];
    const monitor = new BufferMonitor();
    const q = new BoundedQueue<number>({
      maxItems: 3,
      overflow: 'drop-oldest',
      onDrop: (v) => dropped.push(v),
      monitor,
    });
    for (let i = 1; i <= 5; i += 1) expect(q.offer(i)).toBe(true);
    expect(dropped).toEqual([1, 2]);
    expect(q.dropped).toBe(2);
    expect(monitor.stats()).toMatchObject({ queuedItems: 3, dropped: 2, peakItems: 3 });
    q.close();
    expect(await values(q)).toEqual([3, 4, 5]);
  });

  it("'drop-oldest' makes room by size", async () => {
    const q = new BoundedQueue<string>({ maxBytes: 6, overflow: 'drop-oldest' });
    q.offer('aa');
    q.offer('bb');
    q.offer('cccc');
    q.close();
    expect(await values(q)).toEqual(['bb', 'cccc']);
  });

  it("'drop-newest' keeps what is queued and refuses the newcomer", async () => {
    const dropped: number[] = [];
    const q = new BoundedQueue<number>({
      maxItems: 2,
      overflow: 'drop-newest',
      onDrop: (v) => dropped.push(v),
    });
    expect([q.offer(1), q.offer(2), q.offer(3)]).toEqual([true, true, false]);
    await q.push(4); // settles at once; the item is dropped
    expect(dropped).toEqual([3, 4]);
    q.close();
    expect(await values(q)).toEqual([1, 2]);
  });

  it('hands an item straight to a waiting consumer', async () => {
    const monitor = new BufferMonitor();
    const q = new BoundedQueue<string>({ monitor });
    const next = q.next();
    await q.push('x');
    expect(await next).toEqual({ value: 'x', done: false });
    expect(monitor.stats()).toMatchObject({ enqueued: 1, dequeued: 1, queuedItems: 0 });
  });

  it('close ends a waiting consumer and refuses later pushes', async () => {
    const q = new BoundedQueue<number>();
    const next = q.next();
    q.close();
    expect(await next).toEqual({ value: undefined, done: true });
    await expect(q.push(1)).rejects.toSatisfy((e) => isSluiceError(e, 'queue_closed'));
  });

  it('fail rejects both sides at once and discards queued items', async () => {
    const monitor = new BufferMonitor();
    const q = new BoundedQueue<number>({ maxItems: 1, monitor });
    await q.push(1);
    const waiting = q.push(2);
    const boom = new Error('boom');
    q.fail(boom);
    await expect(waiting).rejects.toBe(boom);
    await expect(q.next()).rejects.toBe(boom);
    await expect(q.push(3)).rejects.toBe(boom);
    expect(monitor.stats()).toMatchObject({ queuedItems: 0, queuedBytes: 0 });
  });

  it('break in for await cancels the queue and releases waiting producers', async () => {
    const q = new BoundedQueue<number>({ maxItems: 1 });
    await q.push(1);
    const admitted = q.push(2); // let in when the consumer takes 1
    const waiting = q.push(3);
    for await (const v of q) {
      expect(v).toBe(1);
      break;
    }
    expect(q.state).toBe('cancelled');
    expect(q.length).toBe(0);
    await admitted;
    await expect(waiting).rejects.toSatisfy((e) => isSluiceError(e, 'queue_closed'));
  });

  it('an aborted signal fails the queue with its reason', async () => {
    const controller = new AbortController();
    const q = new BoundedQueue<number>({ signal: controller.signal });
    const next = q.next();
    controller.abort(new Error('shutdown'));
    await expect(next).rejects.toThrow('shutdown');
    const early = new BoundedQueue<number>({ signal: AbortSignal.abort(new Error('already')) });
    expect(early.state).toBe('failed');
    await expect(early.next()).rejects.toThrow('already');
  });

  it('feeds a pull-based stream; cancelling the stream cancels the queue', async () => {
    const q = new BoundedQueue<string>({ maxItems: 4 });
    const reader = fromAsyncIterable(q).getReader();
    await q.push('a');
    expect(await reader.read()).toEqual({ value: 'a', done: false });
    await reader.cancel();
    expect(q.state).toBe('cancelled');
  });

  it('refuses limits that do not bound anything', () => {
    expect(() => new BoundedQueue({ maxItems: null, maxBytes: null })).toThrow(/both are null/);
    expect(() => new BoundedQueue({ maxItems: 0 })).toThrow(/at least 1/);
  });
});
