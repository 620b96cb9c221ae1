/**
 * One attempt's request and response checks, kept apart from the connection state machine:
 * building the `RequestInit` (headers re-evaluated per attempt, UTF-8 Last-Event-ID), and
 * turning a response or a thrown error into a coded failure.
 */
import { SluiceError, truncate } from '../core/errors.js';
import {
  SSE_CLIENT_DEFAULTS,
  encodeHeaderValue,
  isEventStreamContentType,
  parseRetryAfter,
} from './sse-client-policy.js';
import type { SseClientOptions, SseFailureCode, SseFetchResponse } from './sse-client-types.js';

/** Why one attempt ended, with what the retry policy needs to decide. */
export interface Failure {
  code: SseFailureCode;
  status?: number | undefined;
  error?: SluiceError | undefined;
  /** The server's `Retry-After`, in ms, on a failed status. */
  retryAfter?: number | undefined;
}

export async function buildRequestInit(
  options: SseClientOptions,
  lastEventId: string,
  signal: AbortSignal,
): Promise<RequestInit> {
  const given = typeof options.headers === 'function' ? await options.headers() : options.headers;
  const headers = new Headers(given);
  // C3: the spec's request. Cache-Control is not added: it would force a CORS preflight.
  if (!headers.has('accept')) headers.set('accept', 'text/event-stream');
  // C13: sent whenever non-empty (also on a first connect given options.lastEventId).
  if (lastEventId !== '') headers.set('last-event-id', encodeHeaderValue(lastEventId));
  const init: RequestInit = {
    method: options.method ?? SSE_CLIENT_DEFAULTS.method,
    headers,
    signal,
    cache: 'no-store',
    redirect: 'follow',
  };
  const body = typeof options.body === 'function' ? await options.body() : options.body;
  if (body !== undefined) init.body = body as BodyInit;
  // Only when asked: some runtimes (Cloudflare Workers) throw on `credentials`.
  if (options.credentials !== undefined) init.credentials = options.credentials;
  return init;
}

/**
 * The fetch's response, or a rejection with the signal's reason once it aborts (inactivity,
 * close()): a custom fetch may ignore the signal, and a server that never sends headers
 * would then hold the attempt forever. A response that still comes later is released.
 */
export function untilAborted(
  fetched: Promise<SseFetchResponse>,
  signal: AbortSignal,
): Promise<SseFetchResponse> {
  // As `await` did: a custom fetch written in plain JS may return a response, not a promise.
  const pending = Promise.resolve(fetched);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      pending.then(
        (late) => void late.body?.cancel().catch(() => undefined),
        () => undefined,
      );
      reject(asError(signal.reason));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (response) => {
        signal.removeEventListener('abort', onAbort);
        resolve(response);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(asError(error));
      },
    );
  });
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** C5, C7: anything but 200 with a `text/event-stream` essence fails the attempt. */
export function checkResponse(response: SseFetchResponse): Failure | undefined {
  const { status, headers } = response;
  if (status !== 200) {
    const message = `Expected HTTP 200 from the event stream, got ${status}`;
    return {
      code: 'bad_status',
      status,
      error: new SluiceError('sse_bad_status', message, { status }),
      retryAfter: parseRetryAfter(headers.get('retry-after')),
    };
  }
  const type = headers.get('content-type');
  if (isEventStreamContentType(type)) return undefined;
  const message = `Expected Content-Type text/event-stream, got ${truncate(type ?? 'none', 100)}`;
  return {
    code: 'bad_content_type',
    status,
    error: new SluiceError('sse_bad_content_type', message, { status }),
  };
}

/** A thrown fetch or read error, or the inactivity timer's abort reason, as a failure. */
export function failureFromError(error: unknown, abortReason: unknown): Failure {
  if (abortReason instanceof SluiceError && abortReason.code === 'sse_inactivity_timeout') {
    return { code: 'inactivity_timeout', error: abortReason };
  }
  const message = `Event stream request failed: ${errorMessage(error)}`;
  return {
    code: 'network_error',
    error: new SluiceError('sse_network_error', message, { cause: error }),
  };
}

export function describeFailure(failure: Failure): string {
  return failure.error?.message ?? 'The server ended the event stream';
}

/** C1: relative URLs resolve against the page in a browser; a bad URL throws at once. */
export function resolveUrl(url: string | URL): string {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  const base = typeof location?.href === 'string' ? location.href : undefined;
  try {
    return new URL(String(url), base).href;
  } catch {
    throw new SluiceError('invalid_argument', `Invalid event stream URL: ${String(url)}`);
  }
}

export function toSluiceError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  return new SluiceError('sse_network_error', errorMessage(error), { cause: error });
}

/** undici hides the useful part ("ECONNREFUSED") in `cause`. */
function errorMessage(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const text = error instanceof Error ? error.message : String(error);
  return cause instanceof Error ? `${text} (${cause.message})` : text;
}
