import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { parseEventId } from '../../src/core/event-id.js';
import type { ContractContext } from './contract.js';
import {
  dataOf,
  iterate,
  stop,
  manualClock,
  nextItem,
  publishAll,
  range,
  take,
  uniqueChannel,
} from './contract-helpers.js';

/** Ids, live delivery, fan-out, teardown, close and input validation. */
export function liveContract(context: ContractContext): void {
  const { make, options } = context;

  describe('ids and messages', () => {
    it('issues unique ids of the form <epoch>:<position>, ordered as published', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const ids = await publishAll(broker, channel, range(0, 50));
      expect(new Set(ids).size).toBe(50);
      const epochs = new Set(ids.map((id) => parseEventId(id)?.epoch));
      expect(epochs.size).toBe(1);
      expect([...epochs][0]).toBeTypeOf('string');
      const { messages } = await broker.history(channel);
      expect(messages.map((m) => m.id)).toEqual(ids);
      expect(messages.map((m) => m.data)).toEqual(range(0, 50));
    });

    it('stores channel, data, event and the publish time from the clock', async () => {
      const clock = manualClock(1_800_000_000_000);
      const broker = await make({ now: clock.now });
      const channel = uniqueChannel();
      const id = await broker.publish(channel, { data: { a: [1, 'two'] }, event: 'update' });
      clock.advance(5);
      await broker.publish(channel, { data: null });
      const { messages } = await broker.history(channel);
      expect(messages[0]).toEqual({
        id,
        channel,
        data: { a: [1, 'two'] },
        event: 'update',
        time: 1_800_000_000_000,
      });
      expect(messages[1]?.event).toBeUndefined();
      expect(messages[1]?.time).toBe(1_800_000_000_005);
    });
  });

  describe('live delivery', () => {
    it('delivers messages published after subscribe(), in order', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const sub = iterate(broker.subscribe(channel));
      const ids = await publishAll(broker, channel, ['a', 'b', 'c']);
      const items = await take(sub, 3);
      expect(items.map((i) => (i.type === 'message' ? i.message.id : i.type))).toEqual(ids);
      await stop(sub);
    });

    it('counts the subscription from the subscribe() call, before iteration starts', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const subscription = broker.subscribe(channel);
      await broker.publish(channel, { data: 'early' });
      const sub = iterate(subscription);
      expect(dataOf(await take(sub, 1))).toEqual(['early']);
      await stop(sub);
    });

    it('replays nothing without a cursor', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      await publishAll(broker, channel, ['old1', 'old2']);
      const sub = iterate(broker.subscribe(channel));
      await broker.publish(channel, { data: 'new' });
      expect(dataOf(await take(sub, 1))).toEqual(['new']);
      await stop(sub);
    });

    it('fans out to every subscriber and keeps channels apart', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const other = uniqueChannel('other');
      const subs = [1, 2, 3].map(() => iterate(broker.subscribe(channel)));
      const otherSub = iterate(broker.subscribe(other));
      await publishAll(broker, channel, [1, 2]);
      await broker.publish(other, { data: 'elsewhere' });
      for (const sub of subs) expect(dataOf(await take(sub, 2))).toEqual([1, 2]);
      expect(dataOf(await take(otherSub, 1))).toEqual(['elsewhere']);
      await Promise.all([...subs, otherSub].map(stop));
    });
  });

  describe('teardown', () => {
    it('ends a subscription at once on return(), even with a next() pending', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const iterator = broker.subscribe(channel)[Symbol.asyncIterator]();
      const pending = iterator.next();
      await iterator.return?.();
      // Settled without any further message: the SSE stream ends subscriptions this way.
      await expect(pending).resolves.toEqual({ done: true, value: undefined });
      await broker.publish(channel, { data: 'after' });
      await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    });

    it('breaking out of for-await ends the subscription', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const seen: unknown[] = [];
      const consumer = (async () => {
        for await (const item of broker.subscribe(channel)) {
          if (item.type === 'message') seen.push(item.message.data);
          if (seen.length === 2) break;
        }
      })();
      await publishAll(broker, channel, [1, 2]);
      await consumer;
      await publishAll(broker, channel, [3]); // no listener left to receive it
      expect(seen).toEqual([1, 2]);
      if (options.subscriberCount) expect(await options.subscriberCount(broker, channel)).toBe(0);
    });

    it('aborting the signal ends a pending next() with done', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const controller = new AbortController();
      const sub = iterate(broker.subscribe(channel, { signal: controller.signal }));
      const pending = nextItem(sub, 'end after abort');
      controller.abort();
      expect((await pending).done).toBe(true);
      expect((await sub.next()).done).toBe(true);
      if (options.subscriberCount) expect(await options.subscriberCount(broker, channel)).toBe(0);
    });

    it('an already-aborted signal yields an ended subscription', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const sub = iterate(broker.subscribe(channel, { signal: AbortSignal.abort() }));
      await broker.publish(channel, { data: 'ignored' });
      expect((await nextItem(sub)).done).toBe(true);
    });
  });

  describe('close()', () => {
    it('ends subscriptions and presence streams, and rejects later calls', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const sub = iterate(broker.subscribe(channel));
      const watcher = iterate(broker.presence(channel));
      const pendingSub = nextItem(sub, 'end after close');
      const pendingWatch = nextItem(watcher, 'presence end after close');
      await broker.close();
      expect((await pendingSub).done).toBe(true);
      expect((await pendingWatch).done).toBe(true);
      await expect(broker.publish(channel, { data: 1 })).rejects.toSatisfy((error: unknown) =>
        isSluiceError(error, 'broker_closed'),
      );
      await expect(broker.history(channel)).rejects.toSatisfy((error: unknown) =>
        isSluiceError(error, 'broker_closed'),
      );
      await expect(broker.join(channel, { clientId: 'x' })).rejects.toSatisfy((error: unknown) =>
        isSluiceError(error, 'broker_closed'),
      );
      await broker.close(); // idempotent
    });

    it('a subscription opened after close() fails with broker_closed', async () => {
      const broker = await make();
      await broker.close();
      const sub = iterate(broker.subscribe(uniqueChannel()));
      await expect(sub.next()).rejects.toSatisfy((error: unknown) =>
        isSluiceError(error, 'broker_closed'),
      );
    });
  });

  describe('validation', () => {
    it('refuses invalid channel names with invalid_channel', async () => {
      const broker = await make();
      const isInvalid = (error: unknown) => isSluiceError(error, 'invalid_channel');
      for (const bad of ['', 'has space', 'new\nline', 'x'.repeat(129)]) {
        await expect(broker.publish(bad, { data: 1 })).rejects.toSatisfy(isInvalid);
        await expect(broker.history(bad)).rejects.toSatisfy(isInvalid);
        await expect(broker.join(bad, { clientId: 'a' })).rejects.toSatisfy(isInvalid);
        expect(() => broker.subscribe(bad)).toThrow(
          expect.objectContaining({ code: 'invalid_channel' }),
        );
      }
    });
  });
}
