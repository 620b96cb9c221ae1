/**
 * The checks an upgrade request passes before it becomes a WebSocket: origin allowlist,
 * subprotocol negotiation, token extraction. Failures are answered with a plain HTTP
 * response on the raw socket (a browser then sees a failed connection; a Node client sees
 * the status), with the same JSON error body as the HTTP API.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { extractToken } from '../core/auth.js';
import { SluiceError } from '../core/errors.js';
import {
  SUBPROTOCOLS,
  TOKEN_SUBPROTOCOL_PREFIX,
  codecForSubprotocol,
  jsonCodec,
  type WireCodec,
} from './protocol.js';

export interface Negotiated {
  codec: WireCodec;
  /** The subprotocol to echo, `undefined` when the client offered none of ours. */
  protocol: string | undefined;
  token: string | undefined;
  origin: string | undefined;
}

/**
 * Browsers always send Origin on WebSocket handshakes; other clients usually do not, and
 * they are not exposed to cross-site hijacking (they hold their own credentials), so a
 * missing Origin passes. Same-origin (Origin host = Host header) always passes.
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // e.g. the opaque origin "null" from sandboxed frames and file: pages
  }
}

/**
 * Reads the handshake. Subprotocols: the first of the client's entries that is ours wins;
 * none offered (or only a token entry) means JSON; only foreign ones is a 400. The token
 * comes from `Authorization: Bearer`, else a `sluice.token.<jwt>` entry, else `?token=`.
 */
export function negotiate(request: IncomingMessage, allowedOrigins: readonly string[]): Negotiated {
  const origin = request.headers.origin;
  if (!isOriginAllowed(origin, request.headers.host, allowedOrigins)) {
    throw new SluiceError('forbidden', 'Origin not allowed', { status: 403 });
  }
  const offered = (request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  let codec: WireCodec | undefined;
  let protocolToken: string | undefined;
  let foreign = false;
  for (const entry of offered) {
    if (entry.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) {
      protocolToken ??= entry.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
      continue;
    }
    const candidate = codecForSubprotocol(entry);
    if (candidate) codec ??= candidate;
    else foreign = true;
  }
  if (!codec && foreign) {
    throw new SluiceError(
      'bad_request',
      `Unsupported subprotocol: offer one of ${SUBPROTOCOLS.join(', ')}`,
      { status: 400 },
    );
  }
  const token =
    extractToken({ authorization: request.headers.authorization }) ??
    (protocolToken || undefined) ??
    extractToken({ url: request.url ?? '/' });
  return {
    codec: codec ?? jsonCodec,
    protocol: codec?.subprotocol,
    token,
    origin,
  };
}

/** Answers an upgrade request with an HTTP error and closes the socket. */
export function rejectUpgrade(
  socket: Duplex,
  error: SluiceError,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.status ?? 400;
  const body = JSON.stringify(error.toJSON());
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/** The request path without its query (the query may hold a token: never log it). */
export function requestPath(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** A slow authenticator must not hold a handshake (and a connection slot) forever. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(new SluiceError('ws_connect_timeout', 'Authentication timed out', { status: 503 })),
      ms,
    );
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
