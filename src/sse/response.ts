/**
 * A Web-standard SSE response: an async iterable of events in, a `Response` out.
 *
 * Why not `new ReadableStream({ start() { for await (...) enqueue() } })` as most examples
 * do: that loop ignores backpressure and buffers without limit for a slow client. Here the
 * source is pulled only from `pull()`, i.e. only while the body's byte queue is below
 * `highWaterMark`; a client that stops reading stops the source, and one that stays stalled
 * past `stallTimeout` is disconnected (it resumes later with Last-Event-ID).
 *
 * The body is lazy: nothing is pulled before the first read. The Node adapter uses that to
 * write the events straight to the socket instead (`claimDirectSse`), with the same pump.
 *
 * Teardown: a client disconnect (the body is cancelled), the request's or the option's
 * AbortSignal, a stall, or the end of the source each clear the keepalive and stall timers,
 * remove the abort listeners and call `return()` on the source iterator exactly once.
 */
import { checkCount, checkDelay } from '../core/check-options.js';
import { SluiceError } from '../core/errors.js';
import { encodeEvent, type SseFields } from './encoder.js';
import { LazyBodyResponse } from './lazy-body-response.js';
import {
  SsePump,
  encodeUtf8,
  type SseChunk,
  type SseCloseReason,
  type SseSink,
} from './sse-pump.js';

export interface SseSourceContext {
  /** The id the client resumes after (Last-Event-ID header or `lastEventId` query). */
  lastEventId: string | undefined;
  /** Aborts when the response ends for any reason: pass it to whatever the source awaits. */
  signal: AbortSignal;
  /**
   * Sends `fields` first, with the stream's opening bytes (call it before returning). A live
   * source uses it to give the client an `id` before any event, so that a connection lost
   * before the first event still resumes with Last-Event-ID.
   */
  open: (fields: SseFields) => void;
}

/** Events as fields to encode, or as bytes already encoded (e.g. shared by many clients). */
export type SseSource<T = SseChunk> =
  AsyncIterable<T> | ((context: SseSourceContext) => AsyncIterable<T>);

export interface SseResponseOptions<T = SseChunk> {
  /**
   * Turns each source item into an event (fields or encoded bytes). Required when the source
   * does not yield events itself; cheaper than wrapping the source in a mapping generator.
   */
  map?: (item: T) => SseChunk;
  /** Reads Last-Event-ID / `?lastEventId=` and ends the stream when its signal aborts. */
  request?: Request;
  /** Sent first as `retry:` (client reconnection delay, ms). `null`/`undefined`: not sent. */
  retry?: number | null;
  /** Interval of keepalive comments, ms. `null` disables. */
  keepAlive?: number | null;
  /** Disconnect a client that has not read for this long while data waits, ms. `null` disables. */
  stallTimeout?: number | null;
  /** Bytes buffered in the body before the source is no longer pulled. */
  highWaterMark?: number;
  /** Extra response headers (cannot override the SSE ones). */
  headers?: HeadersInit;
  /** '1.1' or '2.0'. `Connection: keep-alive` is sent only on HTTP/1.x (forbidden on HTTP/2). */
  httpVersion?: string;
  status?: number;
  signal?: AbortSignal;
  /**
   * Called once when the stream ends, after the body was ended, with the reason when it did
   * not end normally. A hook that throws does not disturb the teardown or other streams: its
   * error is logged with `console.error`.
   */
  onClose?: (reason: SseCloseReason, error?: unknown) => void;
}

export const SSE_RESPONSE_DEFAULTS = Object.freeze({
  keepAlive: 15_000,
  stallTimeout: 30_000,
  highWaterMark: 64 * 1024,
});

/** Last-Event-ID header first, then the `lastEventId` query parameter (clients without headers). */
export function getLastEventId(request: Request): string | undefined {
  const header = request.headers.get('last-event-id');
  if (header !== null && header !== '') return fromUtf8Bytes(header);
  const query = new URL(request.url).searchParams.get('lastEventId');
  return query === null || query === '' ? undefined : query;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Clients send Last-Event-ID as the UTF-8 bytes of the id (C13), and a header value reaches
 * us as a byte string (one char per byte), so a non-ASCII id must be decoded to match the
 * `id:` it came from. Bytes that are not UTF-8, or a value some runtime already decoded
 * (chars past U+00FF), are kept as they are.
 */
function fromUtf8Bytes(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return strictUtf8.decode(Uint8Array.from(value, (char) => char.charCodeAt(0)));
  } catch {
    return value;
  }
}

/**
 * `Connection: keep-alive` only on HTTP/1.x, and not when the client asked to close the
 * connection (a Node server would otherwise keep the socket open after the stream).
 */
export function sseHeaders(httpVersion?: string, extra?: HeadersInit, request?: Request): Headers {
  const headers = new Headers(extra);
  for (const [name, value] of SSE_HEADER_PAIRS) headers.set(name, value);
  if (keepsConnection(httpVersion, request)) headers.set('connection', 'keep-alive');
  else headers.delete('connection');
  return headers;
}

function keepsConnection(httpVersion?: string, request?: Request): boolean {
  return (
    httpVersion?.startsWith('1') === true &&
    !/\bclose\b/i.test(request?.headers.get('connection') ?? '')
  );
}

type HeaderPairs = readonly (readonly [string, string])[];
const SSE_HEADER_PAIRS: HeaderPairs = [
  ['content-type', 'text/event-stream; charset=utf-8'],
  ['cache-control', 'no-cache, no-transform'],
  ['x-accel-buffering', 'no'],
];
const SSE_KEEP_ALIVE_PAIRS: HeaderPairs = [...SSE_HEADER_PAIRS, ['connection', 'keep-alive']];

/**
 * `sseHeaders()` as a Response's init takes them. Without extra headers these are constant
 * pairs, which the Response copies once: no Headers object made only to be copied.
 */
function sseHeadersInit(
  httpVersion?: string,
  extra?: HeadersInit,
  request?: Request,
): Headers | HeaderPairs {
  if (extra !== undefined) return sseHeaders(httpVersion, extra, request);
  return keepsConnection(httpVersion, request) ? SSE_KEEP_ALIVE_PAIRS : SSE_HEADER_PAIRS;
}

/**
 * A handle the Node adapter uses to drive the same pump straight into a `ServerResponse`.
 * Claiming it is exclusive: once claimed the Web body is dead, and once the Web body has
 * been read the handle can no longer be claimed.
 */
/** What a running stream offers its driver: stopping it when the client went away. */
export interface SseStreamControl {
  cancel(reason?: unknown): void;
}

export interface DirectSse {
  claim(): ((sink: SseSink) => SseStreamControl) | undefined;
}

const DIRECT = Symbol.for('sluice.sse.direct');

/**
 * Set (to true) on requests whose server claims SSE responses with `claimDirectSse` and
 * never reads their Web body: sluice's Node adapter marks its request views with it. Only
 * for those does `createSseResponse` return a Response whose body stream is made lazily;
 * any other server gets an ordinary Response with its stream. Why opt-in: a server may
 * replace the global `Response` with a class of its own and read a Response through its
 * own fields rather than through `body` (@hono/node-server does), which a Response built
 * without a body would then answer with an empty one.
 */
export const DIRECT_SSE_SERVER = Symbol.for('sluice.sse.directServer');

export function claimDirectSse(
  response: Response,
): ((sink: SseSink) => SseStreamControl) | undefined {
  const direct = (response as Response & { [DIRECT]?: DirectSse })[DIRECT];
  return direct && !response.bodyUsed ? direct.claim() : undefined;
}

/**
 * Under sluice's Node adapter (`DIRECT_SSE_SERVER`), the Response's body stream is made only
 * if something reads the body (lazy-body-response.ts): the adapter writes the events to the
 * socket instead.
 */
export function createSseResponse<T = SseChunk>(
  source: SseSource<T>,
  options: SseResponseOptions<T> = {},
): Response {
  const { body, direct } = createSse(source, options);
  const init = {
    status: options.status ?? 200,
    headers: sseHeadersInit(options.httpVersion, options.headers, options.request) as HeadersInit,
  };
  // A status that cannot have a body fails here, as a Response given the stream would.
  const lazy =
    (options.request as { [DIRECT_SSE_SERVER]?: boolean } | undefined)?.[DIRECT_SSE_SERVER] ===
      true && !NULL_BODY_STATUSES.has(init.status);
  const response = lazy ? new LazyBodyResponse(body, init) : new Response(body(), init);
  Object.defineProperty(response, DIRECT, { value: direct });
  return response;
}

/** Statuses a Response with a body refuses (Fetch: null body status, plus 101 and 103). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The body alone: a byte stream of SSE text, pulled from the source on demand. */
export function createSseStream<T = SseChunk>(
  source: SseSource<T>,
  options: SseResponseOptions<T> = {},
): ReadableStream<Uint8Array> {
  return createSse(source, options).body();
}

/** `body()` makes the body stream (once); `direct` is the Node adapter's way around it. */
function createSse<T>(
  source: SseSource<T>,
  options: SseResponseOptions<T>,
): { body: () => ReadableStream<Uint8Array>; direct: DirectSse } {
  const retry = options.retry ?? null;
  if (retry !== null && !(Number.isInteger(retry) && retry >= 0)) {
    throw new SluiceError('invalid_argument', 'retry must be a non-negative integer (ms)');
  }
  // Checked, not trusted: a timer turns a delay past 2^31 - 1 ms, 0 or NaN into about 1 ms
  // (a stall timeout that cuts every client at once, a keepalive flood), and a NaN limit
  // makes every write look full.
  const highWaterMark = checkCount(
    'highWaterMark',
    options.highWaterMark ?? SSE_RESPONSE_DEFAULTS.highWaterMark,
    1,
  );
  // What the stream needs from `options` and the request is read now, into locals the
  // closures below use: the stream then keeps neither alive (a request view holds its
  // headers and URL), only these values.
  const { map, onClose } = options;
  const keepAlive = delay('keepAlive', options.keepAlive, SSE_RESPONSE_DEFAULTS.keepAlive);
  const stallTimeout = delay(
    'stallTimeout',
    options.stallTimeout,
    SSE_RESPONSE_DEFAULTS.stallTimeout,
  );
  const signals = [options.signal, options.request?.signal].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  const lastEventId =
    typeof source === 'function' && options.request ? getLastEventId(options.request) : undefined;
  let started = false;
  const start = (sink: SseSink): SseStreamControl => {
    started = true;
    let iterable = source;
    let done: SourceSignal | undefined;
    let opening: string | undefined;
    if (typeof iterable === 'function') {
      const lazy = (done = new SourceSignal());
      iterable = iterable({
        lastEventId,
        get signal() {
          return lazy.signal;
        },
        open: (fields) => void (opening = encodeEvent(fields)),
      });
    }
    const pump = new SsePump<T>(iterable[Symbol.asyncIterator](), sink, {
      map,
      done,
      retry,
      opening,
      keepAlive,
      stallTimeout,
      signals,
      onClose,
    });
    void pump.run();
    return pump;
  };

  let pump: SseStreamControl | undefined;
  let room: (() => void) | undefined;
  let stream: ReadableStream<Uint8Array> | undefined;
  const body = (): ReadableStream<Uint8Array> =>
    (stream ??= new ReadableStream<Uint8Array>(
      {
        // Lazy: the pump starts on the first read, so an unread body costs nothing.
        pull(controller) {
          if (!pump) {
            if (started) {
              controller.error(new SluiceError('invalid_argument', 'SSE body already claimed'));
              return;
            }
            pump = start(webSink(controller, highWaterMark, () => new Promise((r) => (room = r))));
          }
          room?.();
          room = undefined;
        },
        cancel(reason) {
          pump?.cancel(reason);
          room?.();
        },
      },
      // High-water mark 0 keeps the stream lazy; the sink bounds the queue by bytes itself.
      new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
    ));
  const direct: DirectSse = { claim: () => (started ? undefined : ((started = true), start)) };
  return { body, direct };
}

/**
 * The signal a source function gets (`context.signal`), made only if the source reads it:
 * an AbortController and its signal are about 0.9 KB, kept for the life of every stream,
 * and a source such as a broker subscription needs none (the pump ends it with `return()`).
 * Read after the stream ended, it is already aborted, with the same reason.
 */
class SourceSignal {
  #controller: AbortController | undefined;
  #ended = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    if (this.#ended) return AbortSignal.abort(this.#reason);
    this.#controller = new AbortController();
    return this.#controller.signal;
  }

  abort(reason?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** A sink over a ReadableStream controller: full once `highWaterMark` bytes wait unread. */
function webSink(
  controller: ReadableStreamDefaultController<Uint8Array>,
  highWaterMark: number,
  waitForPull: () => Promise<void>,
): SseSink {
  let closed = false;
  return {
    write(bytes) {
      if (closed) return true;
      controller.enqueue(bytes);
      return -(controller.desiredSize ?? 0) < highWaterMark;
    },
    ready: () => (closed ? Promise.resolve() : waitForPull()),
    end(last) {
      if (closed) return;
      closed = true;
      if (last !== undefined) controller.enqueue(encodeUtf8(last));
      controller.close();
    },
    fail(error) {
      if (closed) return;
      closed = true;
      controller.error(error);
    },
  };
}

/** A timer option: the default when undefined, `null` (off), or a delay a timer can wait. */
function delay(name: string, value: number | null | undefined, fallback: number): number | null {
  if (value === null) return null;
  return checkDelay(name, value ?? fallback, 1);
}
