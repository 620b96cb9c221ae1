import { afterEach, describe, expect, it } from 'vitest';
import { createToken } from '../../src/core/auth-jwt.js';
import { createSluiceServer } from '../../src/server/server.js';
import { readUntil } from '../helpers/sse-text.js';
import { startServer, type TestServer } from '../helpers/server.js';

const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('HTTP auth (shared with the WebSocket hub)', () => {
  it('refuses open mode on a non-loopback interface', () => {
    expect(() => createSluiceServer({ config: { host: '0.0.0.0', port: 0 } })).toThrow(
      /SLUICE_JWT_SECRET/,
    );
  });

  it('with a secret, publish and subscribe need a token whose claims allow the channel', async () => {
    server = await startServer({ jwtSecret: secret, keepAlive: null });
    const token = await createToken({
      secret,
      subject: 'u1',
      subscribe: ['news:*'],
      publish: ['news:*'],
    });
    const publish = (channel: string, auth?: string) =>
      fetch(`${server!.url}/v1/channels/${channel}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: '{"data":1}',
      });
    expect((await publish('news:a')).status).toBe(401);
    expect((await publish('news:a', 'Bearer not-a-jwt')).status).toBe(401);
    const denied = await publish('other', `Bearer ${token}`);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect((await publish('news:a', `Bearer ${token}`)).status).toBe(201);

    expect((await fetch(`${server.url}/v1/channels/news:a/events`)).status).toBe(401);
    // EventSource cannot set headers: the token query parameter works too.
    const stream = await fetch(`${server.url}/v1/channels/news:a/events?token=${token}`);
    expect(stream.status).toBe(200);
    await publish('news:a', `Bearer ${token}`);
    expect(await readUntil(stream.body!, (t) => t.includes('data: 1'))).toContain('data: 1');
  });
});
