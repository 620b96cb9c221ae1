/**
 * A broker whose streams cannot be polled (any Broker implementation may be one): no shared
 * stream then, every subscription reads its own broker stream with awaited `next()` calls,
 * and ends it when the client unsubscribes or goes away. Presence goes through the broker's
 * `join` and `leave` by client id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBroker, type MemoryBroker } from '../../src/broker/memory-broker.js';
import type { EventMessage } from '../../src/ws/protocol.js';
import { contractOnlyBroker } from '../helpers/contract-only-broker.js';
import { TestClient, eventually, startHub, type HubFixture } from './helpers.js';

let fixture: HubFixture | undefined;
const brokers: MemoryBroker[] = [];
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
  for (const broker of brokers.splice(0)) await broker.close();
});

function eventIds(client: TestClient): string[] {
  return client.inbox.filter((m): m is EventMessage => m.type === 'event').map((m) => m.id);
}

describe('hub over a broker that cannot be polled', () => {
  it('delivers live and replayed events on own streams, each ended with its subscription', async () => {
    const inner = createMemoryBroker();
    brokers.push(inner);
    fixture = await startHub({ broker: contractOnlyBroker(inner) });
    const live = await TestClient.connect(fixture.url);
    await live.request({ type: 'subscribe', channel: 'c', rid: 1 });
    const first: string[] = [];
    for (let i = 0; i < 5; i++) first.push(await inner.publish('c', { data: i }));
    const resuming = await TestClient.connect(fixture.url);
    await resuming.request({ type: 'subscribe', channel: 'c', since: first[1]!, rid: 1 });
    expect(inner.stats().subscribers).toBe(2); // no shared stream: one each
    const more: string[] = [];
    for (let i = 0; i < 5; i++) more.push(await inner.publish('c', { data: i }));
    await eventually(() => eventIds(live).length === 10);
    expect(eventIds(live)).toEqual([...first, ...more]);
    await eventually(() => eventIds(resuming).length === 8);
    expect(eventIds(resuming)).toEqual([...first.slice(2), ...more]);
    await resuming.request({ type: 'unsubscribe', channel: 'c', rid: 2 });
    await eventually(() => inner.stats().subscribers === 1);
    await live.close();
    await eventually(() => inner.stats().subscribers === 0);
    expect(fixture.hub.stats().subscriptions).toBe(0);
  });

  it('presence joins on subscribe and leaves by client id on unsubscribe and on close', async () => {
    const inner = createMemoryBroker();
    brokers.push(inner);
    fixture = await startHub({ broker: contractOnlyBroker(inner) });
    const alice = await TestClient.connect(fixture.url);
    const bob = await TestClient.connect(fixture.url);
    const aliceId = (await alice.next('welcome')).clientId;
    const bobId = (await bob.next('welcome')).clientId;
    await alice.request({ type: 'subscribe', channel: 'room', rid: 1 });
    await bob.request({ type: 'subscribe', channel: 'room', rid: 1 });
    const ids = async () => (await inner.members('room')).map((m) => m.clientId).sort();
    expect(await ids()).toEqual([aliceId, bobId].sort());
    // Each member is listed with its principal's subject.
    expect((await inner.members('room')).map((m) => m.info)).toEqual([
      { subject: 'anonymous' },
      { subject: 'anonymous' },
    ]);
    await bob.request({ type: 'unsubscribe', channel: 'room', rid: 2 });
    expect(await ids()).toEqual([aliceId]);
    await alice.close();
    await eventually(() => inner.stats().presenceMembers === 0);
  });
});
