/**
 * A fetch-based Server-Sent Events client for browsers, Node, Deno, Bun and workers.
 *
 * Spec-exact where the WHATWG EventSource is right, with the extensions it lacks: method,
 * headers (re-evaluated per attempt), body, custom fetch, backoff with full jitter, a retry
 * policy, an inactivity timeout, `for await` with backpressure, and coded state changes.
 *
 * State machine (`readyState`, and the `code` of each `statechange`):
 *
 *   CONNECTING --200 + text/event-stream--> OPEN                          (open)
 *   OPEN --body ends / network error / silence--> CONNECTING              (server_closed,
 *                                                    network_error, inactivity_timeout)
 *   CONNECTING --failed attempt, retried--> CONNECTING  (no statechange; an `error` event
 *                                                        with the code and the delay)
 *   any --close(), signal, leaving for-await--> CLOSED                    (closed_by_client)
 *   any --204--> CLOSED                                                   (no_content)
 *   any --wrong Content-Type--> CLOSED                                    (bad_content_type)
 *   any --shouldRetry says no--> CLOSED                                   (retry_stopped)
 *   any --maxRetries consecutive failures--> CLOSED                       (retries_exhausted)
 *
 * Every failed attempt fires `error` (as the spec does), after the state is set. `close()`
 * is synchronous and idempotent: it aborts the fetch, clears the timers, fires only its own
 * `statechange`, and nothing after it, not even events already parsed from the same chunk.
 *
 * Reconnect delay = the server's `retry:` (clamped to `backoff.maxDelay`, since timers turn
 * huge values into ~1 ms) + a full-jitter backoff draw (1 s, ×2 per failure, 30 s cap).
 * The spec waits the reconnection time and allows backoff on top (§9.2.3 step 3); adding
 * rather than flooring keeps the jitter, so clients given the same `retry:` do not all
 * return at the same instant. A `Retry-After` on a retried status is honoured as a minimum.
 * A connection that stayed up `minUptime` (5 s) resets the backoff and the retry count.
 *
 * Defaults are in `SSE_CLIENT_DEFAULTS` (inactivity 45 s, queue 256 events) and
 * `defaultShouldRetry` (204 and 4xx stop, except 408/429; 5xx and network errors retry).
 *
 * The reconnect timer is deliberately not unref'd: a live client keeps a Node process
 * running during a backoff wait, as its socket does while connected (a process that exits
 * silently mid-stream was undici#4247). The inactivity timer is unref'd; `close()` clears both.
 */
import { BACKOFF_DEFAULTS, Backoff } from '../core/backoff.js';
import { SluiceError } from '../core/errors.js';
import { createParser } from '../sse/parser.js';
import { SSE_CLIENT_DEFAULTS, defaultShouldRetry, unrefTimer } from './sse-client-policy.js';
import { EventQueue } from './sse-client-queue.js';
import {
  buildRequestInit,
  checkResponse,
  describeFailure,
  failureFromError,
  resolveUrl,
  toSluiceError,
  type Failure,
} from './sse-client-request.js';
import {
  SSE_READY_STATE,
  SseErrorEvent,
  SseEventTarget,
  SseOpenEvent,
  SseStateChangeEvent,
  type SseClientEvent,
  type SseClientOptions,
  type SseFetch,
  type SseReadyState,
  type SseStateCode,
} from './sse-client-types.js';

const { CONNECTING, OPEN, CLOSED } = SSE_READY_STATE;

export class SseClient extends SseEventTarget implements AsyncIterable<SseClientEvent> {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSED = CLOSED;

  /** The request URL, resolved; every reconnect fetches it again (C14). */
  readonly url: string;
  readonly #options: SseClientOptions;
  readonly #fetch: SseFetch;
  readonly #backoff: Backoff;
  readonly #maxDelay: number;
  readonly #parser: ReturnType<typeof createParser>;
  #readyState: SseReadyState = CONNECTING;
  #lastEventId: string;
  #reconnectionTime = 0;
  #failures = 0;
  #openedAt: number | undefined;
  #origin: string;
  #attempt: AbortController | undefined;
  #inactivityTimer: ReturnType<typeof setTimeout> | undefined;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #queue: EventQueue<SseClientEvent> | undefined;
  #endError: SluiceError | undefined;
  readonly #onAbort = (): void => this.close('the signal was aborted');

  constructor(url: string | URL, options: SseClientOptions = {}) {
    super();
    this.url = resolveUrl(url);
    this.#origin = new URL(this.url).origin;
    this.#options = options;
    this.#lastEventId = options.lastEventId ?? '';
    if (/[\0\r\n]/.test(this.#lastEventId)) {
      throw new SluiceError('invalid_argument', 'lastEventId cannot contain NUL, CR or LF');
    }
    const fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (fetch === undefined) {
      throw new SluiceError('invalid_argument', 'No global fetch here: pass options.fetch');
    }
    this.#fetch = fetch;
    this.#backoff = new Backoff(options.backoff);
    this.#maxDelay = options.backoff?.maxDelay ?? BACKOFF_DEFAULTS.maxDelay;
    this.#parser = createParser(
      {
        onEvent: (event) => this.#onEvent(event),
        // F10: a huge retry would overflow timers into a reconnect storm; clamp it.
        onRetry: (ms) => (this.#reconnectionTime = Math.min(ms, this.#maxDelay)),
        // F7: an `id` in a block without data still moves the resume point.
        onId: (id) => {
          if (this.#open) this.#lastEventId = id;
        },
        onError: (error) => this.#onParseError(error),
      },
      { maxEventSize: options.maxEventSize },
    );
    // Validate now: misuse throws at once, not on the first `for await`.
    new EventQueue(options.maxQueuedEvents ?? SSE_CLIENT_DEFAULTS.maxQueuedEvents);
    const { signal } = options;
    if (signal?.aborted === true) {
      this.#readyState = CLOSED;
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    void this.#run();
  }

  get readyState(): SseReadyState {
    return this.#readyState;
  }

  // Getters, not inline comparisons: TypeScript would narrow `#readyState` across awaits.
  get #closed(): boolean {
    return this.#readyState === CLOSED;
  }

  get #open(): boolean {
    return this.#readyState === OPEN;
  }

  /** The last-event-ID string: sent as `Last-Event-ID` on the next reconnect. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** The server's `retry:` (ms, clamped), waited before the backoff draw; 0 until sent. */
  get reconnectionTime(): number {
    return this.#reconnectionTime;
  }

  /** Closes the stream for good: synchronous, idempotent, no event after it. */
  close(reason = 'close() was called'): void {
    this.#queue?.end({ discard: true });
    this.#close('closed_by_client', reason);
  }

  /**
   * One consumer at a time. Leaving the loop (break, return, throw) closes the client.
   * Ends quietly after `close()` or a 204; throws the error after any other failure.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<SseClientEvent, undefined> {
    if (this.#queue !== undefined) {
      throw new SluiceError('invalid_argument', 'One async iterator per client; use listeners');
    }
    const queue = new EventQueue<SseClientEvent>(
      this.#options.maxQueuedEvents ?? SSE_CLIENT_DEFAULTS.maxQueuedEvents,
    );
    this.#queue = queue;
    if (this.#closed) queue.end({ error: this.#endError });
    const iterator: AsyncIterableIterator<SseClientEvent, undefined> = {
      next: () => queue.next(),
      return: () => {
        this.close('the async iterator was left');
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  async #run(): Promise<void> {
    try {
      // Start after the constructor returns, so a synchronous close() makes no request.
      await Promise.resolve();
      while (!this.#closed) {
        const failure = await this.#connect();
        if (failure === undefined || this.#closed) return;
        const delay = this.#afterFailure(failure);
        if (delay === null) return;
        await this.#sleep(delay);
      }
    } catch (error) {
      // Only a throwing shouldRetry (or a bug) gets here: stop loudly rather than hang.
      const failure = { code: 'network_error', error: toSluiceError(error) } as const;
      this.#fail('retry_stopped', failure, this.#failures);
    }
  }

  /** One attempt: request, checks, reading. `undefined` when the client was closed. */
  async #connect(): Promise<Failure | undefined> {
    const controller = new AbortController();
    this.#attempt = controller;
    // P17: a partial event cut off by the last disconnect is discarded; the id persists.
    this.#parser.reset({ lastEventId: this.#lastEventId });
    try {
      const init = await buildRequestInit(this.#options, this.#lastEventId, controller.signal);
      if (this.#closed) return undefined;
      this.#armInactivity(controller);
      const response = await this.#fetch(this.url, init);
      if (this.#closed) return undefined;
      const failure = checkResponse(response);
      if (failure !== undefined) return failure;
      // F11: events carry the origin of the final URL after redirects.
      if (response.url !== '') this.#origin = new URL(response.url).origin;
      this.#openedAt = performance.now();
      this.#setState(OPEN, 'open', `HTTP ${response.status}`);
      if (!this.#open) return undefined;
      this.dispatchEvent(new SseOpenEvent(response));
      if (!this.#open) return undefined;
      if (response.body !== null) await this.#read(response.body, controller);
      if (this.#closed) return undefined;
      return { code: 'server_closed' };
    } catch (error) {
      if (this.#closed) return undefined;
      return failureFromError(error, controller.signal.reason);
    } finally {
      this.#disarmInactivity();
      // Releases the connection whatever happened (a no-op after a clean end of body).
      controller.abort();
      if (this.#attempt === controller) this.#attempt = undefined;
    }
  }

  async #read(body: ReadableStream<Uint8Array>, controller: AbortController): Promise<void> {
    const reader = body.getReader();
    // For a custom fetch that ignores the signal: cancelling the body unblocks read().
    const cancel = (): void => void reader.cancel().catch(() => undefined);
    controller.signal.addEventListener('abort', cancel, { once: true });
    try {
      for (;;) {
        const queue = this.#queue;
        if (queue !== undefined && !queue.hasRoom) {
          // The silence is our consumer's, not the server's: pause the inactivity timer.
          this.#disarmInactivity();
          await queue.waitForRoom();
          if (this.#closed) return;
          this.#armInactivity(controller);
        }
        const { done, value } = await reader.read();
        if (done || this.#closed) return;
        this.#armInactivity(controller);
        this.#parser.feed(value);
      }
    } finally {
      controller.signal.removeEventListener('abort', cancel);
      cancel();
    }
  }

  #onEvent(event: { event: string; data: string; lastEventId: string }): void {
    // F12: nothing is dispatched once closed, even events parsed from the same chunk.
    if (!this.#open) return;
    this.#lastEventId = event.lastEventId;
    const type = event.event === '' ? 'message' : event.event;
    const { data, lastEventId } = event;
    this.dispatchEvent(new MessageEvent(type, { data, lastEventId, origin: this.#origin }));
    if (!this.#open) return;
    this.#queue?.push({ event: type, data, lastEventId });
  }

  #onParseError(error: SluiceError): void {
    if (!this.#open) return;
    const message = error.message;
    const init = { code: 'parse_error', error, status: undefined, delay: null, message } as const;
    this.dispatchEvent(new SseErrorEvent({ ...init, attempt: this.#failures }));
  }

  /** Decides what follows a failed attempt; the delay before the next, or `null` if none. */
  #afterFailure(failure: Failure): number | null {
    const { code, status, error } = failure;
    const openedAt = this.#openedAt;
    this.#openedAt = undefined;
    const minUptime = this.#options.minUptime ?? SSE_CLIENT_DEFAULTS.minUptime;
    if (openedAt !== undefined && performance.now() - openedAt >= minUptime) {
      this.#failures = 0;
      this.#backoff.reset();
    }
    const attempt = (this.#failures += 1);
    if (code === 'bad_content_type') return this.#fail('bad_content_type', failure, attempt);
    const shouldRetry = this.#options.shouldRetry ?? defaultShouldRetry;
    if (!shouldRetry({ code, status, error, attempt })) {
      return this.#fail(status === 204 ? 'no_content' : 'retry_stopped', failure, attempt);
    }
    const maxRetries = this.#options.maxRetries ?? SSE_CLIENT_DEFAULTS.maxRetries;
    if (maxRetries !== null && attempt > maxRetries) {
      return this.#fail('retries_exhausted', failure, attempt);
    }
    let delay = this.#reconnectionTime + this.#backoff.next();
    if (failure.retryAfter !== undefined) {
      delay = Math.max(delay, Math.min(failure.retryAfter, this.#maxDelay));
    }
    const message = describeFailure(failure);
    this.#setState(CONNECTING, code, message);
    if (this.#closed) return null;
    this.dispatchEvent(new SseErrorEvent({ code, error, status, attempt, delay, message }));
    return this.#closed ? null : delay;
  }

  /** "Fail the connection": CLOSED, then one `error` event; the iterator sees the error. */
  #fail(code: SseStateCode, failure: Failure, attempt: number): null {
    let error = failure.error;
    if (code === 'retries_exhausted') {
      const message = `Gave up after ${attempt} failed attempts: ${describeFailure(failure)}`;
      error = new SluiceError('sse_retries_exhausted', message, { cause: failure.error });
    }
    // A 204, or a clean end the caller chose not to retry, ends iteration without an error.
    this.#endError = code === 'no_content' ? undefined : error;
    this.#queue?.end({ error: this.#endError });
    const message = describeFailure(failure);
    if (!this.#close(code, message)) return null;
    const errorCode = code === 'retries_exhausted' ? code : failure.code;
    const { status } = failure;
    this.dispatchEvent(
      new SseErrorEvent({ code: errorCode, error, status, attempt, delay: null, message }),
    );
    return null;
  }

  /** Tears everything down and announces CLOSED; false if it already was. */
  #close(code: SseStateCode, reason: string): boolean {
    if (this.#closed) return false;
    const from = this.#readyState;
    this.#readyState = CLOSED;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#attempt?.abort();
    this.#disarmInactivity();
    clearTimeout(this.#sleepTimer);
    this.#wake?.();
    this.dispatchEvent(new SseStateChangeEvent({ from, to: CLOSED, code, reason }));
    return true;
  }

  #setState(to: SseReadyState, code: SseStateCode, reason: string): void {
    const from = this.#readyState;
    if (from === to || from === CLOSED) return;
    this.#readyState = to;
    this.dispatchEvent(new SseStateChangeEvent({ from, to, code, reason }));
  }

  #armInactivity(controller: AbortController): void {
    const ms = this.#options.inactivityTimeout;
    const timeout = ms === undefined ? SSE_CLIENT_DEFAULTS.inactivityTimeout : ms;
    if (timeout === null) return;
    clearTimeout(this.#inactivityTimer);
    this.#inactivityTimer = setTimeout(() => {
      const message = `No bytes received for ${timeout} ms`;
      controller.abort(new SluiceError('sse_inactivity_timeout', message));
    }, timeout);
    unrefTimer(this.#inactivityTimer);
  }

  #disarmInactivity(): void {
    clearTimeout(this.#inactivityTimer);
    this.#inactivityTimer = undefined;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#sleepTimer = setTimeout(() => {
        this.#sleepTimer = undefined;
        this.#wake = undefined;
        resolve();
      }, ms);
    });
  }
}

/** Opens an SSE stream: `for await (const event of connectSse(url, { signal }))`. */
export function connectSse(url: string | URL, options: SseClientOptions = {}): SseClient {
  return new SseClient(url, options);
}
