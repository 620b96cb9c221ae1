import { describe, expect, it } from 'vitest';
import { BufferMonitor } from '../../src/core/streams/buffer-monitor.js';
import { ConflatingQueue } from '../../src/core/streams/conflating-queue.js';

interface Tick {
  symbol: string;
  price: number;
}
const tick = (symbol: string, price: number): Tick => ({ symbol, price });
const drain = async (q: ConflatingQueue<Tick, string>): Promise<string[]> => {
  q.close();
  const out: string[] = [];
  for await (const t of q) out.push(`${t.symbol}:${t.price}`);
  return out;
};

describe('ConflatingQueue', () => {
  it('keeps the latest value per key in first-insertion order', async () => {
    const monitor = new BufferMonitor();
    const q = new ConflatingQueue<Tick, string>({ key: (t) => t.symbol, monitor });
    q.offer(tick('AAPL', 1));
    q.offer(tick('MSFT', 2));
    q.offer(tick('AAPL', 3));
    q.offer(tick('AAPL', 4));
    expect(q.length).toBe(2);
    expect(q.conflated).toBe(2);
    expect(monitor.stats()).toMatchObject({ conflated: 2, queuedItems: 2, enqueued: 2 });
    expect(await drain(q)).toEqual(['AAPL:4', 'MSFT:2']);
  });

  it('a key taken by the consumer goes to the back when it returns', async () => {
    const q = new ConflatingQueue<Tick, string>({ key: (t) => t.symbol });
    q.offer(tick('A', 1));
    q.offer(tick('B', 1));
    expect((await q.next()).value).toEqual(tick('A', 1));
    q.offer(tick('A', 2));
    expect(await drain(q)).toEqual(['B:1', 'A:2']);
  });

  it('drops the stalest key beyond maxKeys by default', async () => {
    const dropped: Tick[] = [];
    const q = new ConflatingQueue<Tick, string>({
      key: (t) => t.symbol,
      maxKeys: 2,
      onDrop: (t) => dropped.push(t),
    });
    q.offer(tick('A', 1));
    q.offer(tick('B', 1));
    q.offer(tick('C', 1));
    expect(dropped).toEqual([tick('A', 1)]);
    expect(q.dropped).toBe(1);
    expect(await drain(q)).toEqual(['B:1', 'C:1']);
  });

  it("under 'wait' an update to a queued key never waits; a new key does", async () => {
    const q = new ConflatingQueue<Tick, string>({
      key: (t) => t.symbol,
      maxKeys: 1,
      overflow: 'wait',
    });
    await q.push(tick('A', 1));
    let newKeyIn = false;
    const pending = q.push(tick('B', 1)).then(() => {
      newKeyIn = true;
    });
    await q.push(tick('A', 2));
    expect(newKeyIn).toBe(false);
    expect((await q.next()).value).toEqual(tick('A', 2));
    await pending;
    expect(newKeyIn).toBe(true);
    expect(await drain(q)).toEqual(['B:1']);
  });
});
