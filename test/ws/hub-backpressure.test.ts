/**
 * Slow consumers. A client stops reading (`ws.pause()`, public API: the socket is no longer
 * read, so kernel buffers fill and then the server's). The server must keep each
 * connection's outbound bytes under `maxBufferedBytes` (hub.stats()), apply the channel's
 * policy, and keep delivering to the other client, in order and without loss.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../../src/broker/memory-broker.js';
import { CLOSE_CODES } from '../../src/ws/close-codes.js';
import type { EventMessage, GapMessage } from '../../src/ws/protocol.js';
import { TestClient, eventually, startHub, type HubFixture } from './helpers.js';

const LIMIT = 256 * 1024;
const PADDING = 'x'.repeat(16 * 1024);
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let fixture: HubFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/**
 * Publishes until `done()` or `max` messages; returns the ids and the peak per-connection
 * bytes. `each`, when given, runs after every publish and is awaited before the next.
 */
async function flood(
  hub: HubFixture,
  channel: string,
  data: (i: number) => unknown,
  done: () => boolean,
  each?: (id: string) => Promise<void>,
  max = 5000,
): Promise<{ ids: string[]; peak: number }> {
  const ids: string[] = [];
  let peak = 0;
  for (let i = 0; i < max && !done(); i++) {
    const id = await hub.broker.publish(channel, { data: data(i) });
    ids.push(id);
    peak = Math.max(peak, hub.hub.stats().maxConnectionBufferedBytes);
    await yieldToIo();
    await each?.(id);
  }
  return { ids, peak };
}

async function expectAllInOrder(client: TestClient, ids: string[]): Promise<void> {
  for (const id of ids) expect((await client.next('event')).id).toBe(id);
}

describe('slow consumers', () => {
  it('disconnect (default): bounded memory, close 4008, then resume by `since` without loss', async () => {
    fixture = await startHub(
      { maxBufferedBytes: LIMIT, slowConsumerTimeout: 100, closeTimeout: 100 },
      { historyLimit: 10_000 },
    );
    const hub = fixture;
    const fast = await TestClient.connect(hub.url);
    const slow = await TestClient.connect(hub.url);
    await fast.request({ type: 'subscribe', channel: 'feed', rid: 1 });
    await slow.request({ type: 'subscribe', channel: 'feed', rid: 1 });
    slow.ws.pause();

    // In lockstep with the reading client: each message must reach it before the next is
    // published, while the stalled one's backlog builds up. A hub that let the stalled
    // connection hold up the others would stall this loop (no timing involved).
    const seen: string[] = [];
    const { ids, peak } = await flood(
      hub,
      'feed',
      (i) => ({ i, pad: PADDING }),
      () => hub.hub.stats().slowConsumerDisconnects > 0,
      async () => void seen.push((await fast.next('event')).id),
    );
    expect(hub.hub.stats().slowConsumerDisconnects).toBe(1);
    expect(peak).toBeGreaterThan(LIMIT / 2); // the gate was reached, not bypassed
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(seen).toEqual(ids); // the reading client got every message, in order, in step

    // The stalled client wakes up, reads what reached it, sees the connection end...
    slow.ws.resume();
    const closed = await slow.closed;
    expect([CLOSE_CODES.SLOW_CONSUMER, 1006]).toContain(closed.code);
    const received = slow.inbox
      .filter((m): m is EventMessage => m.type === 'event')
      .map((m) => m.id);
    expect(received).toEqual(ids.slice(0, received.length));

    // ...and resumes from its cursor: everything after it, exactly once, in order.
    const more = await hub.broker.publish('feed', { data: 'after' });
    const again = await TestClient.connect(hub.url);
    const since = received.at(-1);
    await again.request({
      type: 'subscribe',
      channel: 'feed',
      rid: 1,
      ...(since ? { since } : {}),
    });
    await expectAllInOrder(again, [...ids.slice(received.length), more]);
    expect(again.inbox.filter((m) => m.type === 'gap')).toEqual([]);
  });

  it('drop-oldest: bounded memory, the connection stays, every drop is counted in a gap notice', async () => {
    fixture = await startHub({
      maxBufferedBytes: LIMIT,
      channelPolicies: [{ pattern: 'vol:*', overflow: 'drop-oldest' }],
    });
    const hub = fixture;
    const fast = await TestClient.connect(hub.url);
    const slow = await TestClient.connect(hub.url, { format: 'msgpack' });
    await fast.request({ type: 'subscribe', channel: 'vol:feed', rid: 1 });
    await slow.request({ type: 'subscribe', channel: 'vol:feed', rid: 1 });
    slow.ws.pause();

    const seen: string[] = [];
    const { ids, peak } = await flood(
      hub,
      'vol:feed',
      (i) => ({ i, pad: PADDING }),
      () => hub.hub.stats().dropped >= 50,
      async () => void seen.push((await fast.next('event')).id),
    );
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(hub.hub.stats()).toMatchObject({ connections: 2, slowConsumerDisconnects: 0 });
    expect(seen).toEqual(ids); // in step with the publisher while the other one stalled

    slow.ws.resume();
    const last = await hub.broker.publish('vol:feed', { data: 'last' });
    ids.push(last);
    await slow.next('event', (m) => m.id === last);
    const events = slow.inbox.filter((m): m is EventMessage => m.type === 'event').map((m) => m.id);
    const gaps = slow.inbox.filter((m): m is GapMessage => m.type === 'gap');
    expect(gaps.length).toBeGreaterThan(0);
    for (const gap of gaps) expect(gap).toMatchObject({ channel: 'vol:feed', reason: 'dropped' });
    // Received in publish order, and received + announced drops = published: nothing silent.
    expect(events).toEqual(ids.filter((id) => events.includes(id)));
    const announced = gaps.reduce((sum, gap) => sum + (gap.count ?? 0), 0);
    expect(events.length + 1 + announced).toBe(ids.length); // +1: `last` was taken by next()
    expect(announced).toBe(hub.hub.stats().dropped);
  });

  it('drop-oldest: the last drop on a channel that then goes quiet is announced all the same', async () => {
    fixture = await startHub({
      maxBufferedBytes: LIMIT,
      channelPolicies: [{ pattern: 'vol:*', overflow: 'drop-oldest' }],
    });
    const hub = fixture;
    const slow = await TestClient.connect(hub.url);
    await slow.request({ type: 'subscribe', channel: 'vol:quiet', rid: 1 });
    slow.ws.pause();
    // Large messages, until the first one is dropped; then nothing more is published.
    const big = 'x'.repeat(150 * 1024);
    const { ids } = await flood(
      hub,
      'vol:quiet',
      (i) => ({ i, pad: big }),
      () => hub.hub.stats().dropped > 0,
    );
    slow.ws.resume();
    const gap = await slow.next('gap');
    expect(gap).toMatchObject({ channel: 'vol:quiet', reason: 'dropped' });
    const received = () => slow.inbox.filter((m) => m.type === 'event').length;
    let events = received();
    // The last message follows the notice when an older one was the one dropped.
    if (events + (gap.count ?? 0) < ids.length) {
      await slow.next('event', (m) => m.id === ids.at(-1));
      events = received() + 1;
    }
    expect(events + (gap.count ?? 0)).toBe(ids.length); // nothing silent
    expect(gap.count).toBe(hub.hub.stats().dropped);
  });

  it('drops are counted once in stats while a closing connection still leaves its channels', async () => {
    const broker = createMemoryBroker();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const leave = broker.leave.bind(broker);
    broker.leave = async (channel, clientId) => {
      await released; // a slow broker: the connection's cleanup waits here
      return leave(channel, clientId);
    };
    fixture = await startHub({
      broker,
      maxBufferedBytes: LIMIT,
      channelPolicies: [{ pattern: 'vol:*', overflow: 'drop-oldest' }],
    });
    const hub = fixture.hub;
    const slow = await TestClient.connect(fixture.url);
    await slow.request({ type: 'subscribe', channel: 'vol:feed', rid: 1 });
    slow.ws.pause();
    for (let i = 0; i < 5000 && hub.stats().dropped < 10; i++) {
      await broker.publish('vol:feed', { data: { i, pad: PADDING } });
      await yieldToIo();
    }
    const dropped = hub.stats().dropped;
    expect(dropped).toBeGreaterThanOrEqual(10);
    slow.ws.terminate();
    try {
      await eventually(() => hub.stats().subscriptions === 0); // cleanup under way
      expect(hub.stats().dropped).toBe(dropped);
    } finally {
      release();
    }
    await eventually(() => hub.stats().connections === 0);
    expect(hub.stats().dropped).toBe(dropped);
    await broker.close();
  });

  it('conflate: bounded memory, the latest value per key arrives', async () => {
    fixture = await startHub({
      maxBufferedBytes: LIMIT,
      channelPolicies: [
        {
          pattern: 'ticker',
          overflow: 'conflate',
          conflateKey: (data) => (data as { symbol: string }).symbol,
        },
      ],
    });
    const hub = fixture;
    const slow = await TestClient.connect(hub.url);
    await slow.request({ type: 'subscribe', channel: 'ticker', rid: 1 });
    slow.ws.pause();
    const symbols = ['AAA', 'BBB', 'CCC'];
    const lastPrice = new Map<string, number>();
    const { peak } = await flood(
      hub,
      'ticker',
      (i) => {
        const symbol = symbols[i % symbols.length]!;
        lastPrice.set(symbol, i);
        return { symbol, price: i, pad: PADDING };
      },
      () => hub.hub.stats().conflated >= 100,
    );
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(hub.hub.stats().slowConsumerDisconnects).toBe(0);
    slow.ws.resume();
    await hub.broker.publish('ticker', { data: { symbol: 'END', price: -1 } });
    await slow.next('event', (m) => (m.data as { symbol: string }).symbol === 'END');
    const seen = new Map<string, number[]>();
    for (const message of slow.inbox) {
      if (message.type !== 'event') continue;
      const { symbol, price } = message.data as { symbol: string; price: number };
      seen.set(symbol, [...(seen.get(symbol) ?? []), price]);
    }
    for (const symbol of symbols) {
      const prices = seen.get(symbol) ?? [];
      expect(prices.at(-1)).toBe(lastPrice.get(symbol)); // the latest value won
      expect([...prices].sort((a, b) => a - b)).toEqual(prices); // never older after newer
    }
  });
});
