import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLOSE_CODES } from '../../src/ws/close-codes.js';
import { TestClient, startHub, type HubFixture } from './helpers.js';

let fixture: HubFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('hub validation', () => {
  it('closes with 1009 when a frame exceeds maxPayload', async () => {
    fixture = await startHub({ maxPayload: 1024 });
    const client = await TestClient.connect(fixture.url);
    client.send({ type: 'publish', channel: 'c', data: 'x'.repeat(2000) });
    expect((await client.closed).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
  });

  it('answers malformed JSON and unknown types with an error and stays usable', async () => {
    fixture = await startHub();
    const client = await TestClient.connect(fixture.url);
    client.ws.send('{"type": "subscribe", ');
    expect(await client.next('error')).toMatchObject({
      code: 'ws_bad_message',
      message: 'Malformed JSON',
    });
    client.send({ type: 'teleport', rid: 9 });
    expect(await client.next('error')).toMatchObject({ code: 'ws_unknown_type', rid: 9 });
    client.send({ type: 'subscribe', channel: 'bad channel!', rid: 10 });
    expect(await client.next('error')).toMatchObject({ code: 'invalid_channel', rid: 10 });
    client.ws.send(new Uint8Array([1, 2, 3])); // binary frame on the JSON subprotocol
    expect(await client.next('error')).toMatchObject({ code: 'ws_bad_message' });
    expect(await client.request({ type: 'subscribe', channel: 'ok', rid: 11 })).toMatchObject({
      type: 'ack',
    });
    expect(fixture.hub.stats().invalidMessages).toBe(4);
  });

  it('closes with 4500 after too many invalid messages', async () => {
    fixture = await startHub({ maxInvalidMessages: 3 });
    const client = await TestClient.connect(fixture.url);
    for (let i = 0; i < 10; i++) client.ws.send('not json');
    expect((await client.closed).code).toBe(CLOSE_CODES.BAD_CLIENT);
    expect(client.inbox.filter((m) => m.type === 'error')).toHaveLength(3);
  });

  it('rate-limits client messages, then closes a client that keeps going with 4029', async () => {
    fixture = await startHub({ rateLimit: { messagesPerSecond: 1, burst: 5 } });
    const client = await TestClient.connect(fixture.url);
    client.send(Array.from({ length: 7 }, (_, i) => ({ type: 'ping' as const, rid: i })));
    for (let i = 0; i < 5; i++) expect(await client.next('pong')).toEqual({ type: 'pong', rid: i });
    expect(await client.next('error')).toMatchObject({ code: 'ws_rate_limited', rid: 5 });
    expect(await client.next('error')).toMatchObject({ code: 'ws_rate_limited', rid: 6 });
    client.send(Array.from({ length: 10 }, () => ({ type: 'ping' as const })));
    expect((await client.closed).code).toBe(CLOSE_CODES.RATE_LIMITED);
    expect(fixture.hub.stats().rateLimited).toBeGreaterThanOrEqual(6);
  });

  it('refuses prototype-pollution payloads without polluting anything', async () => {
    fixture = await startHub();
    const client = await TestClient.connect(fixture.url);
    await client.request({ type: 'subscribe', channel: 'p', rid: 0 });
    client.ws.send(
      '{"type":"publish","channel":"p","rid":1,"data":{"__proto__":{"polluted":true}}}',
    );
    expect(await client.next('error')).toMatchObject({ code: 'ws_bad_message', rid: 1 });
    client.ws.send(
      '{"type":"publish","channel":"p","rid":2,"data":{"constructor":{"prototype":{"polluted":true}}}}',
    );
    expect(await client.next('error')).toMatchObject({ code: 'ws_bad_message', rid: 2 });
    // A top-level __proto__ in the message itself is ignored, not merged.
    client.ws.send('{"type":"ping","rid":3,"__proto__":{"polluted":true}}');
    expect(await client.next('pong')).toEqual({ type: 'pong', rid: 3 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect((await fixture.broker.history('p')).messages).toEqual([]);
  });

  it('validates published data per channel pattern with zod and valibot (Standard Schema)', async () => {
    fixture = await startHub({
      channelPolicies: [
        {
          pattern: 'zod:*',
          schema: z.object({ text: z.string().max(10), lang: z.string().default('en') }),
        },
        { pattern: 'valibot:*', schema: v.object({ price: v.pipe(v.number(), v.minValue(0)) }) },
      ],
    });
    const client = await TestClient.connect(fixture.url);
    await client.request({ type: 'subscribe', channel: 'zod:room', rid: 0 });
    const bad = await client.request({
      type: 'publish',
      channel: 'zod:room',
      data: { text: 5 },
      rid: 1,
    });
    expect(bad).toMatchObject({
      type: 'error',
      code: 'ws_validation_failed',
      rid: 1,
      channel: 'zod:room',
    });
    expect((bad as { message: string }).message).toMatch(/^text: /);
    const good = await client.request({
      type: 'publish',
      channel: 'zod:room',
      data: { text: 'hi' },
      rid: 2,
    });
    expect(good).toMatchObject({ type: 'ack', rid: 2 });
    // The schema's output (with its default filled in) is what gets published.
    expect((await client.next('event')).data).toEqual({ text: 'hi', lang: 'en' });

    const negative = await client.request({
      type: 'publish',
      channel: 'valibot:ticker',
      data: { price: -1 },
      rid: 3,
    });
    expect(negative).toMatchObject({ type: 'error', code: 'ws_validation_failed', rid: 3 });
    expect((negative as { message: string }).message).toMatch(/^price: /);
    expect(
      await client.request({
        type: 'publish',
        channel: 'valibot:ticker',
        data: { price: 3 },
        rid: 4,
      }),
    ).toMatchObject({ type: 'ack' });
    // Channels matching no pattern are not validated.
    expect(
      await client.request({ type: 'publish', channel: 'free', data: { anything: [1] }, rid: 5 }),
    ).toMatchObject({ type: 'ack' });
    // Validation failures are not abuse: the connection is still open and counted nothing.
    expect(fixture.hub.stats().invalidMessages).toBe(0);
  });

  it('refuses a text frame on the MessagePack subprotocol', async () => {
    fixture = await startHub();
    const client = await TestClient.connect(fixture.url, { format: 'msgpack' });
    client.ws.send('{"type":"ping"}');
    expect(await client.next('error')).toMatchObject({ code: 'ws_bad_message' });
    client.send({ type: 'ping', rid: 1 });
    expect(await client.next('pong')).toEqual({ type: 'pong', rid: 1 });
  });
});
