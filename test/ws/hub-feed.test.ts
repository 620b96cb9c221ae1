/**
 * The hub's shared stream per channel: connections that follow a channel live share one
 * broker subscription; a replaying (`since`) or full connection reads its own stream and
 * joins the shared one again once caught up, without loss or duplicates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EventMessage } from '../../src/ws/protocol.js';
import { TestClient, eventually, startHub, type HubFixture } from './helpers.js';

let fixture: HubFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function eventIds(client: TestClient): string[] {
  return client.inbox.filter((m): m is EventMessage => m.type === 'event').map((m) => m.id);
}

async function publishMany(hub: HubFixture, channel: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await hub.broker.publish(channel, { data: i }));
  return ids;
}

describe('shared channel stream', () => {
  it('one broker subscriber per channel for all live connections; the last one out ends it', async () => {
    fixture = await startHub();
    const hub = fixture;
    const clients = await Promise.all([1, 2, 3, 4].map(() => TestClient.connect(hub.url)));
    for (const client of clients) await client.request({ type: 'subscribe', channel: 'c', rid: 1 });
    expect(hub.broker.stats().subscribers).toBe(1);
    const ids = await publishMany(hub, 'c', 20);
    for (const client of clients) {
      await eventually(() => eventIds(client).length === ids.length);
      expect(eventIds(client)).toEqual(ids);
    }
    await clients[0]!.request({ type: 'unsubscribe', channel: 'c', rid: 2 });
    await clients[1]!.close();
    expect(hub.broker.stats().subscribers).toBe(1);
    await clients[2]!.request({ type: 'unsubscribe', channel: 'c', rid: 2 });
    await clients[3]!.close();
    await eventually(() => hub.broker.stats().subscribers === 0);
    expect(hub.hub.stats().subscriptions).toBe(0);
  });

  it('a `since` subscription replays on its own, then joins the shared stream: no loss, no duplicates', async () => {
    fixture = await startHub({}, { historyLimit: 10_000 });
    const hub = fixture;
    const live = await TestClient.connect(hub.url);
    await live.request({ type: 'subscribe', channel: 'c', rid: 1 });
    const before = await publishMany(hub, 'c', 50);
    const resuming = await TestClient.connect(hub.url);
    // Publishing goes on while the resuming client replays and hands over.
    const during = publishMany(hub, 'c', 200);
    await resuming.request({ type: 'subscribe', channel: 'c', since: before[9]!, rid: 1 });
    const all = [...before, ...(await during)];
    await eventually(() => eventIds(resuming).length >= all.length - 10);
    await eventually(() => hub.broker.stats().subscribers === 1); // back on the shared stream
    const after = await publishMany(hub, 'c', 20);
    const expected = [...all.slice(10), ...after];
    await eventually(() => eventIds(resuming).length === expected.length);
    expect(eventIds(resuming)).toEqual(expected);
    await eventually(() => eventIds(live).length === all.length + after.length);
    expect(eventIds(live)).toEqual([...all, ...after]);
  });

  it('a full `disconnect` connection waits on its own stream and rejoins once it drained', async () => {
    fixture = await startHub(
      { maxBufferedBytes: 64 * 1024, slowConsumerTimeout: 30_000 },
      { historyLimit: 10_000 },
    );
    const hub = fixture;
    const fast = await TestClient.connect(hub.url);
    const slow = await TestClient.connect(hub.url);
    await fast.request({ type: 'subscribe', channel: 'c', rid: 1 });
    await slow.request({ type: 'subscribe', channel: 'c', rid: 1 });
    slow.ws.pause();
    const pad = 'x'.repeat(8 * 1024);
    const ids: string[] = [];
    // Until the slow one is full: it then reads its own broker stream (two subscribers).
    for (let i = 0; i < 2000 && hub.broker.stats().subscribers < 2; i++) {
      ids.push(await hub.broker.publish('c', { data: { i, pad } }));
      await yieldToIo();
    }
    expect(hub.broker.stats().subscribers).toBe(2);
    for (let i = 0; i < 20; i++) ids.push(await hub.broker.publish('c', { data: { i, pad } }));
    slow.ws.resume();
    await eventually(() => eventIds(slow).length === ids.length);
    await eventually(() => hub.broker.stats().subscribers === 1);
    ids.push(...(await publishMany(hub, 'c', 5)));
    await eventually(() => eventIds(slow).length === ids.length);
    expect(eventIds(slow)).toEqual(ids);
    await eventually(() => eventIds(fast).length === ids.length);
    expect(eventIds(fast)).toEqual(ids);
    expect(hub.hub.stats().slowConsumerDisconnects).toBe(0);
  });
});

describe('control messages during a slow-consumer grace period', () => {
  it('a ping from a client that is only momentarily behind is answered, not cut with 4008', async () => {
    fixture = await startHub(
      { maxBufferedBytes: 64 * 1024, slowConsumerTimeout: 30_000 },
      { historyLimit: 10_000 },
    );
    const hub = fixture;
    const fast = await TestClient.connect(hub.url);
    const slow = await TestClient.connect(hub.url);
    await fast.request({ type: 'subscribe', channel: 'c', rid: 1 });
    await slow.request({ type: 'subscribe', channel: 'c', rid: 1 });
    await slow.request({ type: 'subscribe', channel: 'd', rid: 2 });
    slow.ws.pause();
    const pad = 'x'.repeat(8 * 1024);
    const big: string[] = [];
    // Until 'c' waits for room on the slow connection (its own stream: a third subscriber)...
    for (let i = 0; i < 2000 && hub.broker.stats().subscribers < 3; i++) {
      big.push(await hub.broker.publish('c', { data: { i, pad } }));
      await yieldToIo();
    }
    expect(hub.broker.stats().subscribers).toBe(3);
    // ...and small events on 'd' take what room is left, to within one small event.
    const small: string[] = [];
    for (let i = 0; i < 200; i++) {
      small.push(await hub.broker.publish('d', { data: i }));
      await yieldToIo();
    }
    const rid = 'r'.repeat(64);
    slow.send({ type: 'ping', rid });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hub.hub.stats().slowConsumerDisconnects).toBe(0);
    slow.ws.resume();
    await slow.next('pong', (m) => m.rid === rid);
    await eventually(() => eventIds(slow).length === big.length + small.length);
    const ids = eventIds(slow);
    expect(ids.filter((id) => big.includes(id))).toEqual(big);
    expect(ids.filter((id) => small.includes(id))).toEqual(small);
    expect(hub.hub.stats().slowConsumerDisconnects).toBe(0);
  });
});
