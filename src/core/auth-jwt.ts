/**
 * JWT authentication (HS256, via `jose`). A token's claims, exactly:
 *
 *   { "sub": "alice",                              required, non-empty string
 *     "exp": 1767225600,                           optional (seconds); required if `requireExp`
 *     "iss", "aud",                                checked when configured
 *     "sluice": { "subscribe": ["chat:*", "news"],  channel patterns (see auth.ts), optional
 *                 "publish":   ["chat:*"] } }       a missing list grants nothing
 *
 * Any failure (no token, bad signature, wrong algorithm, expired, malformed claims) is a
 * SluiceError `unauthorized` (401) whose message names the reason but never the token.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import {
  createPrincipal,
  isValidChannelPattern,
  type Authenticator,
  type Principal,
} from './auth.js';
import { SluiceError } from './errors.js';

export const JWT_AUTH_DEFAULTS = Object.freeze({
  /** Leeway for `exp`/`nbf`, seconds (clock skew between issuer and server). */
  clockTolerance: 5,
  /** Tokens longer than this are refused before any parsing. */
  maxTokenLength: 8192,
  /** HS256 keys shorter than this many bytes are refused (RFC 7518 §3.2). */
  minSecretBytes: 32,
  /** Patterns per claim list. */
  maxPatterns: 256,
});

export interface JwtAuthOptions {
  /** The shared HS256 secret: a string (UTF-8) or raw bytes, at least 32 bytes. */
  secret: string | Uint8Array;
  issuer?: string;
  audience?: string;
  clockTolerance?: number;
  /** Refuse tokens without `exp` (default false). */
  requireExp?: boolean;
}

export interface SluiceClaims {
  subscribe?: string[];
  publish?: string[];
}

function secretBytes(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < JWT_AUTH_DEFAULTS.minSecretBytes) {
    throw new SluiceError(
      'invalid_argument',
      `The JWT secret must be at least ${JWT_AUTH_DEFAULTS.minSecretBytes} bytes`,
    );
  }
  return bytes;
}

function unauthorized(message: string, reason: string): SluiceError {
  return new SluiceError('unauthorized', message, { status: 401, details: { reason } });
}

function readPatterns(claims: Record<string, unknown>, name: keyof SluiceClaims): string[] {
  const list = claims[name];
  if (list === undefined) return [];
  if (
    !Array.isArray(list) ||
    list.length > JWT_AUTH_DEFAULTS.maxPatterns ||
    !list.every((item): item is string => typeof item === 'string' && isValidChannelPattern(item))
  ) {
    throw unauthorized(`The "sluice.${name}" claim must be a list of channel patterns`, 'claims');
  }
  return list;
}

export function createJwtAuthenticator(options: JwtAuthOptions): Authenticator {
  const key = secretBytes(options.secret);
  const clockTolerance = options.clockTolerance ?? JWT_AUTH_DEFAULTS.clockTolerance;
  const verifyOptions = {
    algorithms: ['HS256'],
    clockTolerance,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    ...(options.audience === undefined ? {} : { audience: options.audience }),
    ...(options.requireExp ? { requiredClaims: ['exp'] } : {}),
  };
  return {
    async authenticate(input): Promise<Principal> {
      const token = input.token;
      if (token === undefined || token === '') throw unauthorized('A token is required', 'missing');
      if (token.length > JWT_AUTH_DEFAULTS.maxTokenLength) {
        throw unauthorized('The token is too long', 'too_long');
      }
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, key, verifyOptions));
      } catch (error) {
        throw verifyFailure(error);
      }
      const subject = payload.sub;
      if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) {
        throw unauthorized('The token needs a "sub" claim', 'claims');
      }
      const raw = payload.sluice ?? {};
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw unauthorized('The "sluice" claim must be an object', 'claims');
      }
      const claims = raw as Record<string, unknown>;
      const exp = payload.exp;
      return createPrincipal({
        subject,
        subscribe: readPatterns(claims, 'subscribe'),
        publish: readPatterns(claims, 'publish'),
        // The end of validity as this server judges it, leeway included: a token accepted
        // within the leeway must not count as already expired (the WebSocket hub would
        // close the connection it just accepted).
        ...(typeof exp === 'number' ? { expiresAt: (exp + clockTolerance) * 1000 } : {}),
      });
    },
  };
}

function verifyFailure(error: unknown): SluiceError {
  if (error instanceof joseErrors.JWTExpired)
    return unauthorized('The token has expired', 'expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return unauthorized(`The token's "${error.claim}" claim is not valid`, 'claims');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return unauthorized('The token signature is not valid', 'signature');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return unauthorized('The token must be signed with HS256', 'algorithm');
  }
  return unauthorized('The token is malformed', 'malformed');
}

export interface CreateTokenOptions {
  secret: string | Uint8Array;
  subject: string;
  subscribe?: string[];
  publish?: string[];
  /** Lifetime in seconds (default one hour); `null` for no `exp` (not recommended). */
  expiresIn?: number | null;
  issuer?: string;
  audience?: string;
}

/** Issues a token the JWT authenticator accepts (for backends, the CLI, tests, the demo). */
export async function createToken(options: CreateTokenOptions): Promise<string> {
  const claims: SluiceClaims = {};
  if (options.subscribe) claims.subscribe = options.subscribe;
  if (options.publish) claims.publish = options.publish;
  let jwt = new SignJWT({ sluice: claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt();
  const expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
  if (expiresIn !== null) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(secretBytes(options.secret));
}
