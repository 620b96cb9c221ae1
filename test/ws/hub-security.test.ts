import { afterEach, describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/core/auth.js';
import { createJwtAuthenticator, createToken } from '../../src/core/auth-jwt.js';
import { CLOSE_CODES } from '../../src/ws/close-codes.js';
import { TestClient, eventually, startHub, type HubFixture } from './helpers.js';

const SECRET = 'hub-test-secret-with-at-least-32-bytes!';
const authenticator = createJwtAuthenticator({ secret: SECRET });

let fixture: HubFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('origin allowlist', () => {
  it('refuses cross-site origins with 403, allows same-origin, listed and header-less clients', async () => {
    fixture = await startHub({ allowedOrigins: ['https://app.example'] });
    expect(await TestClient.rejected(fixture.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await TestClient.rejected(fixture.url, { origin: 'null' })).toBe(403);
    const host = new URL(fixture.url).host;
    const same = await TestClient.connect(fixture.url, { origin: `http://${host}` });
    const listed = await TestClient.connect(fixture.url, { origin: 'https://app.example' });
    const noOrigin = await TestClient.connect(fixture.url);
    for (const client of [same, listed, noOrigin]) await client.next('welcome');
    expect(fixture.hub.stats().rejectedUpgrades.origin).toBe(2);
  });
});

describe('JWT authentication at connect', () => {
  it('refuses a missing or bad token with HTTP 401', async () => {
    fixture = await startHub({ authenticator });
    expect(await TestClient.rejected(fixture.url)).toBe(401);
    expect(
      await TestClient.rejected(fixture.url, { headers: { authorization: 'Bearer nope' } }),
    ).toBe(401);
    const forged = await createToken({ secret: 'x'.repeat(40), subject: 'eve' });
    expect(await TestClient.rejected(fixture.url, { query: `token=${forged}` })).toBe(401);
    expect(fixture.hub.stats()).toMatchObject({
      connections: 0,
      rejectedUpgrades: { unauthorized: 3 },
    });
  });

  it('accepts the token as a bearer header, a subprotocol entry or a query parameter', async () => {
    fixture = await startHub({ authenticator });
    const token = await createToken({ secret: SECRET, subject: 'alice', subscribe: ['*'] });
    const viaHeader = await TestClient.connect(fixture.url, {
      headers: { authorization: `Bearer ${token}` },
    });
    const viaProtocol = await TestClient.connect(fixture.url, {
      protocols: [`sluice.token.${token}`],
    });
    const viaQuery = await TestClient.connect(fixture.url, { query: `token=${token}` });
    for (const client of [viaHeader, viaProtocol, viaQuery]) {
      expect(await client.next('welcome')).toMatchObject({ subject: 'alice' });
    }
    // The token entry is never the selected subprotocol.
    expect(viaProtocol.ws.protocol).toBe('sluice.v1.json');
  });

  it('enforces channel permissions from the claims with error replies', async () => {
    fixture = await startHub({ authenticator });
    const token = await createToken({
      secret: SECRET,
      subject: 'bob',
      subscribe: ['chat:*'],
      publish: ['chat:lobby'],
    });
    const client = await TestClient.connect(fixture.url, { query: `token=${token}` });
    expect(await client.request({ type: 'subscribe', channel: 'admin', rid: 1 })).toMatchObject({
      type: 'error',
      code: 'forbidden',
      rid: 1,
      channel: 'admin',
    });
    expect(
      await client.request({ type: 'subscribe', channel: 'chat:lobby', rid: 2 }),
    ).toMatchObject({ type: 'ack' });
    expect(
      await client.request({ type: 'publish', channel: 'chat:other', data: 1, rid: 3 }),
    ).toMatchObject({
      type: 'error',
      code: 'forbidden',
    });
    client.send({ type: 'presence', channel: 'admin', rid: 4 });
    expect(await client.next('error', (m) => m.rid === 4)).toMatchObject({ code: 'forbidden' });
    expect(
      await client.request({ type: 'publish', channel: 'chat:lobby', data: 1, rid: 5 }),
    ).toMatchObject({
      type: 'ack',
    });
    expect((await client.next('event')).data).toBe(1);
    expect((await fixture.broker.history('chat:other')).messages).toEqual([]);
  });

  it('closes with 4001 when the token expires while connected', async () => {
    fixture = await startHub({
      authenticator: createJwtAuthenticator({ secret: SECRET, clockTolerance: 0 }),
    });
    // `exp` has one-second resolution: 2 s keeps the handshake itself safely before it.
    const token = await createToken({ secret: SECRET, subject: 'brief', expiresIn: 2 });
    const client = await TestClient.connect(fixture.url, { query: `token=${token}` });
    expect((await client.closed).code).toBe(CLOSE_CODES.TOKEN_EXPIRED);
  });
});

describe('connection limits', () => {
  it('refuses with 503 when the authenticator does not answer in time, freeing the slot', async () => {
    const hanging: Authenticator = { authenticate: () => new Promise<never>(() => undefined) };
    fixture = await startHub({ authenticator: hanging, authTimeout: 50, maxConnections: 1 });
    expect(await TestClient.rejected(fixture.url)).toBe(503);
    expect(fixture.hub.stats().pendingUpgrades).toBe(0);
    expect(await TestClient.rejected(fixture.url)).toBe(503);
    // Both timed out; neither was refused for capacity: the first freed its slot.
    expect(fixture.hub.stats().rejectedUpgrades).toMatchObject({ unauthorized: 2, capacity: 0 });
  });

  it('an aborted signal closes the hub', async () => {
    const controller = new AbortController();
    fixture = await startHub({ signal: controller.signal });
    const client = await TestClient.connect(fixture.url);
    await client.next('welcome');
    controller.abort();
    expect((await client.closed).code).toBe(CLOSE_CODES.GOING_AWAY);
  });

  it('refuses connections beyond maxConnections with 503 and admits again after one leaves', async () => {
    fixture = await startHub({ maxConnections: 2 });
    const a = await TestClient.connect(fixture.url);
    await TestClient.connect(fixture.url);
    expect(await TestClient.rejected(fixture.url)).toBe(503);
    expect(fixture.hub.stats().rejectedUpgrades.capacity).toBe(1);
    await a.close();
    const hub = fixture.hub;
    await eventually(() => hub.stats().connections === 1);
    await (await TestClient.connect(fixture.url)).next('welcome');
  });

  it('limits subscriptions per connection', async () => {
    fixture = await startHub({ maxSubscriptions: 2 });
    const client = await TestClient.connect(fixture.url);
    await client.request({ type: 'subscribe', channel: 'a', rid: 1 });
    await client.request({ type: 'subscribe', channel: 'b', rid: 2 });
    expect(await client.request({ type: 'subscribe', channel: 'c', rid: 3 })).toMatchObject({
      type: 'error',
      code: 'ws_subscription_limit',
    });
    // Re-subscribing to one already held is not a new subscription.
    expect(await client.request({ type: 'subscribe', channel: 'a', rid: 4 })).toMatchObject({
      type: 'ack',
    });
  });
});
