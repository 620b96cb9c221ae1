import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OUTBOUND_DEFAULTS,
  OutboundQueue,
  type OutboundSink,
  type OverflowPolicy,
} from '../../src/ws/outbound-queue.js';

/**
 * A socket that buffers everything until `drain(n)` writes n frames out. Empty frames (the
 * queue's fences) carry no bytes: like a real socket, it completes them as soon as the
 * frames before them are out, and they are not among the frames written.
 */
class FakeSink implements OutboundSink {
  pending: Array<{ data: Uint8Array; done: (() => void) | undefined }> = [];
  written: string[] = [];
  /** Frames written with a callback, fences included. */
  signalled = 0;
  /** When set, callbacks of drained frames wait for `runLate()`, as Node's run a tick later. */
  deferCallbacks = false;
  late: Array<() => void> = [];
  runLate(): void {
    for (const done of this.late.splice(0)) done();
  }
  get bufferedAmount(): number {
    return this.pending.reduce((sum, frame) => sum + frame.data.byteLength, 0);
  }
  writeFrame(data: Uint8Array, done?: () => void): void {
    if (done) this.signalled++;
    this.pending.push({ data, done });
    this.#completeFences();
  }
  drain(count = Infinity): void {
    while (count-- > 0 && this.pending.length > 0) {
      const frame = this.pending.shift()!;
      this.written.push(new TextDecoder().decode(frame.data));
      this.#complete(frame.done);
      this.#completeFences();
    }
  }
  #completeFences(): void {
    while (this.pending[0]?.data.byteLength === 0) this.#complete(this.pending.shift()!.done);
  }
  #complete(done: (() => void) | undefined): void {
    if (done && this.deferCallbacks) this.late.push(done);
    else done?.();
  }
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const notice = (channel: string, count: number): Uint8Array => bytes(`gap:${channel}:${count}`);
const O = OUTBOUND_DEFAULTS.frameOverhead;
/** maxBytes that leaves room for exactly `bytes` of messages. */
const room = (bytes: number): number => bytes + OUTBOUND_DEFAULTS.noticeReserve;

describe('OutboundQueue', () => {
  it('passes frames straight through while the socket keeps up', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(1000), encodeDropNotice: notice });
    expect(queue.offer({ data: bytes('a') })).toBe('queued');
    sink.drain();
    expect(queue.offer({ data: bytes('b') })).toBe('queued');
    sink.drain();
    expect(sink.written).toEqual(['a', 'b']);
    expect(queue.stats().queuedMessages).toBe(0);
  });

  it('writes without a callback while the socket is empty and nothing waits', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(1000), encodeDropNotice: notice });
    for (const text of ['a', 'b', 'c']) {
      expect(queue.offer({ data: bytes(text) })).toBe('queued');
      sink.drain();
    }
    expect(sink.written).toEqual(['a', 'b', 'c']);
    expect(sink.signalled).toBe(0);
    // Bytes already in the socket: the next frame asks to be told when it left.
    queue.offer({ data: bytes('d') });
    queue.offer({ data: bytes('e') });
    expect(sink.signalled).toBe(1);
  });

  it('fences unsignalled bytes when a backlog forms behind them, so it still flushes', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(10 * (10 + O)),
      socketHighWaterMark: 10,
      encodeDropNotice: notice,
    });
    const frame = (n: number) => bytes(String(n).repeat(10));
    expect(queue.offer({ data: frame(1) })).toBe('queued'); // to the socket, no callback
    expect(sink.signalled).toBe(0);
    expect(queue.offer({ data: frame(2) })).toBe('queued'); // backlog: socket above its mark
    expect(queue.offer({ data: frame(3) })).toBe('queued');
    expect(sink.signalled).toBe(1); // the fence after frame 1
    // Only frame 1 leaves: the fence behind it calls back, and the backlog moves on.
    sink.drain(1);
    sink.drain(1);
    sink.drain(1);
    expect(sink.written).toEqual(
      [frame(1), frame(2), frame(3)].map((b) => new TextDecoder().decode(b)),
    );
    expect(queue.stats().queuedMessages).toBe(0);
  });

  it('fences unsignalled bytes for a waiter, which wakes once they left', async () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(10 + O), encodeDropNotice: notice });
    const frame = bytes('x'.repeat(10));
    expect(queue.offer({ data: frame })).toBe('queued');
    expect(queue.offer({ data: frame })).toBe('full');
    const wait = queue.waitForRoom(10, null);
    expect(sink.signalled).toBe(1);
    sink.drain(1);
    await expect(wait).resolves.toBe(true);
  });

  it('fences bytes written after a callback that was still due, for a waiter', async () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(100), encodeDropNotice: notice });
    const frame = bytes('x'.repeat(10));
    queue.offer({ data: frame }); // socket empty: no callback
    queue.offer({ data: frame }); // socket holds the first: with a callback
    expect(sink.signalled).toBe(1);
    sink.deferCallbacks = true;
    sink.drain(); // both left; the callback runs a tick later
    queue.offer({ data: frame }); // socket empty again: no callback, and it stays there
    const wait = queue.waitForRoom(100, null); // does not fit beside it
    sink.deferCallbacks = false;
    sink.runLate(); // the last callback due: nothing else will call back but a fence
    sink.drain();
    await expect(wait).resolves.toBe(true);
  });

  it('disconnect policy: refuses what does not fit, then admits once drained', async () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(3 * (10 + O)),
      socketHighWaterMark: 10,
      encodeDropNotice: notice,
    });
    const frame = bytes('x'.repeat(10));
    expect(queue.offer({ data: frame })).toBe('queued'); // goes to the socket
    expect(queue.offer({ data: frame })).toBe('queued'); // stays queued: socket above its mark
    expect(queue.offer({ data: frame })).toBe('queued');
    expect(queue.offer({ data: frame })).toBe('full');
    expect(queue.bufferedBytes).toBeLessThanOrEqual(room(3 * (10 + O)));
    const wait = queue.waitForRoom(10, null);
    sink.drain(1);
    await expect(wait).resolves.toBe(true);
    expect(queue.offer({ data: frame })).toBe('queued');
  });

  it('admits a message larger than the whole budget alone, into an empty connection', async () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(100), encodeDropNotice: notice });
    const big = new Uint8Array(500);
    queue.offer({ data: bytes('small') });
    expect(queue.offer({ data: big })).toBe('full');
    const wait = queue.waitForRoom(big.byteLength, null);
    sink.drain();
    await expect(wait).resolves.toBe(true);
    expect(queue.offer({ data: big })).toBe('queued');
    expect(queue.offer({ data: bytes('next') })).toBe('full');
  });

  it('control messages may use their reserve, channel messages may not; beyond it: full', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(100) + 50,
      socketHighWaterMark: 10,
      encodeDropNotice: notice,
      controlReserve: 50,
    });
    expect(queue.offer({ data: new Uint8Array(100 - O) })).toBe('queued'); // the budget, exactly
    expect(queue.offer({ data: bytes('x') })).toBe('full');
    expect(queue.offer({ data: bytes('x'.repeat(20)), control: true })).toBe('queued');
    expect(queue.offer({ data: bytes('x'.repeat(20)), control: true })).toBe('full');
    expect(queue.bufferedBytes).toBeLessThanOrEqual(room(100) + 50);
  });

  it('waitForRoom times out, aborts, and fails on close', async () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(20 + O), encodeDropNotice: notice });
    queue.offer({ data: bytes('x'.repeat(20)) });
    await expect(queue.waitForRoom(5, 10)).resolves.toBe(false);
    const controller = new AbortController();
    const aborted = queue.waitForRoom(5, null, controller.signal);
    controller.abort();
    await expect(aborted).resolves.toBe(false);
    const closed = queue.waitForRoom(5, null);
    queue.close();
    await expect(closed).resolves.toBe(false);
    expect(queue.offer({ data: bytes('y') })).toBe('dropped');
  });

  it('drop-oldest: evicts the oldest droppable messages and announces the count before the next one', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(4 * (2 + O)),
      socketHighWaterMark: 1,
      encodeDropNotice: notice,
    });
    for (let i = 10; i < 20; i++) {
      queue.offer({ data: bytes(String(i)), channel: 'v', policy: 'drop-oldest' });
    }
    expect(queue.bufferedBytes).toBeLessThanOrEqual(room(4 * (2 + O)));
    for (let i = 0; i < 20; i++) sink.drain(1);
    // "10" went to the socket at once; 11..16 were evicted; the notice precedes 17.
    expect(sink.written).toEqual(['10', 'gap:v:6', '17', '18', '19']);
    expect(queue.stats().dropped).toBe(6);
  });

  it('drop-oldest: the notice of a message dropped behind unsignalled bytes goes out once they leave', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(100), encodeDropNotice: notice });
    // Written at once, without a callback (the socket was empty), and still in the socket.
    expect(queue.offer({ data: bytes('a'.repeat(60)), channel: 'v', policy: 'drop-oldest' })).toBe(
      'queued',
    );
    expect(queue.offer({ data: bytes('b'.repeat(60)), channel: 'v', policy: 'drop-oldest' })).toBe(
      'dropped',
    );
    sink.drain(); // the socket drains and nothing else is offered: a quiet channel
    expect(sink.written).toEqual(['a'.repeat(60), 'gap:v:1']);
  });

  it('conflate: a value dropped behind unsignalled bytes is announced once they leave', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(100), encodeDropNotice: notice });
    const tick = (value: string): string =>
      queue.offer({
        data: bytes(`A=${value}`.padEnd(60)),
        channel: 't',
        policy: 'conflate',
        key: 'A',
      });
    expect(tick('1')).toBe('queued');
    expect(tick('2')).toBe('dropped');
    sink.drain();
    // The client learns that A=1 is not the latest value, without waiting for another publish.
    expect(sink.written.map((frame) => frame.trim())).toEqual(['A=1', 'gap:t:1']);
  });

  it('conflate: the latest value per key replaces the queued one in place', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(10_000),
      socketHighWaterMark: 1,
      encodeDropNotice: notice,
    });
    queue.offer({ data: bytes('first') }); // occupies the socket
    const tick = (key: string, value: string): string =>
      queue.offer({ data: bytes(`${key}=${value}`), channel: 't', policy: 'conflate', key });
    expect(tick('A', '1')).toBe('queued');
    expect(tick('B', '1')).toBe('queued');
    expect(tick('A', '2')).toBe('conflated');
    expect(tick('A', '3')).toBe('conflated');
    for (let i = 0; i < 5; i++) sink.drain(1);
    expect(sink.written).toEqual(['first', 'A=3', 'B=1']);
    expect(queue.stats().conflated).toBe(2);
  });

  it('a durable message evicts volatile ones rather than disconnecting', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(3 * (1 + O)),
      socketHighWaterMark: 1,
      encodeDropNotice: notice,
    });
    queue.offer({ data: bytes('s') });
    queue.offer({ data: bytes('v'), channel: 'vol', policy: 'drop-oldest' });
    queue.offer({ data: bytes('w'), channel: 'vol', policy: 'drop-oldest' });
    expect(queue.offer({ data: bytes('d'), channel: 'dur' })).toBe('queued');
    for (let i = 0; i < 5; i++) sink.drain(1);
    expect(sink.written).toEqual(['s', 'gap:vol:1', 'w', 'd']);
  });

  it('keeps nothing of what it flushed: a reader that keeps up leaves the indexes empty', () => {
    // A healthy reader never fills the queue, so nothing is ever evicted: every frame leaves
    // through flush(), and no index may keep an entry (and its frame) for it.
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { maxBytes: room(10_000), encodeDropNotice: notice });
    for (const policy of ['drop-oldest', 'conflate', 'disconnect'] as const) {
      for (let i = 0; i < 10_000; i++) {
        queue.offer({ data: bytes(`m${i}`), channel: 'c', policy, key: String(i % 7) });
        sink.drain();
        expect(queue.stats().indexedEntries).toBeLessThanOrEqual(
          5 * queue.stats().queuedMessages + 70,
        );
      }
      expect(queue.stats()).toMatchObject({ queuedMessages: 0, indexedEntries: 0 });
    }
    expect(sink.written).toHaveLength(30_000);
  });

  it('indexes stay bounded by the queue while a slow reader has evictions going on', () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, {
      maxBytes: room(20 * (4 + O)),
      socketHighWaterMark: 1,
      encodeDropNotice: notice,
    });
    queue.offer({ data: bytes('hold') }); // occupies the socket: everything else queues
    for (let i = 0; i < 10_000; i++) {
      // A conflated key that keeps growing evicts the entries behind it, not itself.
      queue.offer({ data: bytes('k'.repeat(1 + (i % 4))), channel: 'a', policy: 'conflate' });
      queue.offer({ data: bytes(`${i % 1000}`), channel: 'b', policy: 'drop-oldest' });
      if (i % 500 === 0) sink.drain(1);
      const stats = queue.stats();
      expect(stats.indexedEntries).toBeLessThanOrEqual(5 * stats.queuedMessages + 70);
    }
    expect(queue.stats().dropped).toBeGreaterThan(9000);
  });

  it('property: the byte bound holds for any mix of policies, control messages and drain steps', () => {
    const policy = fc.constantFrom<OverflowPolicy>('disconnect', 'drop-oldest', 'conflate');
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('offer' as const),
        size: fc.integer({ min: 1, max: 200 }),
        policy,
        key: fc.constantFrom('a', 'b', 'c'),
        channel: fc.constantFrom('x', 'y'),
        control: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('drain' as const), count: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.integer({ min: 1024, max: 3000 }),
        (ops, max) => {
          const sink = new FakeSink();
          const queue = new OutboundQueue(sink, {
            maxBytes: max,
            socketHighWaterMark: 100,
            encodeDropNotice: notice,
            controlReserve: 300,
          });
          for (const step of ops) {
            if (step.kind === 'drain') sink.drain(step.count);
            else {
              queue.offer({
                data: new Uint8Array(step.size),
                ...(step.control ? {} : { channel: step.channel, policy: step.policy }),
                key: step.key,
                control: step.control,
              });
            }
            expect(queue.bufferedBytes).toBeLessThanOrEqual(max);
            const stats = queue.stats();
            expect(stats.queuedBytes).toBeGreaterThanOrEqual(0);
            expect(stats.queuedMessages).toBeGreaterThanOrEqual(0);
            expect(stats.indexedEntries).toBeLessThanOrEqual(5 * stats.queuedMessages + 70);
          }
          // Draining everything delivers everything still queued.
          for (
            let i = 0;
            i < 1000 && (sink.pending.length > 0 || queue.stats().queuedMessages > 0);
            i++
          ) {
            sink.drain();
          }
          expect(queue.stats().queuedMessages).toBe(0);
          expect(queue.stats().queuedBytes).toBe(0);
          expect(queue.stats().indexedEntries).toBe(0);
        },
      ),
    );
  });
});
