/**
 * How the upstream provider sends its POST and gets the answer: the status, the content
 * type, and the body as a `ByteSource` (or whole, bounded, as JSON).
 *
 * On Node the request goes through `node:http`/`node:https` with a keep-alive agent per
 * provider: a streamed answer is then read straight from the response's buffer, without
 * `fetch`'s Web streams (a promise and several objects per chunk) or its heavier
 * per-request setup, which were most of sluice's CPU per proxied token. An injected
 * `fetch`, and runtimes other than Node, use `fetch`.
 *
 * Timing: only the wait for the response headers is limited (`headersTimeoutMs`); the
 * signal aborts the request until the headers came; after that the body's reader owns it.
 */
import http from 'node:http';
import https from 'node:https';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SluiceError } from '../core/errors.js';
import { readAllBounded } from '../core/read-bounded.js';
import { NodeByteSource, WebByteSource, type ByteSource } from './byte-source.js';

export const UPSTREAM_TRANSPORT_DEFAULTS = Object.freeze({
  /** Idle keep-alive sockets kept per upstream host (one per concurrent stream to reuse). */
  maxFreeSockets: 1024,
  /** An idle pooled socket is closed after this long when the server gave no hint, ms. */
  idleSocketTimeoutMs: 4_000,
  /** Longest idle time a server's `Keep-Alive: timeout=N` hint can grant, ms. */
  maxIdleSocketTimeoutMs: 600_000,
});

/** Idle timeouts the upstream announced, per socket (read when the answer arrives). */
const idleHints = new WeakMap<object, number>();

/**
 * How long a socket may idle in the pool: the server's `Keep-Alive: timeout=N` less a
 * second (so we never send on a socket it is closing), else the default, as undici does.
 * Node's own agent only ever shortens its timeout from the hint, which closed sockets after
 * 4 s that the upstream would have kept for a minute.
 */
function idleTimeout(socket: object): number {
  return idleHints.get(socket) ?? UPSTREAM_TRANSPORT_DEFAULTS.idleSocketTimeoutMs;
}

function noteKeepAlive(message: http.IncomingMessage): void {
  const header = message.headers['keep-alive'];
  const hint = /^timeout=(\d+)/.exec(typeof header === 'string' ? header : '')?.[1];
  if (hint === undefined || !message.socket) return;
  const ms = Math.min(
    Number(hint) * 1000 - 1000,
    UPSTREAM_TRANSPORT_DEFAULTS.maxIdleSocketTimeoutMs,
  );
  if (ms > 0) idleHints.set(message.socket, ms);
}

class HttpAgent extends http.Agent {
  override keepSocketAlive(socket: Duplex): boolean {
    const keep = super.keepSocketAlive(socket) as unknown as boolean;
    if (keep !== false && socket instanceof Socket) socket.setTimeout(idleTimeout(socket));
    return keep;
  }
}

class HttpsAgent extends https.Agent {
  override keepSocketAlive(socket: Duplex): boolean {
    const keep = super.keepSocketAlive(socket) as unknown as boolean;
    if (keep !== false && socket instanceof Socket) socket.setTimeout(idleTimeout(socket));
    return keep;
  }
}

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  headersTimeoutMs: number;
}

export interface UpstreamReply {
  status: number;
  contentType: string;
  /** The body as a byte source for the stream reader (call once, or `json` once). */
  stream(): ByteSource;
  /**
   * The whole body parsed as JSON; past `maxBytes`, or without the whole body after
   * `deadlineMs` (a 504 `BodyTimeoutError`), it throws and the body is dropped.
   */
  json(maxBytes: number, deadlineMs: number): Promise<unknown>;
}

/** Sends one request; rejects with `HeadersTimeoutError`, the signal's reason, or the cause. */
export type UpstreamTransport = (request: UpstreamRequest) => Promise<UpstreamReply>;

/** The upstream did not send its headers within `headersTimeoutMs`. */
export class HeadersTimeoutError extends Error {}

/** A JSON body (an error, or a non-streaming answer) that stalled: the reader gets a 504. */
function bodyTimeout(ms: number): SluiceError {
  return new SluiceError(
    'llm_upstream_error',
    `The upstream's body did not arrive within ${ms} ms`,
    {
      status: 504,
    },
  );
}

/** Node (not Bun or Deno, whose `node:http` is a layer over their own fetch). */
export function isNode(): boolean {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } })
    .process?.versions;
  return versions?.node !== undefined && versions.bun === undefined && !('Deno' in globalThis);
}

function aborted(): SluiceError {
  return new SluiceError('aborted', 'The upstream request was aborted');
}

function tooLarge(max: number): SluiceError {
  return new SluiceError('llm_upstream_error', `Upstream body exceeds ${max} bytes`, {
    status: 502,
  });
}

export function nodeTransport(): UpstreamTransport {
  const options = {
    keepAlive: true,
    scheduling: 'lifo' as const,
    maxFreeSockets: UPSTREAM_TRANSPORT_DEFAULTS.maxFreeSockets,
    timeout: UPSTREAM_TRANSPORT_DEFAULTS.idleSocketTimeoutMs,
  };
  const agents = { http: new HttpAgent(options), https: new HttpsAgent(options) };
  // A provider posts to one URL: parse it once, not per request.
  let last: { url: string; secure: boolean; options: http.RequestOptions } | undefined;
  const parsed = (url: string): NonNullable<typeof last> => {
    if (last?.url === url) return last;
    const { protocol, hostname, port, pathname, search, username, password } = new URL(url);
    const options: http.RequestOptions = {
      protocol,
      // Bracketed IPv6 literals are given to the socket without their brackets.
      hostname: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
      path: `${pathname}${search}`,
      ...(port === '' ? {} : { port: Number(port) }),
      ...(username === ''
        ? {}
        : { auth: `${decodeURIComponent(username)}:${decodeURIComponent(password)}` }),
    };
    last = { url, secure: protocol === 'https:', options };
    return last;
  };
  return (request) =>
    new Promise((resolve, reject) => {
      const { signal } = request;
      if (signal.aborted) {
        reject(aborted());
        return;
      }
      const target = parsed(request.url);
      const send = target.secure ? https.request : http.request;
      const req = send({
        ...target.options,
        method: 'POST',
        agent: target.secure ? agents.https : agents.http,
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
      });
      const fail = (error: Error): void => {
        signal.removeEventListener('abort', onAbort);
        clearTimeout(timer);
        req.destroy();
        reject(error);
      };
      // The provider answers an abort with the signal's own reason.
      const onAbort = (): void => fail(aborted());
      const timer = setTimeout(() => fail(new HeadersTimeoutError()), request.headersTimeoutMs);
      timer.unref();
      signal.addEventListener('abort', onAbort, { once: true });
      // Errors after the answer arrived reach the response (and the body's reader) too.
      req.on('error', (error) => fail(error));
      req.once('response', (message) => {
        noteKeepAlive(message);
        signal.removeEventListener('abort', onAbort);
        clearTimeout(timer);
        resolve({
          status: message.statusCode ?? 502,
          contentType: message.headers['content-type'] ?? '',
          stream: () => new NodeByteSource(message),
          json: (maxBytes, deadlineMs) => nodeJson(message, { maxBytes, deadlineMs }, signal),
        });
      });
      req.end(request.body);
    });
}

/** The whole body as JSON; the signal still stops it (as it does a fetch body). */
function nodeJson(
  message: http.IncomingMessage,
  { maxBytes, deadlineMs }: { maxBytes: number; deadlineMs: number },
  signal: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const fail = (error: Error): void => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      message.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(aborted());
    const timer = setTimeout(() => fail(bodyTimeout(deadlineMs)), deadlineMs);
    timer.unref();
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    message.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) fail(tooLarge(maxBytes));
      else parts.push(chunk);
    });
    message.once('error', fail);
    message.once('end', () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

export function fetchTransport(doFetch: typeof fetch): UpstreamTransport {
  return async (request) => {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), request.headersTimeoutMs);
    timer.unref?.();
    let response: Response;
    try {
      response = await doFetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.any([request.signal, timeout.signal]),
      });
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason;
      if (timeout.signal.aborted) throw new HeadersTimeoutError();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (!response.body)
      throw new SluiceError('llm_upstream_error', 'The upstream sent no body', { status: 502 });
    const body = response.body;
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      stream: () => new WebByteSource(body),
      json: async (maxBytes, deadlineMs) => {
        // The request's own timeout controller, aborted later, stops the body too.
        const stalled = setTimeout(() => timeout.abort(), deadlineMs);
        try {
          return await readBounded(body, maxBytes);
        } catch (error) {
          if (timeout.signal.aborted && !request.signal.aborted) throw bodyTimeout(deadlineMs);
          throw error;
        } finally {
          clearTimeout(stalled);
        }
      },
    };
  };
}

/** Reads at most `max` bytes and parses them as JSON (throws past the cap or on bad JSON). */
export async function readBounded(body: ReadableStream<Uint8Array>, max: number): Promise<unknown> {
  const bytes = await readAllBounded(body, max, () => tooLarge(max));
  return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
}
