/**
 * One connection attempt of a ReconnectingWebSocket and, if it opens, that connection's life:
 * provider resolution, the underlying socket, the connection timeout and the heartbeat. It
 * reports exactly one `end` (unless disposed first, after which it reports nothing), so the
 * state machine in reconnecting-websocket.ts never has to ask "is this event stale?".
 */
import { SluiceError } from '../core/errors.js';
import type { SocketData } from './reconnecting-websocket-queue.js';
import type {
  ProtocolsProvider,
  StateChangeCode,
  UrlProvider,
  WebSocketConstructor,
  WebSocketLike,
} from './reconnecting-websocket-types.js';
import { Heartbeat, startTimer, type Timer } from './reconnecting-websocket-timers.js';

export interface ConnectionInit {
  url: UrlProvider;
  protocols: ProtocolsProvider | undefined;
  WebSocket: WebSocketConstructor;
  binaryType: string | undefined;
  /** ms for providers + handshake; null = no limit. */
  connectionTimeout: number | null;
  heartbeat: { message: SocketData | (() => SocketData); interval: number; timeout: number } | null;
}

export interface ConnectionEnd {
  code: Extract<
    StateChangeCode,
    'transport_closed' | 'connect_error' | 'connect_timeout' | 'heartbeat_timeout'
  >;
  closeCode: number;
  reason: string;
  wasClean: boolean;
  /** Whether a socket had been created (then a `close` event is due). */
  hadSocket: boolean;
  /** For `connect_error`: what a provider or the constructor threw. */
  error?: unknown;
}

export interface ConnectionCallbacks {
  open(): void;
  message(data: unknown): void;
  /** An error the socket reported; its close follows. */
  error(error: unknown): void;
  end(end: ConnectionEnd): void;
}

const noop = (): void => {};

export class Connection {
  readonly #init: ConnectionInit;
  readonly #on: ConnectionCallbacks;
  #ws: WebSocketLike | undefined;
  #done = false;
  #connectTimer: Timer | undefined;
  #heartbeat: Heartbeat | undefined;
  /** The resolved URL, once providers have answered. */
  url = '';

  constructor(init: ConnectionInit, callbacks: ConnectionCallbacks) {
    this.#init = init;
    this.#on = callbacks;
    if (init.connectionTimeout !== null) {
      // Covers provider resolution too: a token endpoint that hangs must not stall us forever.
      this.#connectTimer = startTimer(
        () => this.#finish({ code: 'connect_timeout', reason: 'connection timeout' }),
        init.connectionTimeout,
      );
    }
    resolveProviders(init.url, init.protocols).then(
      ([url, protocols]) => this.#create(url, protocols),
      (error: unknown) => this.#finish({ code: 'connect_error', reason: describe(error), error }),
    );
  }

  get socket(): WebSocketLike | undefined {
    return this.#ws;
  }

  /**
   * Stops timers and detaches the socket; no callback fires afterwards. `graceful` closes
   * with a closing handshake; otherwise the socket is cut (a half-open or timed-out socket
   * would never finish a handshake). Returns whether a socket existed.
   */
  dispose(code: number, reason: string, graceful: boolean): boolean {
    this.#done = true;
    this.#connectTimer?.clear();
    this.#heartbeat?.stop();
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws) return false;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // A detached socket may still report an error (e.g. closed during its handshake); with no
    // listener, Node's `ws` would throw it as an unhandled 'error' event.
    ws.onerror = noop;
    const terminate = (ws as { terminate?: () => void }).terminate;
    try {
      if (!graceful && typeof terminate === 'function') terminate.call(ws);
      // A browser's close() throws on a code it may not send (1006, which a timed-out or
      // half-open end reports) and has no terminate(): close without one, or the socket
      // would stay open, detached, for as long as the page lives.
      else if (code === 1000 || (code >= 3000 && code <= 4999)) ws.close(code, reason);
      else ws.close();
    } catch {
      // Already closing or closed; or a close the socket refused, which must not leave it
      // open: cut it instead, where the socket can be cut.
      try {
        if (typeof terminate === 'function') terminate.call(ws);
      } catch {
        // Nothing left to release.
      }
    }
    return true;
  }

  #create(url: string, protocols: string | string[] | undefined): void {
    if (this.#done) return;
    const Ctor = this.#init.WebSocket;
    let ws: WebSocketLike;
    try {
      ws = protocols === undefined ? new Ctor(url) : new Ctor(url, protocols);
    } catch (error) {
      this.#finish({ code: 'connect_error', reason: describe(error), error });
      return;
    }
    this.url = url;
    this.#ws = ws;
    if (this.#init.binaryType !== undefined) ws.binaryType = this.#init.binaryType;
    ws.onopen = () => this.#opened(ws);
    ws.onmessage = (event: { data: unknown }) => {
      this.#heartbeat?.received();
      this.#on.message(event.data);
    };
    ws.onerror = (event: { error?: unknown }) =>
      this.#on.error(event.error ?? new Error('WebSocket error'));
    ws.onclose = (event: { code?: number; reason?: string; wasClean?: boolean }) =>
      this.#finish({
        code: 'transport_closed',
        closeCode: event.code ?? 1006,
        reason: event.reason ?? '',
        wasClean: event.wasClean ?? false,
        graceful: true,
      });
  }

  #opened(ws: WebSocketLike): void {
    this.#connectTimer?.clear();
    this.#connectTimer = undefined;
    const heartbeat = this.#init.heartbeat;
    if (heartbeat) {
      const { message } = heartbeat;
      this.#heartbeat = new Heartbeat({
        interval: heartbeat.interval,
        timeout: heartbeat.timeout,
        ping: () => ws.send(typeof message === 'function' ? message() : message),
        dead: () => this.#finish({ code: 'heartbeat_timeout', reason: 'heartbeat timeout' }),
      });
    }
    this.#on.open();
  }

  #finish(end: {
    code: ConnectionEnd['code'];
    reason: string;
    closeCode?: number;
    wasClean?: boolean;
    graceful?: boolean;
    error?: unknown;
  }): void {
    if (this.#done) return;
    const closeCode = end.closeCode ?? 1006;
    const hadSocket = this.dispose(closeCode, end.reason, end.graceful ?? false);
    this.#on.end({
      code: end.code,
      closeCode,
      reason: end.reason,
      wasClean: end.wasClean ?? false,
      hadSocket,
      ...(end.error === undefined ? {} : { error: end.error }),
    });
  }
}

async function resolveProviders(
  url: UrlProvider,
  protocols: ProtocolsProvider | undefined,
): Promise<[string, string | string[] | undefined]> {
  const [resolvedUrl, resolvedProtocols] = await Promise.all([
    typeof url === 'function' ? url() : url,
    typeof protocols === 'function' ? protocols() : protocols,
  ]);
  if (typeof resolvedUrl !== 'string') {
    throw new SluiceError('invalid_argument', 'The URL provider must return a string');
  }
  return [resolvedUrl, resolvedProtocols];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
