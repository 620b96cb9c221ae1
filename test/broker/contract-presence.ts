import { describe, expect, it } from 'vitest';
import type { PresenceChange } from '../../src/broker/index.js';
import type { ContractContext } from './contract.js';
import { iterate, nextItem, take, uniqueChannel } from './contract-helpers.js';

const ids = (members: { clientId: string }[]) => members.map((m) => m.clientId).sort();

/**
 * Presence: members keyed by clientId and reference-counted per connection — a client
 * joined twice (two tabs) is listed once, `join` is announced on its first connection and
 * `leave` only when its last one leaves. A leave without a join to drop does nothing.
 */
export function presenceContract(context: ContractContext): void {
  const { make } = context;

  describe('presence', () => {
    it('lists joined members with their info, and forgets them on leave', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      await broker.join(channel, { clientId: 'a', info: { name: 'Ada' } });
      await broker.join(channel, { clientId: 'b' });
      const members = await broker.members(channel);
      expect(ids(members)).toEqual(['a', 'b']);
      expect(members.find((m) => m.clientId === 'a')?.info).toEqual({ name: 'Ada' });
      await broker.leave(channel, 'a');
      expect(ids(await broker.members(channel))).toEqual(['b']);
      await broker.leave(channel, 'b');
      expect(await broker.members(channel)).toEqual([]);
    });

    it('keeps channels apart', async () => {
      const broker = await make();
      const one = uniqueChannel();
      const two = uniqueChannel();
      await broker.join(one, { clientId: 'a' });
      expect(await broker.members(two)).toEqual([]);
    });

    it('counts joins per clientId; a leave without a join does nothing', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      await broker.leave(channel, 'a'); // never joined: no negative count
      await broker.join(channel, { clientId: 'a' });
      await broker.join(channel, { clientId: 'a' });
      await broker.join(channel, { clientId: 'a' });
      expect(ids(await broker.members(channel))).toEqual(['a']);
      await broker.leave(channel, 'a');
      await broker.leave(channel, 'a');
      expect(ids(await broker.members(channel))).toEqual(['a']);
      await broker.leave(channel, 'a');
      expect(await broker.members(channel)).toEqual([]);
      await broker.leave(channel, 'a'); // already gone
      await broker.join(channel, { clientId: 'a' });
      expect(ids(await broker.members(channel))).toEqual(['a']);
      await broker.leave(channel, 'a');
      expect(await broker.members(channel)).toEqual([]);
    });

    it('leaving after close() is harmless', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      await broker.join(channel, { clientId: 'a' });
      await broker.close();
      await expect(broker.leave(channel, 'a')).resolves.toBeUndefined();
    });

    it('streams join and leave changes, once per client', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const controller = new AbortController();
      const watcher = iterate(broker.presence(channel, { signal: controller.signal }));
      await broker.join(channel, { clientId: 'a', info: 1 });
      await broker.join(channel, { clientId: 'a', info: 2 });
      await broker.join(channel, { clientId: 'b' });
      await broker.leave(channel, 'a');
      await broker.leave(channel, 'b');
      await broker.leave(channel, 'a');
      const changes = await take(watcher, 4);
      const summary = changes.map((c: PresenceChange) => `${c.type}:${c.member.clientId}`);
      expect(summary).toEqual(['join:a', 'join:b', 'leave:b', 'leave:a']);
      expect(changes.every((c) => c.channel === channel)).toBe(true);
      controller.abort();
      expect((await nextItem(watcher)).done).toBe(true);
    });

    it('a presence stream ends when the consumer breaks out', async () => {
      const broker = await make();
      const channel = uniqueChannel();
      const seen: string[] = [];
      const consumer = (async () => {
        for await (const change of broker.presence(channel)) {
          seen.push(change.member.clientId);
          break;
        }
      })();
      await broker.join(channel, { clientId: 'z' });
      await consumer;
      await broker.join(channel, { clientId: 'y' });
      expect(seen).toEqual(['z']);
    });
  });
}
