/**
 * Node `http`/`http2` adapter for Web-standard handlers. It only converts: a Node request
 * becomes a `Request` whose signal fires on disconnect, and a `Response` body is written
 * with backpressure (the next chunk is read only after the socket drained), so a slow
 * client holds the handler's stream back instead of growing Node's write buffer.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { SluiceError } from '../core/errors.js';
import { claimDirectSse } from '../sse/response.js';
import {
  chunkedSocketWriter,
  drainedOrClosed,
  type ChunkedSocketWriter,
} from './chunked-socket-writer.js';
import type { SseSink } from '../sse/sse-pump.js';
import type { RequestContext, RouteHandler } from './handler.js';
import { toRequest, type NodeRequest } from './node-request.js';

type NodeResponse = ServerResponse | Http2ServerResponse;

/** The cancel reason of a direct SSE stream whose socket closed (shared: no stack per close). */
const CLIENT_DISCONNECTED = new SluiceError('aborted', 'Client disconnected');

/**
 * Headers that are connection-specific: forbidden on HTTP/2 responses (RFC 9113 8.2.2), and
 * every one Node refuses there with a throw from `writeHead`.
 */
const HTTP1_ONLY_HEADERS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'http2-settings',
];

export interface NodeHandlerOptions {
  /** Aborts every in-flight request's signal (server shutdown). */
  signal?: AbortSignal;
  /** Answer for requests no handler took. Defaults to a 404 JSON error. */
  notFound?: (request: Request) => Response;
  /** Called with errors a handler threw; the client gets a 500 JSON error. */
  onError?: (error: unknown) => void;
}

export function toNodeHandler(
  handler: RouteHandler,
  options: NodeHandlerOptions = {},
): (req: NodeRequest, res: NodeResponse) => void {
  const inFlight = shutdownFanOut(options.signal);
  return (req, res) => {
    serve(handler, req, res, options, inFlight).catch((error: unknown) => {
      // Writing the response threw (Node refused a header, say): that one response breaks,
      // it does not become an unhandled rejection, which would end the process.
      options.onError?.(error);
      res.destroy();
    });
  };
}

/**
 * One listener on the shutdown signal for every request in flight, instead of an
 * `AbortSignal.any()` per request (tens of microseconds each, on every request).
 */
function shutdownFanOut(shutdown: AbortSignal | undefined): Set<AbortController> | undefined {
  if (!shutdown) return undefined;
  const inFlight = new Set<AbortController>();
  shutdown.addEventListener(
    'abort',
    () => {
      for (const controller of inFlight) controller.abort(shutdown.reason);
      inFlight.clear();
    },
    { once: true },
  );
  return inFlight;
}

async function serve(
  handler: RouteHandler,
  req: NodeRequest,
  res: NodeResponse,
  options: NodeHandlerOptions,
  inFlight: Set<AbortController> | undefined,
): Promise<void> {
  const controller = new AbortController();
  const signal = controller.signal;
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  else inFlight?.add(controller);
  let closed = false;
  const onClose = () => {
    closed = true;
    inFlight?.delete(controller);
    // `writableEnded`, not `writableFinished`: on HTTP/2 a stream the client reset reports
    // itself finished, and the handler's signal would never learn of the disconnect.
    if (!res.writableEnded) controller.abort(new SluiceError('aborted', 'Client disconnected'));
  };
  // `on`, not `once`: 'close' fires once, and `once` adds a wrapper per stream.
  res.on('close', onClose);
  // The remote address is read when a handler asks for it, not for every request: reading
  // it costs a `getpeername` system call, and most handlers never look. An own, enumerable
  // getter, so a handler that copies the context (`{ ...context }`) still gets the value.
  // Node keeps it once read; first read after the connection closed, it is `undefined`.
  const socket = req.socket;
  const context: RequestContext = {
    signal,
    httpVersion: req.httpVersion,
    get remoteAddress() {
      return socket.remoteAddress;
    },
  };
  let response: Response;
  try {
    const request = toRequest(req, signal);
    response = (await handler(request, context)) ?? (options.notFound ?? defaultNotFound)(request);
  } catch (error) {
    options.onError?.(error);
    response = errorResponse(error);
  }
  // A body we refused unread (413, 415...) would otherwise keep the connection busy
  // receiving bytes nobody reads: close it after the response instead.
  const unread = 'complete' in req && !req.complete && !req.httpVersion.startsWith('2');
  // Returned, not awaited: this function's frame (the Request, the Response and its
  // headers) is then not kept for the life of a stream, only what `settled` needs.
  const settled = () => {
    res.off('close', onClose);
    inFlight?.delete(controller);
  };
  if (closed) {
    // The client left while the handler worked: its 'close' has fired, so nothing would
    // stop a stream written now. Release the body instead (a source is returned).
    releaseBody(response, CLIENT_DISCONNECTED);
    settled();
    return;
  }
  if (req.method === 'HEAD') {
    writeHeadOnly(response, res, req.httpVersion);
    settled();
    return;
  }
  return writeResponse(response, res, req.httpVersion, unread).finally(settled);
}

/**
 * A HEAD answer: the status and headers a GET would get, no body. A streaming body is never
 * sent (Node drops the writes), so it is released at once instead of running until the
 * client hangs up: an SSE stream is started on a sink that takes nothing and cancelled, which
 * returns its source (a broker subscription, a generation's reader); any other body is
 * cancelled.
 */
function writeHeadOnly(response: Response, res: NodeResponse, httpVersion: string): void {
  (res as ServerResponse).writeHead(response.status, responseHeaders(response, httpVersion));
  releaseBody(response, HEAD_REQUEST);
  res.end();
}

/** Stops a body that will not be sent: an SSE stream's source is returned, others cancelled. */
function releaseBody(response: Response, reason: SluiceError): void {
  const direct = claimDirectSse(response);
  if (direct) direct(DISCARDING_SINK).cancel(reason);
  else response.body?.cancel(reason).catch(() => undefined);
}

/** A Response's headers for `writeHead` (cookies kept apart; none forbidden on HTTP/2). */
function responseHeaders(
  response: Response,
  httpVersion: string,
): Record<string, string | string[]> {
  const http2 = httpVersion.startsWith('2');
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (http2 && HTTP1_ONLY_HEADERS.includes(name)) return;
    if (name === 'set-cookie') return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  return headers;
}

/** The cancel reason of a stream answered to a HEAD request (shared: no stack per request). */
const HEAD_REQUEST = new SluiceError('aborted', 'HEAD request: no body is sent');

const DISCARDING_SINK: SseSink = {
  write: () => true,
  ready: () => Promise.resolve(),
  end: () => undefined,
  fail: () => undefined,
};

async function writeResponse(
  response: Response,
  res: NodeResponse,
  httpVersion: string,
  closeAfter = false,
): Promise<void> {
  const headers = responseHeaders(response, httpVersion);
  if (closeAfter) headers['connection'] = 'close';
  (res as ServerResponse).writeHead(response.status, headers);
  // Claimed before `response.body` is read: an SSE response makes its Web body stream only
  // when something reads it (sse/lazy-body-response.ts), and this path never needs it.
  const direct = claimDirectSse(response);
  if (direct) {
    noDelay(res);
    // The SSE pump writes its first bytes at once: the headers go out with them, in one write.
    return writeSseDirect(direct, res);
  }
  const body = response.body;
  if (!body) {
    res.end();
    return;
  }
  noDelay(res);
  // Other streams start at once too: the status line and headers before the first chunk.
  (res as ServerResponse).flushHeaders();

  const reader = body.getReader();
  const onClose = () => {
    reader.cancel(new SluiceError('aborted', 'Client disconnected')).catch(() => undefined);
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!(res as ServerResponse).write(value)) await drainedOrClosed(res);
    }
    res.end();
  } catch {
    // The body errored (e.g. a stalled SSE client was cut off): end the connection without
    // a clean terminator so the client knows the stream broke and resumes.
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

/** Streamed bodies go out as written, not held back by Nagle's algorithm. */
function noDelay(res: NodeResponse): void {
  const socket = 'socket' in res ? res.socket : null;
  if (socket && 'setNoDelay' in socket) socket.setNoDelay(true);
}

/**
 * SSE responses skip the Web stream layer: the same pump (pull-on-room, keepalive, stall
 * timeout, teardown) writes straight to the socket and waits for 'drain' when it is full.
 */
function writeSseDirect(
  start: (sink: SseSink) => { cancel(reason?: unknown): void },
  res: NodeResponse,
): Promise<void> {
  return new Promise((resolve) => {
    const pump = start(new NodeSseSink(res, resolve));
    res.on('close', () => {
      // Also runs after a normal end (then cancel does nothing): no new error per stream.
      pump.cancel(CLIENT_DISCONNECTED);
      resolve();
    });
  });
}

/**
 * The pump's sink over a Node response. The first write goes through the response (it
 * carries the headers); after it, on HTTP/1.1, chunks are framed once and written to the
 * socket (chunked-socket-writer.ts). A class, not an object of closures: it is held for the
 * life of every stream.
 */
class NodeSseSink implements SseSink {
  readonly #res: NodeResponse;
  readonly #settled: () => void;
  #chunked: ChunkedSocketWriter | undefined;
  #first = true;

  constructor(res: NodeResponse, settled: () => void) {
    this.#res = res;
    this.#settled = settled;
  }

  write(bytes: Uint8Array): boolean {
    return this.#chunked ? this.#chunked.write(bytes) : this.#viaResponse(bytes);
  }

  writeText(text: string): boolean {
    return this.#chunked ? this.#chunked.writeText(text) : this.#viaResponse(text);
  }

  ready(): Promise<void> {
    return this.#chunked ? this.#chunked.ready() : drainedOrClosed(this.#res);
  }

  end(last?: string): void {
    const res = this.#res;
    // After a disconnect there is nothing to end (and ending would mark it finished).
    if (!res.destroyed) {
      if (last === undefined) res.end();
      else if (!this.#chunked) res.end(last);
      else this.#chunked.writeTextThen(last, () => res.end());
    }
    this.#settled();
  }

  fail(): void {
    // Cut without a clean terminator, so the client knows the stream broke and resumes.
    this.#res.destroy();
    this.#settled();
  }

  #viaResponse(data: Uint8Array | string): boolean {
    const res = this.#res;
    if (res.destroyed) return true;
    const room = (res as ServerResponse).write(data);
    if (this.#first) {
      this.#first = false;
      this.#chunked = 'chunkedEncoding' in res ? chunkedSocketWriter(res) : undefined;
    }
    return room;
  }
}

function defaultNotFound(request: Request): Response {
  const path = new URL(request.url).pathname;
  return errorResponse(new SluiceError('not_found', `No route for ${request.method} ${path}`));
}

/** HTTP statuses of the codes that reach HTTP responses (docs/errors.md lists them all). */
export const STATUS_BY_CODE: Partial<Record<SluiceError['code'], number>> = {
  bad_request: 400,
  invalid_json: 400,
  invalid_channel: 400,
  invalid_event_name: 400,
  reserved_event_name: 400,
  invalid_argument: 400,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  too_many_requests: 429,
  too_many_connections: 429,
  shutting_down: 503,
};

/** The JSON error response every route uses: `{ "error": { "code", "message" } }`. */
export function errorResponse(error: unknown, headers?: HeadersInit): Response {
  const sluiceError =
    error instanceof SluiceError
      ? error
      : new SluiceError('internal_error', 'Internal server error', { cause: error });
  const status = sluiceError.status ?? STATUS_BY_CODE[sluiceError.code] ?? 500;
  return Response.json(sluiceError.toJSON(), headers ? { status, headers } : { status });
}
