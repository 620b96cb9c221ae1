import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  assertChannelAccess,
  authenticateRequest,
  compileChannelPatterns,
  createOpenAuthenticator,
  createRequestAuthorizer,
  extractToken,
  type Authenticator,
} from '../../src/core/auth.js';
import { createJwtAuthenticator, createToken } from '../../src/core/auth-jwt.js';
import { isSluiceError } from '../../src/core/errors.js';

const SECRET = 'test-secret-that-is-at-least-32-bytes-long';

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: string; status: number | undefined; reason: unknown }> {
  try {
    await promise;
  } catch (error) {
    if (isSluiceError(error)) {
      return { code: error.code, status: error.status, reason: error.details?.reason };
    }
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('channel patterns', () => {
  it('matches exactly as documented', () => {
    const match = compileChannelPatterns(['chat:*', 'news', 'a.b-*-c']);
    expect(match('chat:lobby')).toBe(true);
    expect(match('chat:room:42')).toBe(true);
    expect(match('chat:')).toBe(true);
    expect(match('chatter')).toBe(false);
    expect(match('news')).toBe(true);
    expect(match('news2')).toBe(false);
    expect(match('NEWS')).toBe(false);
    expect(match('a.b-x-c')).toBe(true);
    expect(match('aXb-x-c')).toBe(false);
    expect(compileChannelPatterns(['*'])('anything:at@all')).toBe(true);
    expect(compileChannelPatterns([])('x')).toBe(false);
  });

  it('refuses patterns with characters outside the channel alphabet', () => {
    expect(() => compileChannelPatterns(['chat:(.*)'])).toThrow(/Invalid channel pattern/);
    expect(() => compileChannelPatterns([''])).toThrow(/Invalid channel pattern/);
  });
});

describe('JWT authenticator', () => {
  const auth = createJwtAuthenticator({ secret: SECRET });

  it('accepts a token and grants exactly its patterns', async () => {
    const token = await createToken({
      secret: SECRET,
      subject: 'alice',
      subscribe: ['chat:*'],
      publish: ['chat:lobby'],
    });
    const principal = await auth.authenticate({ token });
    expect(principal.subject).toBe('alice');
    expect(principal.canSubscribe('chat:x')).toBe(true);
    expect(principal.canSubscribe('news')).toBe(false);
    expect(principal.canPublish('chat:lobby')).toBe(true);
    expect(principal.canPublish('chat:other')).toBe(false);
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
  });

  it('grants nothing when the sluice claim is absent', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .sign(new TextEncoder().encode(SECRET));
    const principal = await auth.authenticate({ token });
    expect(principal.canSubscribe('x')).toBe(false);
    expect(principal.canPublish('x')).toBe(false);
  });

  it('rejects missing, forged, expired, unsigned and malformed tokens with 401', async () => {
    expect(await failure(auth.authenticate({}))).toEqual({
      code: 'unauthorized',
      status: 401,
      reason: 'missing',
    });
    const forged = await createToken({
      secret: 'another-secret-that-is-also-32-bytes-long',
      subject: 'eve',
    });
    expect((await failure(auth.authenticate({ token: forged }))).reason).toBe('signature');
    const expired = await createToken({ secret: SECRET, subject: 'old', expiresIn: -60 });
    expect((await failure(auth.authenticate({ token: expired }))).reason).toBe('expired');
    const unsigned = new UnsecuredJWT({ sub: 'eve', sluice: { publish: ['*'] } }).encode();
    expect((await failure(auth.authenticate({ token: unsigned }))).status).toBe(401);
    expect((await failure(auth.authenticate({ token: 'not.a.jwt' }))).reason).toBe('malformed');
    expect((await failure(auth.authenticate({ token: 'x'.repeat(10_000) }))).reason).toBe(
      'too_long',
    );
  });

  it('rejects bad claims: no sub, patterns that are not patterns', async () => {
    const key = new TextEncoder().encode(SECRET);
    const noSub = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await failure(auth.authenticate({ token: noSub }))).reason).toBe('claims');
    const badPattern = await new SignJWT({ sluice: { subscribe: ['(.*)'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .sign(key);
    expect((await failure(auth.authenticate({ token: badPattern }))).reason).toBe('claims');
    const notList = await new SignJWT({ sluice: { publish: '*' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .sign(key);
    expect((await failure(auth.authenticate({ token: notList }))).reason).toBe('claims');
  });

  it('checks issuer, audience and requireExp when configured', async () => {
    const strict = createJwtAuthenticator({
      secret: SECRET,
      issuer: 'me',
      audience: 'sluice',
      requireExp: true,
    });
    const good = await createToken({
      secret: SECRET,
      subject: 'a',
      issuer: 'me',
      audience: 'sluice',
    });
    expect((await strict.authenticate({ token: good })).subject).toBe('a');
    const wrongIssuer = await createToken({
      secret: SECRET,
      subject: 'a',
      issuer: 'you',
      audience: 'sluice',
    });
    expect((await failure(strict.authenticate({ token: wrongIssuer }))).reason).toBe('claims');
    const noExp = await createToken({
      secret: SECRET,
      subject: 'a',
      issuer: 'me',
      audience: 'sluice',
      expiresIn: null,
    });
    expect((await failure(strict.authenticate({ token: noExp }))).status).toBe(401);
  });

  it('a token accepted within the clock tolerance is not already expired for the principal', async () => {
    // exp 2 s ago, inside the 5 s default leeway: accepted, so the WebSocket hub must not
    // close the connection as "token expired" the moment it opens.
    const key = new TextEncoder().encode(SECRET);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 2)
      .sign(key);
    const principal = await auth.authenticate({ token });
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
  });

  it('refuses short secrets at construction', () => {
    expect(() => createJwtAuthenticator({ secret: 'short' })).toThrow(/at least 32 bytes/);
  });

  it('never puts the token in an error message', async () => {
    const forged = await createToken({
      secret: 'another-secret-that-is-also-32-bytes-long',
      subject: 'eve',
    });
    try {
      await auth.authenticate({ token: forged });
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(forged.slice(0, 20));
      expect(JSON.stringify(error)).not.toContain(forged.slice(0, 20));
    }
  });
});

describe('request helpers', () => {
  it('extracts a bearer header first, then the token query parameter', () => {
    expect(extractToken({ authorization: 'Bearer abc', url: '/x?token=def' })).toBe('abc');
    expect(extractToken({ authorization: 'bearer  abc' })).toBe('abc');
    expect(extractToken({ url: '/x?token=def' })).toBe('def');
    expect(extractToken({ url: '/x?token=' })).toBeUndefined();
    expect(extractToken({})).toBeUndefined();
    expect(() => extractToken({ authorization: 'Basic Zm9vOmJhcg==' })).toThrow(/Bearer/);
  });

  it('authorizes requests with the same mechanism: 401 without a token, 403 outside the claims', async () => {
    const authorize = createRequestAuthorizer(createJwtAuthenticator({ secret: SECRET }));
    const token = await createToken({ secret: SECRET, subject: 'alice', subscribe: ['chat:*'] });
    const ok = await authorize(
      new Request('http://h/v1/channels/chat:1/events', {
        headers: { authorization: `Bearer ${token}` },
      }),
      'subscribe',
      'chat:1',
    );
    expect(ok.subject).toBe('alice');
    const viaQuery = await authorize(
      new Request(`http://h/v1/x?token=${token}`),
      'subscribe',
      'chat:2',
    );
    expect(viaQuery.subject).toBe('alice');
    expect(await failure(authorize(new Request('http://h/'), 'subscribe', 'chat:1'))).toMatchObject(
      {
        code: 'unauthorized',
        status: 401,
      },
    );
    expect(
      await failure(authorize(new Request(`http://h/?token=${token}`), 'publish', 'chat:1')),
    ).toMatchObject({ code: 'forbidden', status: 403 });
  });

  it('passes the Origin to the authenticator', async () => {
    const seen: Array<string | undefined> = [];
    const recording: Authenticator = {
      authenticate: async (input) => {
        seen.push(input.origin);
        return createOpenAuthenticator().authenticate(input);
      },
    };
    await authenticateRequest(
      new Request('http://h/', { headers: { origin: 'https://app' } }),
      recording,
    );
    expect(seen).toEqual(['https://app']);
  });

  it('open mode grants everything by default, or what it is told', async () => {
    const open = await createOpenAuthenticator().authenticate({});
    expect(open.subject).toBe('anonymous');
    expect(open.canPublish('anything')).toBe(true);
    const narrow = await createOpenAuthenticator({ publish: [] }).authenticate({
      token: 'ignored',
    });
    expect(narrow.canSubscribe('x')).toBe(true);
    expect(() => assertChannelAccess(narrow, 'publish', 'x')).toThrow(/Not allowed to publish/);
  });
});
