/**
 * A Web-standard SSE response: an async iterable of events in, a `Response` out.
 *
 * Why not `new ReadableStream({ start() { for await (...) enqueue() } })` as most examples
 * do: that loop ignores backpressure and buffers without limit for a slow client. Here the
 * source is pulled only from `pull()`, i.e. only while the body's byte queue is below
 * `highWaterMark`; a client that stops reading stops the source, and one that stays stalled
 * past `stallTimeout` is disconnected (it resumes later with Last-Event-ID).
 *
 * Teardown: a client disconnect (the body is cancelled), the request's or the option's
 * AbortSignal, a stall, or the end of the source each clear the keepalive and stall timers,
 * remove the abort listeners and call `return()` on the source iterator exactly once.
 */
import { SluiceError } from '../core/errors.js';
import { encodeComment, encodeEvent, encodeRetry, type SseFields } from './encoder.js';

export interface SseSourceContext {
  /** The id the client resumes after (Last-Event-ID header or `lastEventId` query). */
  lastEventId: string | undefined;
  /** Aborts when the response ends for any reason: pass it to whatever the source awaits. */
  signal: AbortSignal;
}

export type SseSource =
  AsyncIterable<SseFields> | ((context: SseSourceContext) => AsyncIterable<SseFields>);

export interface SseResponseOptions {
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
  /** Called once when the stream ends, with the reason when it did not end normally. */
  onClose?: (reason: 'end' | 'cancel' | 'abort' | 'stall' | 'error', error?: unknown) => void;
}

export const SSE_RESPONSE_DEFAULTS = Object.freeze({
  keepAlive: 15_000,
  stallTimeout: 30_000,
  highWaterMark: 64 * 1024,
});

/** Last-Event-ID header first, then the `lastEventId` query parameter (clients without headers). */
export function getLastEventId(request: Request): string | undefined {
  const header = request.headers.get('last-event-id');
  if (header !== null && header !== '') return header;
  const query = new URL(request.url).searchParams.get('lastEventId');
  return query === null || query === '' ? undefined : query;
}

export function sseHeaders(httpVersion?: string, extra?: HeadersInit): Headers {
  const headers = new Headers(extra);
  headers.set('content-type', 'text/event-stream; charset=utf-8');
  headers.set('cache-control', 'no-cache, no-transform');
  headers.set('x-accel-buffering', 'no');
  if (httpVersion?.startsWith('1')) headers.set('connection', 'keep-alive');
  else headers.delete('connection');
  return headers;
}

export function createSseResponse(source: SseSource, options: SseResponseOptions = {}): Response {
  const body = createSseStream(source, options);
  return new Response(body, {
    status: options.status ?? 200,
    headers: sseHeaders(options.httpVersion, options.headers),
  });
}

/** The body alone: a byte stream of SSE text, pulled from the source on demand. */
export function createSseStream(
  source: SseSource,
  options: SseResponseOptions = {},
): ReadableStream<Uint8Array> {
  const keepAlive = option(options.keepAlive, SSE_RESPONSE_DEFAULTS.keepAlive);
  const stallTimeout = option(options.stallTimeout, SSE_RESPONSE_DEFAULTS.stallTimeout);
  const highWaterMark = options.highWaterMark ?? SSE_RESPONSE_DEFAULTS.highWaterMark;
  if (options.retry != null && !(Number.isInteger(options.retry) && options.retry >= 0)) {
    throw new SluiceError('invalid_argument', 'retry must be a non-negative integer (ms)');
  }

  const encoder = new TextEncoder();
  const done = new AbortController();
  const signals = [options.signal, options.request?.signal].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  let iterator: AsyncIterator<SseFields> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;

  const finish = (reason: 'end' | 'cancel' | 'abort' | 'stall' | 'error', error?: unknown) => {
    if (finished) return;
    finished = true;
    clearInterval(keepAliveTimer);
    clearTimeout(stallTimer);
    for (const signal of signals) signal.removeEventListener('abort', onAbort);
    done.abort(error ?? new SluiceError('aborted', `SSE stream ended (${reason})`));
    if (reason !== 'end' && reason !== 'error') {
      // The source did not finish by itself: release it. Errors from return() are the
      // source's own business once the client is gone.
      iterator?.return?.().catch(() => undefined);
    }
    options.onClose?.(reason, error);
  };

  const onAbort = () => {
    if (finished) return;
    finish('abort');
    try {
      controller.close();
    } catch {
      // already closed or errored
    }
  };

  // Enqueue, then watch for a client that stops reading while we have data for it.
  const push = (text: string) => {
    controller.enqueue(encoder.encode(text));
    if (stallTimeout !== null && stallTimer === undefined && (controller.desiredSize ?? 0) <= 0) {
      stallTimer = setTimeout(() => {
        stallTimer = undefined;
        // Read since the timer started (a pull may still be waiting on the source): not stalled.
        if (finished || (controller.desiredSize ?? 0) > 0) return;
        const error = new SluiceError('slow_consumer', 'SSE client stopped reading', {
          details: { stallTimeout },
        });
        finish('stall', error);
        controller.error(error);
      }, stallTimeout);
      unref(stallTimer);
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        if (signals.some((s) => s.aborted)) {
          onAbort();
          return;
        }
        for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
        const iterable =
          typeof source === 'function'
            ? source({
                lastEventId: options.request ? getLastEventId(options.request) : undefined,
                signal: done.signal,
              })
            : source;
        iterator = iterable[Symbol.asyncIterator]();
        // The first bytes go out at once, so proxies and clients see the stream open.
        push(options.retry != null ? encodeRetry(options.retry) : encodeComment('ok'));
        if (keepAlive !== null) {
          keepAliveTimer = setInterval(() => {
            // A stalled client gets no keepalives: they would only grow its queue.
            if ((controller.desiredSize ?? 0) > 0) push(encodeComment());
          }, keepAlive);
          unref(keepAliveTimer);
        }
      },
      async pull() {
        clearTimeout(stallTimer);
        stallTimer = undefined;
        if (finished || !iterator) return;
        let result: IteratorResult<SseFields>;
        try {
          result = await iterator.next();
        } catch (error) {
          if (finished) return;
          finish('error', error);
          controller.error(error);
          return;
        }
        if (finished) return;
        if (result.done) {
          finish('end');
          controller.close();
          return;
        }
        push(encodeEvent(result.value));
      },
      cancel(reason) {
        finish('cancel', reason);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
}

function option(value: number | null | undefined, fallback: number): number | null {
  return value === undefined ? fallback : value;
}

function unref(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) {
    (timer as { unref(): void }).unref();
  }
}
