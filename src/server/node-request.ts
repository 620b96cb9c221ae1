/**
 * A Node request as a Web `Request`, built lazily.
 *
 * Handlers are Web-standard, but most of them read only the method, the URL, a header or
 * two and a small body. Constructing a real `Request` (undici's: a Headers copy, a URL
 * parse, a signal that follows ours, a Web stream over the body) cost about a tenth of
 * a millisecond per request, a visible share of an LLM generation's setup. So the adapter
 * hands handlers a view: `method`, `url`, `headers` and `signal` come straight from the
 * Node request (headers built on first use), the body can be read straight from the Node
 * stream through `readBodyBounded` (core/read-bounded.ts), and anything else (`body`,
 * `json()`, `clone()`, `cache`…) builds the real `Request` once and delegates to it. The
 * view's prototype chain holds `Request.prototype`, so `instanceof Request` still holds
 * (the technique @hono/node-server uses for the same reason).
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Readable } from 'node:stream';
import { READ_BOUNDED, type BoundedBodyReader } from '../core/read-bounded.js';
import { SluiceError } from '../core/errors.js';
import { DIRECT_SSE_SERVER } from '../sse/response.js';

export type NodeRequest = IncomingMessage | Http2ServerRequest;

/** Headers that are HTTP/2 pseudo-headers (`:path`…) are not request headers. */
function toHeaders(req: NodeRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

function hasBody(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

class NodeRequestView {
  readonly #req: NodeRequest;
  readonly #signal: AbortSignal;
  readonly method: string;
  readonly url: string;
  #headers: Headers | undefined;
  #real: Request | undefined;
  /** The body was read through `READ_BOUNDED`: the Node stream is consumed. */
  #consumed = false;

  constructor(req: NodeRequest, signal: AbortSignal) {
    this.#req = req;
    this.#signal = signal;
    this.method = req.method ?? 'GET';
    const host = req.headers[':authority'] ?? req.headers.host ?? 'localhost';
    // Parsed once here, as `new Request()` would. A Host (or path) that makes no URL is the
    // client's mistake: a coded 400, not a TypeError answered (and logged) as a 500.
    try {
      this.url = new URL(req.url ?? '/', `http://${String(host)}`).href;
    } catch {
      throw new SluiceError('bad_request', 'The request target and Host make no valid URL', {
        status: 400,
      });
    }
  }

  get headers(): Headers {
    return (this.#headers ??= toHeaders(this.#req));
  }

  get signal(): AbortSignal {
    return this.#signal;
  }

  get bodyUsed(): boolean {
    return this.#consumed || (this.#real?.bodyUsed ?? false);
  }

  /**
   * The real `Request`, built on first need; its body is the Node stream, or, once the body
   * was read through `READ_BOUNDED`, a used one (reading it again fails, as on a real one).
   */
  real(): Request {
    if (this.#real) return this.#real;
    const withBody = hasBody(this.method);
    this.#real = new Request(this.url, {
      method: this.method,
      headers: this.headers,
      signal: this.#signal,
      ...(withBody
        ? {
            body: this.#consumed ? new ReadableStream() : Readable.toWeb(this.#req),
            duplex: 'half',
          }
        : {}),
    } as RequestInit);
    if (withBody && this.#consumed) void this.#real.body?.cancel();
    return this.#real;
  }

  /** The body straight from the Node stream, at most `limit` bytes (core/read-bounded.ts). */
  [READ_BOUNDED]: BoundedBodyReader = (limit, tooLarge) => {
    if (this.#real || this.#consumed) return undefined;
    if (!hasBody(this.method)) return Promise.resolve(new Uint8Array(0));
    this.#consumed = true;
    return readNodeBody(this.#req, limit, tooLarge);
  };
}

/**
 * Collects a Node request body up to `limit` bytes. Past it the stream is paused and left
 * unread (the adapter then closes the connection after the response), so a large upload
 * never sits in memory; a client that goes away mid-body rejects with `aborted`.
 */
function readNodeBody(req: NodeRequest, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  // Gone before the read began: its 'close' has passed and no event would settle the read.
  if (req.destroyed) return Promise.reject(disconnected());
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size <= limit) {
        parts.push(chunk);
        return;
      }
      cleanup();
      req.pause();
      reject(tooLarge());
    };
    const onEnd = (): void => {
      cleanup();
      resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
    };
    // A reset mid-body surfaces as an 'error' (ECONNRESET) or a bare 'close': both mean
    // the client went away, and the handler gets one coded error for it.
    const onError = (error: Error): void => {
      cleanup();
      reject(disconnected(error));
    };
    const onClose = (): void => {
      cleanup();
      reject(disconnected());
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

function disconnected(cause?: Error): SluiceError {
  return new SluiceError('aborted', 'Client disconnected before the request body ended', {
    ...(cause ? { cause } : {}),
  });
}

// Every other member of `Request` (and its body mixin) delegates to the real request.
const OWN = new Set(['constructor', 'method', 'url', 'headers', 'signal', 'bodyUsed']);
for (const name of Object.getOwnPropertyNames(Request.prototype)) {
  if (OWN.has(name)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, name)!;
  if (typeof descriptor.value === 'function') {
    Object.defineProperty(NodeRequestView.prototype, name, {
      configurable: true,
      writable: true,
      value(this: NodeRequestView, ...args: unknown[]) {
        const real = this.real();
        const method = Reflect.get(real, name) as (...a: unknown[]) => unknown;
        return method.apply(real, args);
      },
    });
  } else if (descriptor.get) {
    Object.defineProperty(NodeRequestView.prototype, name, {
      configurable: true,
      get(this: NodeRequestView) {
        return Reflect.get(this.real(), name) as unknown;
      },
    });
  }
}
// undici keeps a request's internals as symbol-keyed own properties (its state, headers,
// signal, dispatcher) and reads them from any `instanceof Request` input: forwarded to the
// real request, so `new Request(view)` and `fetch(view)` work as with a real one.
for (const key of Object.getOwnPropertySymbols(new Request('http://localhost/'))) {
  Object.defineProperty(NodeRequestView.prototype, key, {
    configurable: true,
    get(this: NodeRequestView) {
      return Reflect.get(this.real(), key) as unknown;
    },
  });
}
Object.defineProperty(NodeRequestView.prototype, Symbol.toStringTag, { value: 'Request' });
Object.setPrototypeOf(NodeRequestView.prototype, Request.prototype);

/** `req` as a Web `Request` whose signal is `signal` (see the file comment). */
// The adapter claims SSE responses and writes them to the socket itself (sse/response.ts).
Object.defineProperty(NodeRequestView.prototype, DIRECT_SSE_SERVER, { value: true });

export function toRequest(req: NodeRequest, signal: AbortSignal): Request {
  return new NodeRequestView(req, signal) as unknown as Request;
}
