import { afterEach, describe, expect, it } from 'vitest';
import type { WireFormat } from '../../src/ws/protocol.js';
import { TestClient, startHub, type HubFixture } from './helpers.js';

let fixture: HubFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe.each<WireFormat>(['json', 'msgpack'])('hub over %s', (format) => {
  it('welcomes, subscribes, publishes with acks, and delivers with the broker id', async () => {
    fixture = await startHub();
    const alice = await TestClient.connect(fixture.url, { format });
    const bob = await TestClient.connect(fixture.url, { format });
    const welcome = await alice.next('welcome');
    expect(welcome).toMatchObject({ protocol: 1, subject: 'anonymous', maxPayload: 65536 });
    expect(alice.ws.protocol).toBe(format === 'json' ? 'sluice.v1.json' : 'sluice.v1.msgpack');

    // A live subscription's ack carries where it starts: a cursor before any event.
    const startsAfter = fixture.broker.channelCursor('chat:1');
    expect(await bob.request({ type: 'subscribe', channel: 'chat:1', rid: 1 })).toEqual({
      type: 'ack',
      rid: 1,
      channel: 'chat:1',
      id: startsAfter,
    });
    const ack = await alice.request({
      type: 'publish',
      channel: 'chat:1',
      data: { text: 'héllo', n: [1, 2.5, null, true] },
      event: 'message',
      rid: 'p1',
    });
    expect(ack).toMatchObject({ type: 'ack', rid: 'p1', channel: 'chat:1' });
    const id = (ack as { id: string }).id;
    expect(await bob.next('event')).toEqual({
      type: 'event',
      channel: 'chat:1',
      id,
      data: { text: 'héllo', n: [1, 2.5, null, true] },
      event: 'message',
    });
    // The same id is what the broker (and so SSE) knows.
    const history = await fixture.broker.history('chat:1');
    expect(history.messages.map((m) => m.id)).toEqual([id]);
  });

  it('delivers broker (HTTP) publishes to WebSocket subscribers, and WebSocket publishes to broker (SSE) subscribers', async () => {
    fixture = await startHub();
    const client = await TestClient.connect(fixture.url, { format });
    await client.request({ type: 'subscribe', channel: 'news', rid: 1 });
    const id = await fixture.broker.publish('news', { data: 'from http', event: 'headline' });
    expect(await client.next('event')).toMatchObject({ id, data: 'from http', event: 'headline' });

    const controller = new AbortController();
    const sse = fixture.broker
      .subscribe('news', { signal: controller.signal })
      [Symbol.asyncIterator]();
    const ack = await client.request({ type: 'publish', channel: 'news', data: 42, rid: 2 });
    const item = await sse.next();
    expect(item.value).toMatchObject({
      type: 'message',
      message: { id: (ack as { id: string }).id, data: 42 },
    });
    controller.abort();
  });

  it('replays after `since`, and sends a gap first when history no longer reaches back', async () => {
    fixture = await startHub({}, { historyLimit: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await fixture.broker.publish('feed', { data: i }));
    const client = await TestClient.connect(fixture.url, { format });

    await client.request({ type: 'subscribe', channel: 'feed', since: ids[2]!, rid: 1 });
    expect((await client.next('event')).data).toBe(3);
    expect((await client.next('event')).data).toBe(4);

    await client.request({ type: 'unsubscribe', channel: 'feed', rid: 2 });
    await client.request({ type: 'subscribe', channel: 'feed', since: ids[0]!, rid: 3 });
    const gap = await client.next('gap');
    expect(gap).toMatchObject({ channel: 'feed', reason: 'expired', requested: ids[0] });
    const replayed = [];
    for (let i = 0; i < 3; i++) replayed.push((await client.next('event')).data);
    expect(replayed).toEqual([2, 3, 4]); // what history still holds, after the gap
    expect(client.inbox.filter((m) => m.type === 'event')).toEqual([]);
    await client.request({ type: 'subscribe', channel: 'feed', since: 'garbage', rid: 4 });
    expect(await client.next('gap')).toMatchObject({ reason: 'invalid', requested: 'garbage' });
  });

  it('unsubscribe stops delivery; unsubscribing twice is an error; resubscribing restarts', async () => {
    fixture = await startHub();
    const client = await TestClient.connect(fixture.url, { format });
    await client.request({ type: 'subscribe', channel: 'c', rid: 1 });
    const first = await fixture.broker.publish('c', { data: 'a' });
    await client.next('event');
    expect(await client.request({ type: 'unsubscribe', channel: 'c', rid: 2 })).toMatchObject({
      type: 'ack',
    });
    // The broker stream ended with the subscription (no abort signal: `return()`).
    expect(fixture.broker.stats().subscribers).toBe(0);
    expect(await client.request({ type: 'unsubscribe', channel: 'c', rid: 3 })).toMatchObject({
      type: 'error',
      code: 'ws_not_subscribed',
      rid: 3,
    });
    await fixture.broker.publish('c', { data: 'missed' });
    await client.request({ type: 'subscribe', channel: 'c', rid: 4 });
    // Subscribing again to a subscribed channel restarts from its since (which the client
    // already knows: that ack names no id).
    expect(await client.request({ type: 'subscribe', channel: 'c', since: first, rid: 5 })).toEqual(
      { type: 'ack', rid: 5, channel: 'c' },
    );
    expect((await client.next('event')).data).toBe('missed');
    expect(fixture.hub.stats().subscriptions).toBe(1);
    // The restart replaced the stream: one broker subscriber, and each event arrives once.
    expect(fixture.broker.stats().subscribers).toBe(1);
    await fixture.broker.publish('c', { data: 'once' });
    client.send({ type: 'ping', rid: 6 });
    await client.next('pong'); // answered after the event was written
    expect(client.inbox.filter((m) => m.type === 'event' && m.data === 'once')).toHaveLength(1);
  });

  it('handles batched frames in order and answers pings', async () => {
    fixture = await startHub();
    const client = await TestClient.connect(fixture.url, { format });
    client.send([
      { type: 'subscribe', channel: 'b', rid: 1 },
      { type: 'publish', channel: 'b', data: 'x', rid: 2 },
      { type: 'ping', rid: 3 },
    ]);
    expect(await client.next('ack', (m) => m.rid === 1)).toBeDefined();
    expect((await client.next('event')).data).toBe('x');
    expect(await client.next('pong')).toEqual({ type: 'pong', rid: 3 });
  });
});

describe('hub connection details', () => {
  it('defaults to JSON without a subprotocol and refuses foreign subprotocols with 400', async () => {
    fixture = await startHub();
    const { default: WebSocket } = await import('ws');
    const plain = new WebSocket(fixture.url);
    const first = await new Promise<string>((resolve) =>
      plain.once('message', (d: Buffer) => resolve(d.toString())),
    );
    expect(JSON.parse(first)).toMatchObject({ type: 'welcome' });
    expect(plain.protocol).toBe('');
    plain.close();
    const client = new WebSocket(fixture.url, ['graphql-ws']);
    const status = await new Promise<string>((resolve) =>
      client.once('error', (e) => resolve(String(e))),
    );
    expect(status).toMatch(/400/);
  });

  it('reports an event it cannot encode and keeps the subscription', async () => {
    const errors: unknown[] = [];
    fixture = await startHub({ onError: (error) => errors.push(error) });
    const client = await TestClient.connect(fixture.url);
    await client.request({ type: 'subscribe', channel: 'srv', rid: 1 });
    const bad = await fixture.broker.publish('srv', { data: { n: 10n } }); // BigInt: not JSON
    expect(await client.next('error')).toMatchObject({
      code: 'internal_error',
      channel: 'srv',
      message: `Event ${bad} could not be encoded`,
    });
    await fixture.broker.publish('srv', { data: 'fine' });
    expect((await client.next('event')).data).toBe('fine');
    expect(errors).toHaveLength(1);
  });

  it('answers 404 for other upgrade paths when it is the only upgrade listener', async () => {
    fixture = await startHub();
    expect(await TestClient.rejected(fixture.url.replace('/v1/ws', '/elsewhere'))).toBe(404);
  });
});
