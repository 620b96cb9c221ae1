/**
 * SluiceSocket against the real hub on node:http with a memory broker: exact resume after
 * dropped TCP connections and after a server restart, publish acks, presence, teardown.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryBroker, type MemoryBroker } from '../../src/broker/memory-broker.js';
import type { SluiceSocket } from '../../src/client/ws-client.js';
import type { Subscription } from '../../src/client/ws-client-subscription.js';
import { hubHarness, publishedSequence, recorder, type Recorder } from './ws-hub-helpers.js';
import { waitFor } from './ws-helpers.js';

const { hub, client, defer } = hubHarness();

function broker(): MemoryBroker {
  const b = createMemoryBroker({ historyLimit: 10_000 });
  defer(() => b.close());
  return b;
}

/** Three subscribers: JSON with a callback, MessagePack with a callback, JSON iterating. */
function subscribers(
  url: string,
  channel: string,
): { recorders: Recorder[]; subs: Subscription[] } {
  const recorders: Recorder[] = [];
  const subs: Subscription[] = [];
  for (const format of ['json', 'msgpack'] as const) {
    const r = recorder();
    subs.push(client(url, { format }).subscribe(channel, { onEvent: (item) => r.push(item) }));
    recorders.push(r);
  }
  const r = recorder();
  const sub = client(url).subscribe(channel);
  void (async () => {
    for await (const item of sub) r.push(item);
  })();
  subs.push(sub);
  recorders.push(r);
  return { recorders, subs };
}

async function publishMany(b: MemoryBroker, channel: string, from: number, count: number) {
  for (let n = from; n < from + count; n++) await b.publish(channel, { data: { n } });
}

async function expectExact(b: MemoryBroker, channel: string, recorders: Recorder[]) {
  const expected = await publishedSequence(b, channel);
  await waitFor(
    () => recorders.every((r) => r.events.length >= expected.length),
    `all subscribers to reach ${expected.length} events`,
    15_000,
  );
  for (const r of recorders) {
    expect(r.gaps).toEqual([]);
    expect(r.events).toEqual(expected);
  }
}

const subscribed = (subs: Subscription[]) =>
  waitFor(() => subs.every((s) => s.state === 'subscribed'), 'subscribed');

describe('SluiceSocket with the hub', () => {
  for (const format of ['json', 'msgpack'] as const) {
    it(`publishes with an acked id and receives it (${format})`, async () => {
      const b = broker();
      const h = await hub(b);
      const c = client(h.url, { format });
      const r = recorder();
      const sub = c.subscribe('room', { onEvent: (item) => r.push(item) });
      await subscribed([sub]);
      const { id } = await c.publish('room', { text: 'hi', list: [1, 2] }, { event: 'chat' });
      await waitFor(() => r.items.length === 1, 'the event');
      expect(r.items[0]).toEqual({
        type: 'event',
        channel: 'room',
        id,
        event: 'chat',
        data: { text: 'hi', list: [1, 2] },
      });
      expect(c.socket.protocol).toBe(`sluice.v1.${format}`);
      expect(c.clientId).toEqual(expect.any(String));
    });
  }

  it('restores subscriptions after dropped TCP connections: no loss, no duplicates', async () => {
    const b = broker();
    const h = await hub(b);
    const { recorders, subs } = subscribers(h.url, 'ticker');
    await subscribed(subs);
    await publishMany(b, 'ticker', 0, 100);
    h.cutAll();
    await publishMany(b, 'ticker', 100, 100); // while every subscriber is down
    await waitFor(() => h.sockets.size === 3, 'reconnects');
    const midStream = publishMany(b, 'ticker', 200, 200);
    h.cutAll();
    await midStream;
    await expectExact(b, 'ticker', recorders);
  });

  it('resumes a live subscription dropped before its first event: what came meanwhile arrives', async () => {
    const b = broker();
    const h = await hub(b);
    await publishMany(b, 'room', 0, 3); // before the subscription: not for it
    await publishMany(b, 'other', 0, 5); // other channels move the broker's positions on
    const { recorders, subs } = subscribers(h.url, 'room');
    await subscribed(subs);
    // The ack said where the live stream starts: that is the cursor before any event.
    const [latest] = (await b.history('room', { limit: 1 })).messages;
    for (const sub of subs) expect(sub.cursor).toBe(latest?.id);
    h.cutAll();
    await publishMany(b, 'room', 3, 4); // while every subscriber is down, none had an event
    await waitFor(() => h.sockets.size === 3, 'reconnects');
    await publishMany(b, 'room', 7, 3);
    await waitFor(() => recorders.every((r) => r.events.length === 7), 'seven events each');
    for (const r of recorders) {
      expect(r.gaps).toEqual([]);
      expect(r.events.map((e) => (e.data as { n: number }).n)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('subscribes again later when the server refused a subscribe as rate-limited', async () => {
    const b = broker();
    const h = await hub(b, { hub: { rateLimit: { messagesPerSecond: 5, burst: 4 } } });
    const c = client(h.url);
    const channels = ['a', 'b', 'c', 'd', 'e', 'f']; // in one burst: the last two are refused
    const recorders = channels.map(() => recorder());
    const subs = channels.map((channel, i) =>
      c.subscribe(channel, { onEvent: (item) => recorders[i]!.push(item) }),
    );
    await waitFor(() => h.hub.stats().rateLimited >= 2, 'two refused subscribes');
    await subscribed(subs); // all six, the refused ones after a delay
    for (const channel of channels) await b.publish(channel, { data: channel });
    await waitFor(() => recorders.every((r) => r.events.length === 1), 'one event per channel');
    expect(recorders.map((r) => r.events[0]?.data)).toEqual(channels);
    expect(subs.map((s) => s.state)).toEqual(channels.map(() => 'subscribed'));
  });

  it('answers next() calls made without awaiting, each with its own event, in order', async () => {
    const b = broker();
    const h = await hub(b);
    const sub = client(h.url).subscribe('pair');
    await subscribed([sub]);
    const iterator = sub[Symbol.asyncIterator]();
    const first = iterator.next();
    const second = iterator.next();
    await b.publish('pair', { data: 1 });
    await b.publish('pair', { data: 2 });
    const results = await Promise.all([first, second]);
    const data = results.map((r) =>
      r.done !== true && r.value.type === 'event' ? r.value.data : r,
    );
    expect(data).toEqual([1, 2]);
  });

  it('restores subscriptions after a server restart over the same broker', async () => {
    const b = broker();
    const first = await hub(b);
    const { recorders, subs } = subscribers(first.url, 'orders');
    await subscribed(subs);
    await publishMany(b, 'orders', 0, 50);
    await waitFor(() => recorders.every((r) => r.events.length === 50), 'first 50');
    await first.stop(); // hub closes with 1001 going away: clients keep retrying
    await publishMany(b, 'orders', 50, 50);
    const second = await hub(b, { port: first.port });
    await publishMany(b, 'orders', 100, 50);
    await expectExact(b, 'orders', recorders);
    expect(second.hub.stats().connections).toBe(3);
  });

  it('surfaces a gap when history no longer reaches the cursor, then continues', async () => {
    const b = createMemoryBroker({ historyLimit: 5 });
    defer(() => b.close());
    const h = await hub(b);
    const first = await b.publish('news', { data: 0 });
    for (let n = 1; n < 20; n++) await b.publish('news', { data: n });
    const r = recorder();
    const sub = client(h.url).subscribe('news', { since: first, onEvent: (item) => r.push(item) });
    const gaps: unknown[] = [];
    sub.addEventListener('gap', (event) => gaps.push(event.item));
    await waitFor(() => r.events.length === 5, 'the retained five');
    expect(r.items[0]).toMatchObject({ type: 'gap', reason: 'expired', requested: first });
    expect(gaps).toEqual([r.items[0]]);
    expect(r.events.map((e) => e.data)).toEqual([15, 16, 17, 18, 19]);
    expect(sub.cursor).toBe(r.events.at(-1)?.id);
  });

  it('tracks presence: snapshot, join, leave, and answers presence queries', async () => {
    const b = broker();
    const h = await hub(b);
    const watcher = client(h.url);
    const sub = watcher.subscribe('lobby', { presence: true });
    await subscribed([sub]);
    await waitFor(() => sub.members.length === 1, 'self in the snapshot');
    const other = client(h.url, { format: 'msgpack' });
    const otherSub = other.subscribe('lobby');
    await waitFor(() => sub.members.length === 2, 'join');
    const ids = (await watcher.presence('lobby')).map((m) => m.clientId).sort();
    expect(ids).toEqual([watcher.clientId, other.clientId].sort());
    otherSub.unsubscribe();
    await waitFor(() => sub.members.length === 1, 'leave');
    expect(sub.members[0]?.clientId).toBe(watcher.clientId);
  });

  it('leaves no connection or broker subscriber behind after close()', async () => {
    const b = broker();
    const h = await hub(b);
    const clients: SluiceSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const c = client(h.url, { heartbeat: { interval: 20, timeout: 200 } });
      c.subscribe('a');
      c.subscribe('b');
      clients.push(c);
    }
    await waitFor(() => h.hub.stats().subscriptions === 6, 'six subscriptions');
    for (const c of clients) c.close();
    await waitFor(() => b.stats().subscribers === 0 && h.hub.stats().connections === 0, 'teardown');
    for (const c of clients) expect(c.socket.state).toBe('closed');
  });
});
