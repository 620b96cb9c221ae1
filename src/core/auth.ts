/**
 * One authentication mechanism for every transport: the WebSocket hub calls it at connect,
 * the HTTP server for SSE subscribe and HTTP publish. An `Authenticator` turns a token into a
 * `Principal` that says which channels it may subscribe to and publish on. Transport code
 * only extracts the token (see `extractToken`); it never parses or logs it.
 *
 * Channel patterns (token claims and hub channel policies), exactly:
 * - a pattern is 1-128 characters of the channel alphabet `A-Z a-z 0-9 _ - . : @` plus `*`;
 * - `*` matches any run of zero or more channel characters, `:` included, so `chat:*`
 *   matches `chat:lobby` and `chat:room:42` (and `chat:`), and `*` alone matches every
 *   channel;
 * - every other character matches itself, case-sensitively; there is no other wildcard.
 */
import { SluiceError } from './errors.js';

export interface Principal {
  /** Who this is (the JWT `sub`; `anonymous` in open mode). Safe to log and to show peers. */
  readonly subject: string;
  /** When the credentials stop being valid (ms since the Unix epoch), if they expire. */
  readonly expiresAt?: number;
  canSubscribe(channel: string): boolean;
  canPublish(channel: string): boolean;
}

export interface AuthInput {
  /** The bearer token, when the client sent one. */
  token?: string;
  /** The request's `Origin` header, for authenticators that bind tokens to origins. */
  origin?: string;
}

export interface Authenticator {
  /** Resolves with the principal, or rejects with SluiceError `unauthorized` (401). */
  authenticate(input: AuthInput): Promise<Principal>;
}

const PATTERN = /^[A-Za-z0-9_\-.:@*]{1,128}$/;

export function isValidChannelPattern(pattern: string): boolean {
  return PATTERN.test(pattern);
}

/**
 * Compiles patterns into one predicate. Throws `invalid_argument` for an invalid pattern.
 * An empty list matches nothing.
 */
export function compileChannelPatterns(patterns: readonly string[]): (channel: string) => boolean {
  if (patterns.length === 0) return () => false;
  for (const pattern of patterns) {
    if (!isValidChannelPattern(pattern)) {
      throw new SluiceError(
        'invalid_argument',
        `Invalid channel pattern "${pattern}": use channel characters and "*"`,
      );
    }
  }
  if (patterns.includes('*')) return () => true;
  // Only `.` and `-` of the alphabet need escaping inside a RegExp; `*` becomes `.*`.
  const source = patterns
    .map((pattern) => pattern.replace(/[.-]/g, '\\$&').replace(/\*/g, '.*'))
    .join('|');
  const regexp = new RegExp(`^(?:${source})$`);
  return (channel) => regexp.test(channel);
}

export interface PrincipalOptions {
  subject: string;
  subscribe: readonly string[];
  publish: readonly string[];
  expiresAt?: number;
}

/** A principal from channel patterns (what both built-in authenticators return). */
export function createPrincipal(options: PrincipalOptions): Principal {
  const canSubscribe = compileChannelPatterns(options.subscribe);
  const canPublish = compileChannelPatterns(options.publish);
  return Object.freeze({
    subject: options.subject,
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
    canSubscribe,
    canPublish,
  });
}

export const OPEN_AUTH_DEFAULTS = Object.freeze({
  subject: 'anonymous',
  subscribe: Object.freeze<string[]>(['*']),
  publish: Object.freeze<string[]>(['*']),
});

/**
 * Open mode: everyone may do everything (narrow it with `subscribe`/`publish` patterns).
 * For development only: the server uses it only when no secret is configured, binds to
 * loopback and warns. Tokens, if sent, are ignored.
 */
export function createOpenAuthenticator(options: Partial<PrincipalOptions> = {}): Authenticator {
  const principal = createPrincipal({
    subject: options.subject ?? OPEN_AUTH_DEFAULTS.subject,
    subscribe: options.subscribe ?? OPEN_AUTH_DEFAULTS.subscribe,
    publish: options.publish ?? OPEN_AUTH_DEFAULTS.publish,
  });
  return { authenticate: async () => principal };
}

/**
 * The token a request carries: `Authorization: Bearer <token>` first, then the `token`
 * query parameter (for `EventSource` and browser WebSockets, which cannot set headers;
 * URLs end up in access logs, so prefer the header or, for WebSockets, the
 * `sluice.token.<jwt>` subprotocol entry).
 */
export function extractToken(input: {
  authorization?: string | null | undefined;
  url?: string | URL | undefined;
}): string | undefined {
  const header = input.authorization?.trim();
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match) return match[1];
    throw new SluiceError('unauthorized', 'The Authorization header must be "Bearer <token>"', {
      status: 401,
    });
  }
  if (input.url === undefined) return undefined;
  const url = typeof input.url === 'string' ? new URL(input.url, 'http://localhost') : input.url;
  return url.searchParams.get('token') || undefined;
}

/** Authenticates a Web `Request` (header or `token` query parameter, and `Origin`). */
export async function authenticateRequest(
  request: Request,
  authenticator: Authenticator,
): Promise<Principal> {
  const token = extractToken({
    authorization: request.headers.get('authorization'),
    url: request.url,
  });
  const origin = request.headers.get('origin');
  return authenticator.authenticate({
    ...(token === undefined ? {} : { token }),
    ...(origin === null ? {} : { origin }),
  });
}

export type ChannelAction = 'subscribe' | 'publish';

/** Throws SluiceError `forbidden` (403) unless the principal may do `action` on `channel`. */
export function assertChannelAccess(
  principal: Principal,
  action: ChannelAction,
  channel: string,
): void {
  const allowed =
    action === 'subscribe' ? principal.canSubscribe(channel) : principal.canPublish(channel);
  if (!allowed) {
    throw new SluiceError('forbidden', `Not allowed to ${action} on channel "${channel}"`, {
      status: 403,
      details: { channel, action },
    });
  }
}

/**
 * The HTTP side of the shared mechanism: a function to call per request that authenticates
 * it and checks the channel permission, throwing `unauthorized` (401) or `forbidden` (403).
 */
export function createRequestAuthorizer(
  authenticator: Authenticator,
): (request: Request, action: ChannelAction, channel: string) => Promise<Principal> {
  return async (request, action, channel) => {
    const principal = await authenticateRequest(request, authenticator);
    assertChannelAccess(principal, action, channel);
    return principal;
  };
}
