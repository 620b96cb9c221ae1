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
 * Reconnect delay = the server's `retry:` (clamped) + a full-jitter backoff draw; details
 * in sse-client-retry.ts. Defaults: `SSE_CLIENT_DEFAULTS` (inactivity 45 s, minUptime 5 s,
 * queue 256 events, unlimited retries), `BACKOFF_DEFAULTS` (1 s, ×2, 30 s cap), and
 * `defaultShouldRetry` (4xx stop, except 408/429; 5xx and network errors retry). A 204
 * always stops, whatever `shouldRetry` says.
 *
 * Timers: the inactivity timer is unref'd; the reconnect timer is not, on purpose (see
 * `ReconnectTimer`). `close()` clears both.
 */
import { SluiceError } from '../core/errors.js';
import { createParser } from '../sse/parser.js';
import { InactivityTimer, SSE_CLIENT_DEFAULTS } from './sse-client-policy.js';
import { EventQueue } from './sse-client-queue.js';
import {
  buildRequestInit,
  checkResponse,
  describeFailure,
  failureFromError,
  resolveUrl,
  toSluiceError,
  untilAborted,
  type Failure,
} from './sse-client-request.js';
import { ReconnectPolicy, ReconnectTimer } from './sse-client-retry.js';
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
  readonly #policy: ReconnectPolicy;
  readonly #parser: ReturnType<typeof createParser>;
  #readyState: SseReadyState = CONNECTING;
  #lastEventId: string;
  #openedAt: number | undefined;
  #origin: string;
  #attempt: AbortController | undefined;
  readonly #inactivity: InactivityTimer;
  readonly #reconnectTimer = new ReconnectTimer();
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
    this.#policy = new ReconnectPolicy(options);
    const { inactivityTimeout } = options;
    this.#inactivity = new InactivityTimer(
      inactivityTimeout === undefined ? SSE_CLIENT_DEFAULTS.inactivityTimeout : inactivityTimeout,
    );
    this.#parser = createParser(
      {
        onEvent: (event) => this.#onEvent(event),
        onRetry: (ms) => this.#policy.setReconnectionTime(ms),
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
    return this.#policy.reconnectionTime;
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
    return queue.iterator(() => this.close('the async iterator was left'));
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
        await this.#reconnectTimer.wait(delay);
      }
    } catch (error) {
      // Only a throwing shouldRetry (or a bug) gets here: stop loudly rather than hang.
      const failure = { code: 'network_error', error: toSluiceError(error) } as const;
      this.#fail('retry_stopped', failure, this.#policy.failures);
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
      this.#inactivity.arm(controller);
      const response = await untilAborted(this.#fetch(this.url, init), controller.signal);
      if (this.#closed) return release(response);
      const failure = checkResponse(response);
      if (failure !== undefined) {
        release(response);
        return failure;
      }
      // F11: events carry the origin of the final URL after redirects.
      if (response.url !== '') this.#origin = new URL(response.url).origin;
      this.#openedAt = performance.now();
      this.#setState(OPEN, 'open', `HTTP ${response.status}`);
      if (!this.#open) return undefined;
      this.dispatchEvent(new SseOpenEvent(response));
      if (!this.#open) return undefined;
      if (response.body !== null) await this.#read(response.body, controller);
      if (this.#closed) return undefined;
      // A fetch that ignores the signal ends the read quietly when the inactivity timer
      // cancels the body: that was silence, not the server ending the stream.
      if (controller.signal.aborted) return failureFromError(undefined, controller.signal.reason);
      return { code: 'server_closed' };
    } catch (error) {
      if (this.#closed) return undefined;
      return failureFromError(error, controller.signal.reason);
    } finally {
      this.#inactivity.disarm();
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
          this.#inactivity.disarm();
          await queue.waitForRoom();
          if (this.#closed) return;
          this.#inactivity.arm(controller);
        }
        const { done, value } = await reader.read();
        if (done || this.#closed) return;
        this.#inactivity.arm(controller);
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
    this.dispatchEvent(new SseErrorEvent({ ...init, attempt: this.#policy.failures }));
  }

  /** Decides what follows a failed attempt; the delay before the next, or `null` if none. */
  #afterFailure(failure: Failure): number | null {
    const uptime = this.#openedAt === undefined ? undefined : performance.now() - this.#openedAt;
    this.#openedAt = undefined;
    const { attempt, stop, delay } = this.#policy.decide(failure, uptime);
    if (stop !== undefined) return this.#fail(stop, failure, attempt);
    const { code, status, error } = failure;
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
    this.#inactivity.disarm();
    this.#reconnectTimer.cancel();
    this.dispatchEvent(new SseStateChangeEvent({ from, to: CLOSED, code, reason }));
    return true;
  }

  #setState(to: SseReadyState, code: SseStateCode, reason: string): void {
    const from = this.#readyState;
    if (from === to || from === CLOSED) return;
    this.#readyState = to;
    this.dispatchEvent(new SseStateChangeEvent({ from, to, code, reason }));
  }
}

/** Opens an SSE stream: `for await (const event of connectSse(url, { signal }))`. */
export function connectSse(url: string | URL, options: SseClientOptions = {}): SseClient {
  return new SseClient(url, options);
}

/**
 * Cancels the body of a response that will not be read (a refused status, a wrong type, a
 * client closed meanwhile): aborting the request does that with the built-in fetch, but a
 * custom fetch may ignore the signal, and its connection would stay open.
 */
function release(response: Pick<Response, 'body'>): undefined {
  response.body?.cancel().catch(() => undefined);
  return undefined;
}
