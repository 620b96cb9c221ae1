/**
 * Options, defaults, the injectable WebSocket seam and the events of ReconnectingWebSocket.
 */
import type { BackoffOptions } from '../core/backoff.js';
import { shouldReconnect as closeCodeAllowsReconnect } from '../ws/close-codes.js';
import type { SocketData } from './reconnecting-websocket-queue.js';

/**
 * The part of a WebSocket implementation we use. Browsers' global `WebSocket`, Node 22's
 * global and the `ws` package's class all fit. Handlers are typed with `never` parameters so
 * that every implementation's own event types are accepted; we read fields defensively.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  send(data: SocketData): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** Resolved before every attempt, so a provider can hand out a fresh token each time. */
export type UrlProvider = string | (() => string | Promise<string>);
export type ProtocolsProvider =
  | string
  | string[]
  | (() => string | string[] | undefined | Promise<string | string[] | undefined>);

/** What the should-reconnect predicate sees when a connection closes. */
export interface ReconnectInfo {
  /** The WebSocket close code (1006 when the connection dropped without a close frame). */
  code: number;
  reason: string;
  /** Failed attempts since the last connection that stayed up `minUptime`. */
  attempt: number;
}

/**
 * Application-level heartbeat. Browsers cannot send WebSocket ping frames, so a half-open
 * connection (peer gone, no FIN/RST seen) is only noticed by asking and not hearing back.
 * Every `interval` ms without any incoming message, `message` is sent; if nothing at all
 * arrives within `timeout` ms after that, the connection is dropped and re-established.
 * Detection takes at most about 2 × interval + timeout.
 */
export interface HeartbeatOptions {
  message: SocketData | (() => SocketData);
  interval?: number;
  timeout?: number;
}

export interface ReconnectingWebSocketOptions {
  protocols?: ProtocolsProvider;
  /** The implementation to use; defaults to `globalThis.WebSocket` (absent on Node 20: pass `ws`). */
  WebSocket?: WebSocketConstructor;
  /** Delays between attempts: exponential, full jitter, capped (core/backoff.ts). */
  backoff?: BackoffOptions;
  /** A connection must stay open this long (ms) before the retry counter resets. */
  minUptime?: number;
  /** An attempt (provider resolution + handshake) that takes longer (ms) is abandoned. `null` = no limit. */
  connectionTimeout?: number | null;
  /** Consecutive failed attempts before giving up (state `closed`, code `max_retries`). `null` = never. */
  maxRetries?: number | null;
  /** Decides after a close whether to try again; the default follows sluice's close-code table. */
  shouldReconnect?: (info: ReconnectInfo) => boolean;
  /** Offline queue: most messages held while disconnected; 0 = no queue, `null` = no count limit. */
  maxQueuedMessages?: number | null;
  /** Offline queue: most bytes held while disconnected; `null` = no byte limit. */
  maxQueuedBytes?: number | null;
  /** Application-level heartbeat; disabled (`null`) by default since the ping message is protocol-specific. */
  heartbeat?: HeartbeatOptions | null;
  /** Applied to every underlying socket; the implementation's default when absent. */
  binaryType?: string;
  /**
   * Where `online` events come from: on `online` a pending retry is brought forward to a
   * random moment within `onlineRetrySpread`. Defaults to `globalThis` when it is an event
   * target (browsers); `null` disables.
   */
  networkEvents?: EventTarget | null;
  /**
   * On `online`, the retry happens after a delay drawn uniformly from [0, this) ms, so the
   * clients of a network that comes back all at once (an office, a train) do not reconnect
   * in the same instant. 0 = at once.
   */
  onlineRetrySpread?: number;
  /** Aborting closes the socket for good (state `closed`, code `aborted`). */
  signal?: AbortSignal;
}

export const RECONNECTING_WEBSOCKET_DEFAULTS = Object.freeze({
  minUptime: 5_000,
  connectionTimeout: 10_000,
  maxRetries: Number.POSITIVE_INFINITY,
  maxQueuedMessages: 1_000,
  maxQueuedBytes: 1_048_576,
  heartbeatInterval: 25_000,
  heartbeatTimeout: 10_000,
  onlineRetrySpread: 1_000,
  /**
   * sluice's close-code table (ws/close-codes.ts): reconnect after network loss (1006), going
   * away, internal errors and 4000-4499; stop after a normal close by the server, protocol
   * and policy errors (1002, 1003, 1007, 1008) and 4500-4999 (fix the client or its
   * credentials first).
   */
  shouldReconnect: ({ code }: ReconnectInfo): boolean => closeCodeAllowsReconnect(code),
});

/** `connecting`: an attempt is in flight; `reconnecting`: waiting out a backoff delay. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Why the state changed; stable strings to switch on. */
export type StateChangeCode =
  | 'open'
  | 'retry' // backoff delay elapsed
  | 'online' // the network came back: retry soon (within onlineRetrySpread), not after the backoff
  | 'reconnect_called'
  | 'transport_closed' // the socket closed or failed (see closeCode)
  | 'connect_error' // a provider or the WebSocket constructor threw
  | 'connect_timeout'
  | 'heartbeat_timeout'
  | 'not_reconnecting' // shouldReconnect returned false
  | 'max_retries'
  | 'close_called'
  | 'aborted';

export class StateChangeEvent extends Event {
  readonly from: ConnectionState;
  readonly to: ConnectionState;
  readonly code: StateChangeCode;
  readonly reason: string;
  /** The WebSocket close code when a close caused the change. */
  readonly closeCode: number | undefined;
  /** Failed attempts so far (resets after `minUptime` of a healthy connection). */
  readonly attempt: number;
  /** For `reconnecting`: how long (ms) until the next attempt. */
  readonly delay: number | undefined;

  constructor(init: {
    from: ConnectionState;
    to: ConnectionState;
    code: StateChangeCode;
    reason: string;
    closeCode?: number | undefined;
    attempt: number;
    delay?: number | undefined;
  }) {
    super('statechange');
    this.from = init.from;
    this.to = init.to;
    this.code = init.code;
    this.reason = init.reason;
    this.closeCode = init.closeCode;
    this.attempt = init.attempt;
    this.delay = init.delay;
  }
}

/** `close`, as the web's CloseEvent (not a global on Node 20). */
export class SocketCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(code: number, reason: string, wasClean: boolean) {
    super('close');
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
  }
}

/** `error`, with the underlying error when there is one. */
export class SocketErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;
  constructor(error: unknown) {
    super('error');
    this.error = error;
    this.message = error instanceof Error ? error.message : String(error);
  }
}

export interface ReconnectingWebSocketEventMap {
  open: Event;
  message: MessageEvent;
  close: SocketCloseEvent;
  error: SocketErrorEvent;
  statechange: StateChangeEvent;
}
