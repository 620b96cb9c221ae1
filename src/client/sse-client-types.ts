/**
 * Public types of the SSE client: ready states, coded reasons, options, and the events it
 * dispatches. Kept apart from the connection logic so the vocabulary reads in one place.
 */
import type { BackoffOptions } from '../core/backoff.js';
import type { SluiceError } from '../core/errors.js';

/** The WHATWG `EventSource.readyState` values. */
export const SSE_READY_STATE = Object.freeze({ CONNECTING: 0, OPEN: 1, CLOSED: 2 } as const);
export type SseReadyState = (typeof SSE_READY_STATE)[keyof typeof SSE_READY_STATE];

/**
 * Why an attempt ended. `server_closed` is a clean end of the body after 200, which the
 * spec answers with a reconnect (C11), not with CLOSED.
 */
export type SseFailureCode =
  'network_error' | 'inactivity_timeout' | 'bad_status' | 'bad_content_type' | 'server_closed';

/**
 * The `code` of a `statechange`:
 * - `open`: CONNECTING → OPEN.
 * - a failure code: OPEN → CONNECTING (a reconnect follows).
 * - `closed_by_client`: `close()`, the caller's signal, or leaving a `for await` loop.
 * - `no_content`: the server answered 204, the standard way to say "stop reconnecting".
 * - `bad_content_type`: always fatal (a misrouted URL will not heal by retrying).
 * - `retry_stopped`: `shouldRetry` said no (by default: other 4xx, 1xx/2xx/3xx ≠ 200).
 * - `retries_exhausted`: `maxRetries` consecutive failed attempts.
 */
export type SseStateCode =
  | 'open'
  | SseFailureCode
  | 'closed_by_client'
  | 'no_content'
  | 'retry_stopped'
  | 'retries_exhausted';

/** One event as the async iterator yields it. */
export interface SseClientEvent {
  /** The event type; `message` when the server sent no `event:` field. */
  event: string;
  data: string;
  /** The persistent last-event-ID string after this event (spec F6), not only this block's. */
  lastEventId: string;
}

/** What `shouldRetry` is asked after a failed attempt. */
export interface SseRetryContext {
  code: SseFailureCode;
  /** The HTTP status, when the server answered. */
  status: number | undefined;
  /** The error, when there was one (a clean end of body has none). */
  error: SluiceError | undefined;
  /** Consecutive failed attempts, this one included (1 for the first failure). */
  attempt: number;
}

/** Response fields the client reads: a standard `Response` satisfies it. */
export type SseFetchResponse = Pick<Response, 'status' | 'statusText' | 'headers' | 'url' | 'body'>;

/** A `fetch`-compatible function (e.g. one that adds auth, or an undici dispatcher). */
export type SseFetch = (url: string, init: RequestInit) => Promise<SseFetchResponse>;

/** A body that can be sent again on every attempt (a `ReadableStream` could not be). */
export type SseRequestBody = string | URLSearchParams | Blob | ArrayBuffer | Uint8Array | FormData;

export interface SseClientOptions {
  /** HTTP method; `GET` unless given. */
  method?: string;
  /**
   * Request headers, or a function evaluated before every attempt (fresh auth tokens).
   * `Accept: text/event-stream` is added unless present; `Last-Event-ID` is set by the client.
   * A function that throws fails the attempt as a `network_error` (so it is retried).
   */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>);
  /** Request body (e.g. for POST), or a function evaluated before every attempt. */
  body?: SseRequestBody | (() => SseRequestBody | Promise<SseRequestBody>);
  /** Fetch credentials mode; left to the platform default unless given. */
  credentials?: RequestCredentials;
  /** The fetch to use; `globalThis.fetch` unless given. */
  fetch?: SseFetch;
  /** Aborting it closes the client (code `closed_by_client`). */
  signal?: AbortSignal;
  /** Initial last-event-ID, sent on the first request too (resume after a page load). */
  lastEventId?: string;
  /** Reconnect backoff: exponential, full jitter, capped (core `Backoff`). */
  backoff?: BackoffOptions;
  /** A connection that stayed open this long (ms) resets the backoff and retry count. */
  minUptime?: number;
  /** Consecutive failed attempts before giving up; `null` (default) retries forever. */
  maxRetries?: number | null;
  /** Decides whether a failed attempt is retried (a 204 always stops); see `defaultShouldRetry`. */
  shouldRetry?: (context: SseRetryContext) => boolean;
  /** Reconnect when no byte (keepalive comments count) arrives for this long; `null` disables. */
  inactivityTimeout?: number | null;
  /** The async iterator's queue; reading from the network pauses while it is full. */
  maxQueuedEvents?: number;
  /** The parser's cap on one event, in characters (its default 8 Mi); `null` = unlimited. */
  maxEventSize?: number | null;
}

/** `statechange`: every real change of `readyState`, with a coded reason. */
export class SseStateChangeEvent extends Event {
  readonly detail: {
    from: SseReadyState;
    to: SseReadyState;
    code: SseStateCode;
    reason: string;
  };
  constructor(detail: SseStateChangeEvent['detail']) {
    super('statechange');
    this.detail = detail;
  }
}

/** `open`: the server answered 200 with an event stream. */
export class SseOpenEvent extends Event {
  readonly status: number;
  readonly headers: Headers;
  /** The final URL after redirects. */
  readonly url: string;
  constructor(response: SseFetchResponse) {
    super('open');
    this.status = response.status;
    this.headers = response.headers;
    this.url = response.url;
  }
}

/**
 * `error`: an attempt failed (then `delay` says when the next one starts, or is `null` when
 * the client is now CLOSED), or the parser dropped bad input while the stream goes on.
 */
export class SseErrorEvent extends Event {
  readonly code: SseFailureCode | 'retries_exhausted' | 'parse_error';
  readonly error: SluiceError | undefined;
  readonly status: number | undefined;
  readonly attempt: number;
  readonly delay: number | null;
  readonly message: string;
  constructor(init: Omit<SseErrorEvent, keyof Event>) {
    super('error');
    this.code = init.code;
    this.error = init.error;
    this.status = init.status;
    this.attempt = init.attempt;
    this.delay = init.delay;
    this.message = init.message;
  }
}

/** The client's own events; every other type is a server event, a `MessageEvent`. */
export interface SseClientEventMap {
  open: SseOpenEvent;
  message: MessageEvent<string>;
  error: SseErrorEvent;
  statechange: SseStateChangeEvent;
}

type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void } | null;

type Handler<E> = ((event: E) => unknown) | null;

/**
 * `EventTarget` with listener types for the client's events, and EventSource's handler
 * attributes (C17): assigning replaces the handler in place, `null` removes it.
 */
export class SseEventTarget extends EventTarget {
  readonly #handlers = new Map<string, { current: Handler<never>; listener: EventListener }>();

  get onopen(): Handler<SseOpenEvent> {
    return this.#getHandler('open');
  }
  set onopen(handler: Handler<SseOpenEvent>) {
    this.#setHandler('open', handler);
  }
  get onmessage(): Handler<MessageEvent<string>> {
    return this.#getHandler('message');
  }
  set onmessage(handler: Handler<MessageEvent<string>>) {
    this.#setHandler('message', handler);
  }
  get onerror(): Handler<SseErrorEvent> {
    return this.#getHandler('error');
  }
  set onerror(handler: Handler<SseErrorEvent>) {
    this.#setHandler('error', handler);
  }

  #getHandler<E>(type: string): Handler<E> {
    return (this.#handlers.get(type)?.current ?? null) as Handler<E>;
  }

  #setHandler<E extends Event>(type: string, handler: Handler<E>): void {
    const slot = this.#handlers.get(type);
    if (handler === null) {
      if (slot !== undefined) super.removeEventListener(type, slot.listener);
      this.#handlers.delete(type);
    } else if (slot !== undefined) {
      slot.current = handler;
    } else {
      const entry = {
        current: handler as Handler<never>,
        listener: (event: Event) => void (entry.current as Handler<Event>)?.call(this, event),
      };
      this.#handlers.set(type, entry);
      super.addEventListener(type, entry.listener);
    }
  }

  override addEventListener<K extends keyof SseClientEventMap>(
    type: K,
    listener: Listener<SseClientEventMap[K]>,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: Listener<MessageEvent<string>>,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: Listener<never>,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  override removeEventListener<K extends keyof SseClientEventMap>(
    type: K,
    listener: Listener<SseClientEventMap[K]>,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: Listener<MessageEvent<string>>,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: Listener<never>,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }
}
