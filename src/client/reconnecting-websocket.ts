/**
 * A WebSocket that comes back. Same surface as the web's WebSocket (readyState, send, close,
 * on* handlers, events), plus: full-jitter capped backoff, a minimum uptime before the retry
 * counter resets, a connection timeout, URL/protocol providers resolved before every attempt,
 * a should-reconnect predicate, an application-level heartbeat, a bounded offline queue and
 * `statechange` events with coded reasons. Protocol-agnostic: ws-client.ts builds sluice's
 * protocol on top.
 *
 * Delivery here is at-most-once: a message written to a socket that then dies is gone. The
 * protocol layer (acks, resume cursors) is where exactly-once delivery is built.
 */
import { Backoff } from '../core/backoff.js';
import { checkCount, checkDelay } from '../core/check-options.js';
import { SluiceError } from '../core/errors.js';
import {
  Connection,
  type ConnectionEnd,
  type ConnectionInit,
} from './reconnecting-websocket-connection.js';
import { SendQueue, type SocketData } from './reconnecting-websocket-queue.js';
import { SocketEventTarget } from './reconnecting-websocket-target.js';
import { startTimer, type Timer } from './reconnecting-websocket-timers.js';
import {
  RECONNECTING_WEBSOCKET_DEFAULTS as DEFAULTS,
  SocketCloseEvent,
  SocketErrorEvent,
  StateChangeEvent,
  type ConnectionState,
  type ReconnectInfo,
  type ReconnectingWebSocketOptions,
  type StateChangeCode,
  type UrlProvider,
  type WebSocketConstructor,
} from './reconnecting-websocket-types.js';

export class ReconnectingWebSocket extends SocketEventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly #options: ReconnectingWebSocketOptions;
  readonly #init: Omit<ConnectionInit, 'binaryType'>;
  readonly #backoff: Backoff;
  readonly #queue: SendQueue;
  readonly #maxRetries: number;
  readonly #shouldReconnect: (info: ReconnectInfo) => boolean;
  readonly #network: EventTarget | null;
  #state: ConnectionState = 'connecting';
  #connection: Connection | undefined;
  #lastUrl = '';
  #binaryType: string | undefined;
  #retryTimer: Timer | undefined;
  /** When the pending retry is due (`performance.now()` ms). */
  #retryAt = 0;
  #uptimeTimer: Timer | undefined;

  constructor(url: UrlProvider, options: ReconnectingWebSocketOptions = {}) {
    super();
    const WebSocket =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor | undefined }).WebSocket;
    if (WebSocket === undefined) {
      throw new SluiceError(
        'invalid_argument',
        'No global WebSocket here: pass options.WebSocket (on Node 20, the `ws` package)',
      );
    }
    const { heartbeat } = options;
    this.#init = {
      url,
      protocols: options.protocols,
      WebSocket,
      connectionTimeout:
        options.connectionTimeout === undefined
          ? DEFAULTS.connectionTimeout
          : options.connectionTimeout === null
            ? null
            : checkDelay('connectionTimeout', options.connectionTimeout, 1),
      heartbeat: heartbeat
        ? {
            message: heartbeat.message,
            interval: checkDelay(
              'heartbeat.interval',
              heartbeat.interval ?? DEFAULTS.heartbeatInterval,
              1,
            ),
            timeout: checkDelay(
              'heartbeat.timeout',
              heartbeat.timeout ?? DEFAULTS.heartbeatTimeout,
              1,
            ),
          }
        : null,
    };
    if (options.minUptime !== undefined) checkDelay('minUptime', options.minUptime);
    if (options.onlineRetrySpread !== undefined)
      checkDelay('onlineRetrySpread', options.onlineRetrySpread);
    this.#options = options;
    this.#backoff = new Backoff(options.backoff);
    this.#queue = new SendQueue({
      maxMessages: limit(
        'maxQueuedMessages',
        options.maxQueuedMessages,
        DEFAULTS.maxQueuedMessages,
      ),
      maxBytes: limit('maxQueuedBytes', options.maxQueuedBytes, DEFAULTS.maxQueuedBytes),
    });
    this.#maxRetries = options.maxRetries ?? DEFAULTS.maxRetries;
    if (this.#maxRetries !== Number.POSITIVE_INFINITY) checkCount('maxRetries', this.#maxRetries);
    this.#shouldReconnect = options.shouldReconnect ?? DEFAULTS.shouldReconnect;
    this.#binaryType = options.binaryType;
    this.#network =
      options.networkEvents === undefined
        ? typeof (globalThis as { addEventListener?: unknown }).addEventListener === 'function'
          ? globalThis
          : null
        : options.networkEvents;
    if (options.signal?.aborted) {
      this.#state = 'closed';
      return;
    }
    this.#listenGlobal(true);
    this.#connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get readyState(): number {
    if (this.#state === 'open') return this.OPEN;
    return this.#state === 'closed' ? this.CLOSED : this.CONNECTING;
  }

  /** The URL of the current or last attempt (providers are resolved per attempt). */
  get url(): string {
    return this.#lastUrl;
  }

  get protocol(): string {
    return this.#connection?.socket?.protocol ?? '';
  }

  get extensions(): string {
    return this.#connection?.socket?.extensions ?? '';
  }

  get binaryType(): string {
    return this.#binaryType ?? this.#connection?.socket?.binaryType ?? 'blob';
  }

  set binaryType(value: string) {
    this.#binaryType = value;
    const socket = this.#connection?.socket;
    if (socket) socket.binaryType = value;
  }

  /** Bytes not yet on the network: the socket's buffer plus the offline queue. */
  get bufferedAmount(): number {
    return (this.#connection?.socket?.bufferedAmount ?? 0) + this.#queue.bytes;
  }

  /** Messages waiting in the offline queue. */
  get queuedMessages(): number {
    return this.#queue.length;
  }

  /** Failed attempts since the last connection that stayed up `minUptime`. */
  get attempt(): number {
    return this.#backoff.attempt;
  }

  /**
   * Sends now when open; otherwise queues for the next connection. True = sent or queued;
   * false = refused: the socket is closed for good, or the queue is full (reject-newest).
   */
  send(data: SocketData): boolean {
    const socket = this.#connection?.socket;
    if (this.#state === 'open' && socket) {
      socket.send(data);
      return true;
    }
    if (this.#state === 'closed') return false;
    return this.#queue.push(data);
  }

  /** Closes for good: no more attempts, the offline queue is discarded, every timer stops. */
  close(code = 1000, reason = ''): void {
    checkClose(code, reason);
    this.#shutdown('close_called', code, reason);
  }

  /** Drops the current connection (if any) and connects again at once; also revives a closed socket. */
  reconnect(code = 1000, reason = ''): void {
    if (this.#options.signal?.aborted) {
      throw new SluiceError('aborted', 'reconnect() after the signal aborted');
    }
    checkClose(code, reason);
    const hadSocket = this.#dropConnection(code, reason);
    this.#backoff.reset();
    this.#listenGlobal(true);
    this.#setState('connecting', 'reconnect_called', reason);
    if (hadSocket) this.#emit(new SocketCloseEvent(code, reason, true));
    // Listeners run synchronously inside #setState and may have closed us again.
    if (this.#state === 'connecting' && !this.#connection) this.#connect();
  }

  #connect(): void {
    const connection: Connection = new Connection(
      { ...this.#init, binaryType: this.#binaryType },
      {
        open: () => this.#onOpen(connection),
        message: (data) => this.#emit(new MessageEvent('message', { data })),
        error: (error) => this.#emit(new SocketErrorEvent(error)),
        end: (end) => this.#onEnd(end),
      },
    );
    this.#connection = connection;
  }

  #onOpen(connection: Connection): void {
    const socket = connection.socket;
    if (!socket) return;
    this.#lastUrl = connection.url;
    // The queue goes out before anything an `open` listener sends: strict send order.
    for (const data of this.#queue.drain()) socket.send(data);
    const minUptime = this.#options.minUptime ?? DEFAULTS.minUptime;
    this.#uptimeTimer = startTimer(() => this.#backoff.reset(), minUptime);
    this.#setState('open', 'open', '');
    if (this.#state === 'open') this.#emit(new Event('open'));
  }

  #onEnd(end: ConnectionEnd): void {
    if (this.#connection?.url) this.#lastUrl = this.#connection.url;
    this.#connection = undefined;
    this.#uptimeTimer?.clear();
    this.#uptimeTimer = undefined;
    const { closeCode, reason } = end;
    let again = true;
    if (end.code === 'transport_closed') {
      try {
        again = this.#shouldReconnect({ code: closeCode, reason, attempt: this.#backoff.attempt });
      } catch (error) {
        this.#emit(new SocketErrorEvent(error));
        again = false;
      }
    }
    if (again) this.#retry(end.code, reason, end.code === 'connect_error' ? undefined : closeCode);
    else this.#shutdown('not_reconnecting', closeCode, reason, false);
    if (end.error !== undefined) this.#emit(new SocketErrorEvent(end.error));
    if (end.hadSocket) this.#emit(new SocketCloseEvent(closeCode, reason, end.wasClean));
  }

  /** Waits out a jittered delay, then tries again; or gives up after maxRetries. */
  #retry(code: StateChangeCode, reason: string, closeCode: number | undefined): void {
    if (this.#state === 'closed') return;
    if (this.#backoff.attempt >= this.#maxRetries) {
      this.#shutdown('max_retries', closeCode ?? 1006, reason, false);
      return;
    }
    const delay = this.#backoff.next();
    this.#setState('reconnecting', code, reason, closeCode, delay);
    if (this.#state !== 'reconnecting') return;
    // Not unref'd, on purpose: between attempts nothing else keeps a Node process alive, and
    // a client that silently lets its process exit mid-reconnect is a bug. close() clears it.
    this.#retryAt = performance.now() + delay;
    this.#retryTimer = startTimer(() => this.#retryNow('retry'), delay, { ref: true });
  }

  #retryNow(code: StateChangeCode): void {
    this.#retryTimer?.clear();
    this.#retryTimer = undefined;
    this.#setState('connecting', code, '');
    if (this.#state === 'connecting' && !this.#connection) this.#connect();
  }

  /**
   * The network came back: the pending retry (maybe minutes away) is brought forward to a
   * random moment within `onlineRetrySpread`, not to this instant, which every client of
   * that network would share. Only ever forward: a retry already due sooner keeps its time,
   * or a burst of `online` events would keep pushing it back. The backoff starts over, as
   * after a fresh failure.
   */
  readonly #onOnline = (): void => {
    if (this.#state !== 'reconnecting') return;
    const spread = this.#options.onlineRetrySpread ?? DEFAULTS.onlineRetrySpread;
    const delay = this.#backoff.spread(spread);
    if (this.#retryTimer && performance.now() + delay >= this.#retryAt) return;
    this.#backoff.reset();
    this.#retryTimer?.clear();
    this.#retryTimer = undefined;
    if (delay === 0) return this.#retryNow('online');
    this.#setState('reconnecting', 'online', 'the network is back', undefined, delay);
    if (this.#state !== 'reconnecting') return;
    this.#retryAt = performance.now() + delay;
    this.#retryTimer = startTimer(() => this.#retryNow('online'), delay, { ref: true });
  };

  readonly #onAbort = (): void => {
    this.#shutdown('aborted', 1000, 'aborted');
  };

  /**
   * Ends for good. Explicit closes drop the queue and both global listeners. A give-up keeps
   * the queue for `reconnect()` and the abort listener (an abort still ends the client and
   * drops the queue), but lets go of `online`: `window` does not hold a client that gave
   * up. `reconnect()` adds it back.
   */
  #shutdown(code: StateChangeCode, closeCode: number, reason: string, explicit = true): void {
    const hadSocket = this.#dropConnection(closeCode, reason);
    if (explicit) {
      this.#queue.clear();
      this.#listenGlobal(false);
    } else {
      this.#network?.removeEventListener('online', this.#onOnline);
    }
    if (this.#state === 'closed') return;
    this.#setState('closed', code, reason, closeCode);
    if (hadSocket) this.#emit(new SocketCloseEvent(closeCode, reason, true));
  }

  /** Stops every timer and closes the current socket, if any (with a closing handshake). */
  #dropConnection(code: number, reason: string): boolean {
    this.#retryTimer?.clear();
    this.#uptimeTimer?.clear();
    this.#retryTimer = this.#uptimeTimer = undefined;
    const connection = this.#connection;
    this.#connection = undefined;
    return connection?.dispose(code, reason, true) ?? false;
  }

  #listenGlobal(on: boolean): void {
    const signal = this.#options.signal;
    if (on) {
      signal?.addEventListener('abort', this.#onAbort, { once: true });
      this.#network?.addEventListener('online', this.#onOnline);
    } else {
      signal?.removeEventListener('abort', this.#onAbort);
      this.#network?.removeEventListener('online', this.#onOnline);
    }
  }

  #setState(
    to: ConnectionState,
    code: StateChangeCode,
    reason: string,
    closeCode?: number,
    delay?: number,
  ): void {
    const from = this.#state;
    this.#state = to;
    const attempt = this.#backoff.attempt;
    this.#emit(new StateChangeEvent({ from, to, code, reason, closeCode, attempt, delay }));
  }

  #emit(event: Event): void {
    this.dispatchEvent(event);
  }
}

export * from './reconnecting-websocket-types.js';
export type { SocketData } from './reconnecting-websocket-queue.js';

/**
 * What a WebSocket `close()` accepts, checked before anything is torn down: a socket's own
 * `close()` throws on anything else, and a socket that threw stays open.
 */
function checkClose(code: number, reason: string): void {
  if (!(Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999)))) {
    throw new SluiceError('invalid_argument', 'close() takes 1000 or a code in 3000-4999');
  }
  if (new TextEncoder().encode(reason).byteLength > 123) {
    throw new SluiceError('invalid_argument', 'A close reason is at most 123 bytes of UTF-8');
  }
}

/** A queue limit: the default, `null` (none), or a count. */
function limit(name: string, value: number | null | undefined, fallback: number): number | null {
  if (value === undefined) return fallback;
  return value === null ? null : checkCount(name, value);
}
