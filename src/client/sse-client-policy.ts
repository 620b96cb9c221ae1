/**
 * The SSE client's defaults and the small pure decisions it makes: retry or stop, whether a
 * Content-Type is an event stream, how `Last-Event-ID` goes on the wire, the silence timer.
 */
import { SluiceError } from '../core/errors.js';
import { checkDelay } from '../core/check-options.js';
import type { SseRetryContext } from './sse-client-types.js';

export const SSE_CLIENT_DEFAULTS = Object.freeze({
  method: 'GET',
  /** 3× the server's 15 s keepalive: a half-open TCP connection is noticed within 45 s. */
  inactivityTimeout: 45_000,
  /** A connection that lasted 5 s counts as a success: the backoff starts small again. */
  minUptime: 5_000,
  /** Unlimited. */
  maxRetries: null,
  /** Events waiting for a `for await` consumer before reads from the network pause. */
  maxQueuedEvents: 256,
});

/**
 * The default retry policy.
 *
 * The spec fails the connection on any status other than 200 (C5). We keep that for what a
 * retry cannot fix, and extend it where users need it (as LaunchDarkly's client does):
 * - 204 never gets here: it always stops, as the standard "do not reconnect" (C6).
 * - 408 and 429 are retried: the server asks to come back later.
 * - other 4xx stop: auth, not found, gone… will not heal by waiting.
 * - 5xx are retried (the documented extension): deploys and overloaded proxies recover.
 * - 1xx, 2xx other than 200, and unfollowed 3xx stop, as in the spec.
 * - network errors, inactivity timeouts and clean ends of the body are retried (C10, C11).
 */
export function defaultShouldRetry(context: SseRetryContext): boolean {
  const { status } = context;
  if (context.code !== 'bad_status' || status === undefined) return true;
  if (status === 408 || status === 429) return true;
  return status >= 500 && status <= 599;
}

/**
 * True when the MIME type's essence is `text/event-stream`: case-insensitive, parameters
 * allowed, surrounding whitespace ignored (C7). A missing header is not an event stream.
 */
export function isEventStreamContentType(value: string | null): boolean {
  if (value === null) return false;
  const semicolon = value.indexOf(';');
  const essence = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return essence === 'text/event-stream';
}

/**
 * Fetch header values are byte strings, so a non-ASCII id would be sent as Latin-1 or
 * rejected. The spec sends the UTF-8 encoding (C13): one char per UTF-8 byte does that.
 */
export function encodeHeaderValue(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) out += String.fromCharCode(byte);
  return out;
}

/** `Retry-After` in delta-seconds, as ms; `undefined` when absent or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value.trim()) * 1000;
}

/**
 * Aborts the attempt's controller after `ms` without a byte (a half-open TCP connection
 * otherwise hangs forever). Unref'd: the open socket, not this timer, keeps Node alive.
 */
export class InactivityTimer {
  readonly #ms: number | null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number | null) {
    this.#ms = ms === null ? null : checkDelay('inactivityTimeout', ms, 1);
  }

  /** (Re)starts the countdown: called when an attempt starts and on every chunk. */
  arm(controller: AbortController): void {
    const ms = this.#ms;
    if (ms === null) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const message = `No bytes received for ${ms} ms`;
      controller.abort(new SluiceError('sse_inactivity_timeout', message));
    }, ms);
    unrefTimer(this.#timer);
  }

  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Timers must not keep a process alive on their own (Node); a no-op in browsers. */
function unrefTimer(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) {
    const unref = (timer as { unref?: unknown }).unref;
    if (typeof unref === 'function') unref.call(timer);
  }
}
