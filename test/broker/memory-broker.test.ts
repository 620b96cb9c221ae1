import { describe, expect, it } from 'vitest';
import {
  createMemoryBroker,
  MEMORY_BROKER_DEFAULTS,
  MemoryBroker,
  type Broker,
} from '../../src/broker/index.js';
import { isSluiceError } from '../../src/core/errors.js';
import { brokerContract } from './contract.js';
import {
  dataOf,
  gapsOf,
  iterate,
  stop,
  manualClock,
  messagesOf,
  nextItem,
  publishAll,
  range,
  take,
  takeUntil,
} from './contract-helpers.js';

const stats = (broker: Broker) => (broker as MemoryBroker).stats();

brokerContract('memory', (options) => createMemoryBroker(options), {
  subscriberCount: (broker) => stats(broker).subscribers,
});

describe('MemoryBroker', () => {
  it('publishSync stores and queues the message before it returns, and throws once closed', async () => {
    const broker = createMemoryBroker();
    const subscription = broker.subscribe('sync')[Symbol.asyncIterator]();
    const id = broker.publishSync('sync', { data: 'now', event: 'e' });
    expect(stats(broker).queuedMessages).toBe(1);
    expect((await broker.history('sync')).messages.map((m) => [m.id, m.data])).toEqual([
      [id, 'now'],
    ]);
    const first = await subscription.next();
    expect(first.done === false && first.value.type === 'message' && first.value.message.id).toBe(
      id,
    );
    expect(() => broker.publishSync('bad name!', { data: 1 })).toThrow(/channel/i);
    await broker.close();
    let thrown: unknown;
    try {
      broker.publishSync('sync', { data: 'late' });
    } catch (error) {
      thrown = error;
    }
    expect(isSluiceError(thrown) && thrown.code).toBe('broker_closed');
  });

  it('channelCursor: where a channel stands, so a resume from it misses nothing after', async () => {
    const broker = createMemoryBroker();
    await broker.publish('elsewhere', { data: 0 });
    const empty = broker.channelCursor('quiet');
    const ids = [];
    for (const n of [1, 2]) ids.push(await broker.publish('room', { data: n }));
    const cursor = broker.channelCursor('room');
    expect(cursor).toBe(ids[1]);
    await broker.publish('elsewhere', { data: 1 });
    await broker.publish('room', { data: 3 });
    await broker.publish('quiet', { data: 'first' });
    // Resuming from either cursor yields exactly what came after it, with no gap.
    const room = await broker.history('room', { since: cursor });
    expect([room.gap, room.messages.map((m) => m.data)]).toEqual([undefined, [3]]);
    const quiet = await broker.history('quiet', { since: empty });
    expect(quiet.gap?.reason).toBe('expired'); // the channel did not exist then: said, not hidden
    expect(quiet.messages.map((m) => m.data)).toEqual(['first']);
    expect(() => broker.channelCursor('bad name!')).toThrow(/channel/i);
    await broker.close();
    expect(() => broker.channelCursor('room')).toThrow(/closed/i);
  });

  it('exports frozen defaults', () => {
    expect(Object.isFrozen(MEMORY_BROKER_DEFAULTS)).toBe(true);
    expect(MEMORY_BROKER_DEFAULTS.overflow).toBe('resync');
  });

  it('uses the injected epoch and increasing decimal positions', async () => {
    const broker = createMemoryBroker({ epoch: 'e1' });
    expect(broker.epoch).toBe('e1');
    expect(await publishAll(broker, 'a', [1, 2])).toEqual(['e1:1', 'e1:2']);
    expect(await broker.publish('b', { data: 3 })).toBe('e1:3');
    await broker.close();
  });

  it('refuses unusable options with invalid_argument', () => {
    const bad = (options: object) => () => createMemoryBroker(options);
    const invalid = expect.objectContaining({ code: 'invalid_argument' }) as unknown;
    expect(bad({ historyLimit: -1 })).toThrow(invalid);
    expect(bad({ subscriberQueueLimit: 0 })).toThrow(invalid);
    expect(bad({ maxChannels: 1.5 })).toThrow(invalid);
    expect(bad({ overflow: 'drop' })).toThrow(invalid);
    expect(bad({ epoch: 'has:colon' })).toThrow(RangeError);
  });

  describe('overflow policies', () => {
    it('resync: a stalled subscriber stays bounded and resumes from history without loss', async () => {
      const broker = createMemoryBroker({ historyLimit: 1000 });
      const sub = iterate(broker.subscribe('feed', { queueLimit: 10 }));
      await publishAll(broker, 'feed', range(0, 500)); // fits in history, not in the queue
      expect(stats(broker).queuedMessages).toBeLessThanOrEqual(10);
      const items = await takeUntil(sub, (m) => m.data === 499);
      expect(gapsOf(items)).toEqual([]);
      expect(dataOf(items)).toEqual(range(0, 500));
      await stop(sub);
      await broker.close();
    });

    it('resync: 100k messages to a subscriber that never reads, then an overflow gap', async () => {
      const broker = createMemoryBroker({ historyLimit: 1000 });
      const queueLimit = 64;
      const sub = iterate(broker.subscribe('firehose', { queueLimit }));
      for (let i = 0; i < 100_000; i++) await broker.publish('firehose', { data: i });
      const during = stats(broker);
      expect(during.queuedMessages).toBeLessThanOrEqual(queueLimit);
      expect(during.retainedMessages).toBe(1000);
      const sentinel = await broker.publish('firehose', { data: 'sentinel' });
      const items = await takeUntil(sub, (m) => m.id === sentinel);
      const [gap] = gapsOf(items);
      expect(gap).toMatchObject({ type: 'gap', reason: 'overflow' });
      expect(items[0]?.type).toBe('gap');
      // The gap names where the stream resumes: right before the first message that follows.
      const firstAfter = messagesOf(items)[0]!;
      expect(gap?.resumeAfter).toBe(`${broker.epoch}:${Number(firstAfter.id.split(':')[1]) - 1}`);
      const delivered = dataOf(items);
      expect(delivered.length).toBeLessThanOrEqual(1000 + queueLimit + 1);
      expect(delivered.slice(-3)).toEqual([99_998, 99_999, 'sentinel']);
      const numbers = delivered.slice(0, -1) as number[];
      expect(numbers).toEqual(range(numbers[0]!, 100_000)); // contiguous once resumed
      await stop(sub);
      expect(stats(broker).subscribers).toBe(0);
      await broker.close();
    });

    it('resync with history disabled: an overflow gap, the newest messages, then live', async () => {
      const broker = createMemoryBroker({ historyLimit: 0 });
      const sub = iterate(broker.subscribe('live', { queueLimit: 4 }));
      await publishAll(broker, 'live', range(0, 20));
      const [gap] = await take(sub, 1);
      expect(gap).toMatchObject({
        type: 'gap',
        reason: 'overflow',
        resumeAfter: `${broker.epoch}:16`,
      });
      // The queue kept the message that overflowed it and what came after: the latest state.
      expect(dataOf(await take(sub, 4))).toEqual([16, 17, 18, 19]);
      await broker.publish('live', { data: 'after' });
      expect(dataOf(await take(sub, 1))).toEqual(['after']);
      await broker.close();
    });

    it('a replay that outlives history gets an expired gap mid-way, then continues', async () => {
      const clock = manualClock();
      const broker = createMemoryBroker({ historyMaxAge: 100, now: clock.now, epoch: 'e' });
      const ids = await publishAll(broker, 'slow', ['a', 'b']);
      clock.advance(50);
      await publishAll(broker, 'slow', ['c', 'd']);
      const sub = iterate(broker.subscribe('slow', { since: ids[0]! }));
      expect(dataOf(await take(sub, 1))).toEqual(['b']);
      clock.advance(60); // 'a' and 'b' age out while the reader is at 'b': nothing lost yet
      expect(dataOf(await take(sub, 1))).toEqual(['c']);
      clock.advance(50); // 'c' and 'd' age out before 'd' was read
      await broker.publish('slow', { data: 'e' });
      const items = await take(sub, 2);
      expect(items[0]).toMatchObject({ type: 'gap', reason: 'expired', requested: 'e:3' });
      expect(dataOf(items)).toEqual(['e']);
      await stop(sub);
      await broker.close();
    });

    it('error: the subscriber fails with slow_consumer and is removed', async () => {
      const broker = createMemoryBroker({ overflow: 'error', subscriberQueueLimit: 5 });
      const sub = iterate(broker.subscribe('c'));
      await publishAll(broker, 'c', range(0, 6));
      expect(stats(broker).subscribers).toBe(0);
      expect(stats(broker).queuedMessages).toBe(0);
      await expect(sub.next()).rejects.toSatisfy(
        (error: unknown) =>
          isSluiceError(error, 'slow_consumer') && error.details?.['channel'] === 'c',
      );
      expect((await sub.next()).done).toBe(true);
      await broker.close();
    });

    it('presence watchers fail with slow_consumer past their queue limit', async () => {
      const broker = createMemoryBroker({ presenceQueueLimit: 2 });
      const watcher = iterate(broker.presence('room'));
      for (const clientId of ['a', 'b', 'c']) await broker.join('room', { clientId });
      expect(stats(broker).presenceWatchers).toBe(0);
      await expect(watcher.next()).rejects.toSatisfy((error: unknown) =>
        isSluiceError(error, 'slow_consumer'),
      );
      await broker.close();
    });
  });

  describe('stats and cleanup', () => {
    it('counts subscribers and returns to zero after every kind of teardown', async () => {
      const broker = createMemoryBroker();
      const controller = new AbortController();
      const a = iterate(broker.subscribe('x'));
      const b = iterate(broker.subscribe('x', { signal: controller.signal }));
      const c = iterate(broker.subscribe('y'));
      expect(stats(broker)).toMatchObject({ channels: 2, subscribers: 3 });
      await stop(a);
      controller.abort();
      expect(stats(broker)).toMatchObject({ subscribers: 1 });
      await broker.close();
      expect(stats(broker)).toMatchObject({ channels: 0, subscribers: 0 });
      expect((await nextItem(c)).done).toBe(true);
      expect((await b.next()).done).toBe(true);
    });

    it('presence state follows members and watchers, then disappears', async () => {
      const broker = createMemoryBroker();
      const controller = new AbortController();
      const watcher = iterate(broker.presence('room', { signal: controller.signal }));
      await broker.join('room', { clientId: 'a' });
      await broker.join('room', { clientId: 'a' });
      expect(stats(broker)).toMatchObject({
        presenceChannels: 1,
        presenceMembers: 1,
        presenceWatchers: 1,
      });
      await broker.leave('room', 'a');
      await broker.leave('room', 'a');
      controller.abort();
      expect(stats(broker)).toMatchObject({
        presenceChannels: 0,
        presenceMembers: 0,
        presenceWatchers: 0,
      });
      expect((await watcher.next()).done).toBe(true); // aborted: queued changes went with it
      await broker.close();
    });

    it('refuses bad subscribe and history options at the call', async () => {
      const broker = createMemoryBroker();
      const invalid = expect.objectContaining({ code: 'invalid_argument' }) as unknown as Error;
      expect(() => broker.subscribe('c', { queueLimit: 0 })).toThrow(invalid);
      expect(() => broker.presence('c', { queueLimit: -1 })).toThrow(invalid);
      await expect(broker.history('c', { limit: -1 })).rejects.toThrow(invalid);
      expect(stats(broker).channels).toBe(0);
      await broker.close();
    });

    it('forgets a channel with no subscribers and no history', async () => {
      const broker = createMemoryBroker();
      const sub = iterate(broker.subscribe('empty'));
      expect(stats(broker).channels).toBe(1);
      await stop(sub);
      expect(stats(broker).channels).toBe(0);
      await broker.history('never-used');
      expect(stats(broker).channels).toBe(0);
      await broker.close();
    });

    it('sweeps idle channels whose history aged out, without timers', async () => {
      const clock = manualClock();
      const broker = createMemoryBroker({ historyMaxAge: 1000, now: clock.now });
      for (const name of range(0, 100)) await broker.publish(`user.${name}`, { data: name });
      const kept = iterate(broker.subscribe('user.7'));
      expect(stats(broker)).toMatchObject({ channels: 100, retainedMessages: 100 });
      clock.advance(1000);
      expect(stats(broker)).toMatchObject({ channels: 1, subscribers: 1, retainedMessages: 0 });
      await stop(kept);
      expect(stats(broker).channels).toBe(0);
      await broker.close();
    });

    it('caps channels at maxChannels, evicting the least recently active idle one', async () => {
      const broker = createMemoryBroker({ maxChannels: 3, epoch: 'e' });
      const [firstA] = await publishAll(broker, 'a', [1]);
      await publishAll(broker, 'b', [2]);
      const live = iterate(broker.subscribe('c'));
      await publishAll(broker, 'a', [3]); // 'a' is now more recent than 'b'
      await publishAll(broker, 'd', [4]); // evicts 'b'
      expect(stats(broker).channels).toBe(3);
      expect((await broker.history('b')).messages).toEqual([]);
      expect((await broker.history('a')).messages.map((m) => m.data)).toEqual([1, 3]);
      await publishAll(broker, 'e', [5]); // evicts 'a' ('c' has a subscriber)
      const resumed = await broker.history('a', { since: firstA! });
      expect(resumed.gap?.reason).toBe('expired');
      await stop(live);
      await broker.close();
    });

    it('a recreated channel treats cursors from its forgotten lifetime as expired', async () => {
      const clock = manualClock();
      const broker = createMemoryBroker({ historyMaxAge: 10, now: clock.now });
      const [old] = await publishAll(broker, 'gone', ['x']);
      await broker.publish('elsewhere', { data: 'keeps the counter moving' });
      clock.advance(10);
      expect(stats(broker).channels).toBe(0);
      const sub = iterate(broker.subscribe('gone', { since: old! }));
      expect((await take(sub, 1))[0]).toMatchObject({ type: 'gap', reason: 'expired' });
      await broker.close();
    });

    it('a quiet channel whose only history aged out still resumes without a gap at its last id', async () => {
      const clock = manualClock();
      const broker = createMemoryBroker({ historyMaxAge: 10, now: clock.now });
      const [last] = await publishAll(broker, 'quiet', ['x']);
      clock.advance(10);
      expect(stats(broker).channels).toBe(0);
      const sub = iterate(broker.subscribe('quiet', { since: last! }));
      await broker.publish('quiet', { data: 'next' });
      expect(await take(sub, 1)).toMatchObject([{ type: 'message', message: { data: 'next' } }]);
      await broker.close();
    });
  });
});

describe('MemoryBroker cursor input', () => {
  it('a since that is not a string is refused with invalid_argument (subscribe and history)', async () => {
    const broker = createMemoryBroker();
    await broker.publish('typed', { data: 1 });
    const since = 1 as unknown as string;
    let thrown: unknown;
    try {
      broker.subscribe('typed', { since });
    } catch (error) {
      thrown = error;
    }
    expect(isSluiceError(thrown) && thrown.code).toBe('invalid_argument');
    await expect(broker.history('typed', { since })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect(stats(broker).subscribers).toBe(0);
    await broker.close();
  });
});

describe('MemoryBroker presence input', () => {
  it('join without a member object is refused with invalid_argument', async () => {
    const broker = createMemoryBroker();
    await expect(
      broker.join('room', null as unknown as { clientId: string }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await broker.members('room')).toEqual([]);
    await broker.close();
  });
});
