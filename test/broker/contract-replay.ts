import { describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage, GapReason, SubscriptionItem } from '../../src/broker/index.js';
import type { ContractContext } from './contract.js';
import {
  dataOf,
  gapsOf,
  iterate,
  stop,
  manualClock,
  messagesOf,
  publishAll,
  range,
  take,
  takeUntil,
  tick,
  uniqueChannel,
  withOtherEpoch,
} from './contract-helpers.js';

/**
 * Subscribes with `since` and reads `count` items; then proves nothing else was pending:
 * the next item is a sentinel published afterwards (no waiting for "nothing arrives").
 */
async function resume(
  broker: Broker,
  channel: string,
  since: string,
  count: number,
): Promise<SubscriptionItem[]> {
  const sub = iterate(broker.subscribe(channel, { since }));
  const items = await take(sub, count);
  await expectOnlySentinelNext(broker, channel, sub);
  return items;
}

async function expectOnlySentinelNext(
  broker: Broker,
  channel: string,
  sub: AsyncIterator<SubscriptionItem>,
): Promise<void> {
  const sentinel = await broker.publish(channel, { data: 'sentinel' });
  expect(await take(sub, 1)).toMatchObject([{ type: 'message', message: { id: sentinel } }]);
  await stop(sub);
}

/** A gap first, with the documented fields, then history from where it says it resumes. */
async function expectGap(
  broker: Broker,
  channel: string,
  since: string,
  reason: GapReason,
): Promise<SubscriptionItem[]> {
  const retained = (await broker.history(channel)).messages;
  const sub = iterate(broker.subscribe(channel, { since }));
  const [gap] = await take(sub, 1);
  expect(gap).toMatchObject({ type: 'gap', channel, reason, requested: since });
  const resumeAfter = gap?.type === 'gap' ? gap.resumeAfter : undefined;
  // Non-null: a cursor honoured without a gap, and the replay is exactly what follows it.
  // Null: the replay is everything retained.
  let expected = retained;
  if (resumeAfter !== null && resumeAfter !== undefined) {
    const after = await broker.history(channel, { since: resumeAfter });
    expect(after.gap).toBeUndefined();
    expected = after.messages;
  }
  const items = await take(sub, expected.length);
  expect(messagesOf(items)).toEqual(expected);
  await expectOnlySentinelNext(broker, channel, sub);
  return [gap!, ...items];
}

/** Resume from a cursor, history and gaps, and the replay-to-live boundary under load. */
export function replayContract(context: ContractContext): void {
  const { make } = context;

  describe('resume with since', () => {
    it('replays exactly the messages after the cursor, then goes live', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, range(0, 10));
      const sub = iterate(broker.subscribe(channel, { since: ids[3]! }));
      expect(dataOf(await take(sub, 6))).toEqual(range(4, 10));
      await broker.publish(channel, { data: 'live' });
      expect(dataOf(await take(sub, 1))).toEqual(['live']);
      await stop(sub);
    });

    it('a cursor at the latest id replays nothing and signals no gap', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, [1, 2, 3]);
      expect(await resume(broker, channel, ids[2]!, 0)).toEqual([]);
    });

    it('a cursor at the oldest id replays the rest without a gap', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, [1, 2, 3]);
      const items = await resume(broker, channel, ids[0]!, 2);
      expect(items.map((i) => i.type)).toEqual(['message', 'message']);
      expect(dataOf(items)).toEqual([2, 3]);
    });
  });

  describe('history()', () => {
    it('returns everything retained, the newest `limit`, or a page after `since`', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, range(0, 8));
      expect((await broker.history(channel)).messages.map((m) => m.data)).toEqual(range(0, 8));
      expect((await broker.history(channel, { limit: 3 })).messages.map((m) => m.data)).toEqual([
        5, 6, 7,
      ]);
      const page = await broker.history(channel, { since: ids[1]!, limit: 3 });
      expect(page.messages.map((m) => m.data)).toEqual([2, 3, 4]);
      expect(page.gap).toBeUndefined();
      const rest = await broker.history(channel, { since: ids[7]! });
      expect(rest).toEqual({ messages: [] });
    });

    it('is empty for a channel nobody published to', async () => {
      const broker = await make();
      expect((await broker.history(uniqueChannel())).messages).toEqual([]);
    });

    it('trims by count (historyLimit)', async () => {
      const broker = await make({ historyLimit: 3 });
      const channel = uniqueChannel();
      await publishAll(broker, channel, range(0, 10));
      expect((await broker.history(channel)).messages.map((m) => m.data)).toEqual([7, 8, 9]);
    });

    it('trims by age (historyMaxAge, injected clock)', async () => {
      const clock = manualClock();
      const broker = await make({ historyMaxAge: 1000, now: clock.now });
      const channel = uniqueChannel();
      await publishAll(broker, channel, ['a', 'b']);
      clock.advance(600);
      await publishAll(broker, channel, ['c']);
      clock.advance(500); // a and b are now 1100 ms old, c 500 ms
      expect((await broker.history(channel)).messages.map((m) => m.data)).toEqual(['c']);
      clock.advance(500);
      expect((await broker.history(channel)).messages).toEqual([]);
    });

    it('reports a gap for a cursor it cannot honour', async () => {
      const broker = await make({ historyLimit: 2 });
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, range(0, 5));
      const result = await broker.history(channel, { since: ids[0]! });
      expect(result.gap).toMatchObject({
        type: 'gap',
        channel,
        reason: 'expired',
        requested: ids[0],
      });
      expect(result.messages.map((m) => m.data)).toEqual([3, 4]);
      expect((await broker.history(channel, { since: 'not-an-id' })).gap?.reason).toBe('invalid');
    });
  });

  describe('gaps', () => {
    it('expired: the cursor is older than what count trimming kept', async () => {
      const broker = await make({ historyLimit: 3 });
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, range(0, 10));
      const items = await expectGap(broker, channel, ids[2]!, 'expired');
      expect(dataOf(items)).toEqual([7, 8, 9]);
    });

    it('no gap when the cursor is the last trimmed message (nothing was lost)', async () => {
      const broker = await make({ historyLimit: 3 });
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, range(0, 10));
      const items = await resume(broker, channel, ids[6]!, 3);
      expect(items.map((i) => i.type)).toEqual(['message', 'message', 'message']);
      expect(dataOf(items)).toEqual([7, 8, 9]);
    });

    it('expired: the cursor aged out (injected clock)', async () => {
      const clock = manualClock();
      const broker = await make({ historyMaxAge: 1000, now: clock.now });
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, ['a', 'b']);
      clock.advance(800);
      await publishAll(broker, channel, ['c']);
      clock.advance(300);
      const items = await expectGap(broker, channel, ids[0]!, 'expired');
      expect(dataOf(items)).toEqual(['c']);
    });

    it('epoch: the cursor names another epoch', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, [1, 2]);
      const items = await expectGap(broker, channel, withOtherEpoch(ids[0]!), 'epoch');
      expect(dataOf(items)).toEqual([1, 2]);
    });

    it('epoch: the cursor comes from before a restart', async () => {
      const before = await make({ epoch: 'lifetime1' });
      const channel = uniqueChannel();
      const [oldId] = await publishAll(before, channel, ['before']);
      await before.close();
      const after = await make({ epoch: 'lifetime2' });
      await publishAll(after, channel, ['after']);
      const items = await expectGap(after, channel, oldId!, 'epoch');
      expect(dataOf(items)).toContain('after');
    });

    it('invalid: unparsable cursors', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      await publishAll(broker, channel, [1]);
      for (const bad of ['garbage', '', ':', 'a:b:c', '\u0000']) {
        const items = await expectGap(broker, channel, bad, 'invalid');
        expect(dataOf(items)[0]).toBe(1);
      }
    });

    it('invalid: a position beyond the last one issued', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const [id] = await publishAll(broker, channel, [1]);
      const epoch = id!.slice(0, id!.indexOf(':'));
      await expectGap(broker, channel, `${epoch}:999999999`, 'invalid');
    });
    it("invalid: an id another channel issued, inside this channel's range, skips nothing", async () => {
      const broker = await make();
      const [a, b] = [uniqueChannel(), uniqueChannel()];
      await publishAll(broker, b, ['b1']);
      const [fromA] = await publishAll(broker, a, ['a1']); // between b1 and b2
      await publishAll(broker, b, ['b2']);
      const items = await expectGap(broker, b, fromA!, 'invalid');
      expect(dataOf(items)).toEqual(['b1', 'b2']); // b1 is not lost behind a's id
    });
  });

  describe('replay to live boundary', () => {
    it('neither loses nor repeats while a publisher runs in a tight loop', async () => {
      const broker = await make({ historyLimit: 5000 });
      const channel = uniqueChannel();
      const total = 2000;
      const isLast = (message: BrokerMessage) => message.data === total - 1;
      const ids: string[] = [];
      const readers: Promise<SubscriptionItem[]>[] = [];
      const starts: number[] = [];
      for (let i = 0; i < total; i++) {
        ids.push(await broker.publish(channel, { data: i }));
        if (i % 97 === 0) await tick(); // let the readers run mid-stream
        if (i === 250 || i === 900 || i === 1500) {
          starts.push(i - 100);
          const sub = iterate(broker.subscribe(channel, { since: ids[i - 100]! }));
          readers.push(takeUntil(sub, isLast).finally(() => stop(sub)));
        }
      }
      const results = await Promise.all(readers);
      results.forEach((items, k) => {
        expect(gapsOf(items)).toEqual([]);
        expect(dataOf(items)).toEqual(range(starts[k]! + 1, total));
      });
    });

    it('neither loses nor repeats when the reader starts late and reads concurrently', async () => {
      const broker = await make({ historyLimit: 5000 });
      const channel = uniqueChannel();
      const first = await publishAll(broker, channel, range(0, 100));
      const sub = iterate(broker.subscribe(channel, { since: first[49]! }));
      const publisher = (async () => {
        for (let i = 100; i < 1100; i++) {
          await broker.publish(channel, { data: i });
          if (i % 10 === 0) await tick();
        }
      })();
      // The subscription already holds messages 50..99 in replay and more arrive live.
      const items = await takeUntil(sub, (message) => message.data === 1099);
      await publisher;
      expect(gapsOf(items)).toEqual([]);
      expect(dataOf(items)).toEqual(range(50, 1100));
      await stop(sub);
    });
  });
}
