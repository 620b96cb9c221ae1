/**
 * The WebSocket hub: upgrades on one path of an existing HTTP(S) server become connections
 * speaking the sluice protocol over the broker's channels. One heartbeat timer serves every
 * connection; `close()` ends them all with 1001 and leaves no timer or listener behind.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type Server as WsServer } from 'ws';
import type { Principal } from '../core/auth.js';
import { SluiceError, isSluiceError } from '../core/errors.js';
import { ChannelFeeds } from './channel-feed.js';
import { CLOSE_CODES } from './close-codes.js';
import { HubConnection } from './hub-connection.js';
import { HubSocket } from './hub-socket.js';
import {
  resolveHubOptions,
  type ResolvedHubOptions,
  type WebSocketHubOptions,
} from './hub-options.js';
import { collectStats, type HubShared, type WebSocketHubStats } from './hub-stats.js';
import {
  negotiate,
  rejectUpgrade,
  requestPath,
  withTimeout,
  type Negotiated,
} from './hub-upgrade.js';

export type { WebSocketHubStats };

export interface WebSocketHub {
  readonly path: string;
  /**
   * Handles an `upgrade` event if it is for the hub's path (returns `false` otherwise). For
   * servers that dispatch upgrades themselves; `attachWebSocketHub` calls it for you.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every connection with 1001 (going away), stops timers, detaches from the server. */
  close(): Promise<void>;
  stats(): WebSocketHubStats;
}

type RejectReason = keyof WebSocketHubStats['rejectedUpgrades'];

class Hub implements WebSocketHub {
  readonly path: string;
  readonly #options: ResolvedHubOptions;
  readonly #wss: WsServer<typeof HubSocket>;
  readonly #connections = new Set<HubConnection>();
  readonly #pending = new Set<Promise<void>>();
  readonly #protocols = new WeakMap<IncomingMessage, string>();
  readonly #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #shared: HubShared;
  readonly #rejected: WebSocketHubStats['rejectedUpgrades'] = {
    origin: 0,
    unauthorized: 0,
    capacity: 0,
    badRequest: 0,
    closing: 0,
  };
  #closing: Promise<void> | undefined;
  #detach: (() => void) | undefined;
  #unlisten: (() => void) | undefined;

  constructor(options: WebSocketHubOptions) {
    this.#options = resolveHubOptions(options);
    this.path = this.#options.path;
    this.#shared = {
      options: this.#options,
      counters: {
        slowConsumerDisconnects: 0,
        heartbeatTimeouts: 0,
        rateLimited: 0,
        invalidMessages: 0,
        dropped: 0,
        conflated: 0,
      },
      feeds: new ChannelFeeds(this.#options.broker),
      connectionClosed: (connection) => this.#connections.delete(connection),
    };
    this.#wss = new WebSocketServer<typeof HubSocket>({
      noServer: true,
      clientTracking: false,
      maxPayload: this.#options.maxPayload,
      // Compression stays off: per-connection zlib state is the classic memory blow-up.
      perMessageDeflate: false,
      WebSocket: HubSocket,
      handleProtocols: (_offered, request) => this.#protocols.get(request) ?? false,
    });
    const interval = this.#options.heartbeatInterval;
    if (interval !== null) {
      this.#heartbeat = setInterval(() => {
        for (const connection of this.#connections) connection.heartbeat();
      }, interval);
      this.#heartbeat.unref();
    }
    const signal = options.signal;
    if (signal) {
      const onAbort = (): void => void this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlisten = () => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) void this.close();
    }
  }

  setDetach(detach: () => void): void {
    this.#detach = detach;
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (requestPath(request) !== this.path) return false;
    // Until ws owns the socket, a reset must not become an unhandled 'error'.
    const onSocketError = (): void => void socket.destroy();
    socket.on('error', onSocketError);
    const reject = (error: SluiceError, reason: RejectReason, headers = {}): void => {
      this.#rejected[reason]++;
      rejectUpgrade(socket, error, headers);
    };
    if (this.#closing) {
      reject(new SluiceError('shutting_down', 'Server shutting down', { status: 503 }), 'closing');
      return true;
    }
    const max = this.#options.maxConnections;
    if (max !== null && this.#connections.size + this.#pending.size >= max) {
      const error = new SluiceError('too_many_connections', 'Too many connections', {
        status: 503,
      });
      reject(error, 'capacity', { 'Retry-After': '5' });
      return true;
    }
    let negotiated: Negotiated;
    try {
      negotiated = negotiate(request, this.#options.allowedOrigins);
    } catch (error) {
      const sluiceError = error as SluiceError;
      const reason: RejectReason =
        sluiceError.code === 'forbidden'
          ? 'origin'
          : sluiceError.status === 401
            ? 'unauthorized'
            : 'badRequest';
      reject(sluiceError, reason);
      return true;
    }
    const pending = this.#authenticate(request, socket, head, negotiated, onSocketError);
    this.#pending.add(pending);
    void pending.finally(() => this.#pending.delete(pending));
    return true;
  }

  async #authenticate(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    negotiated: Negotiated,
    onSocketError: () => void,
  ): Promise<void> {
    let principal: Principal;
    try {
      principal = await withTimeout(
        this.#options.authenticator.authenticate({
          ...(negotiated.token === undefined ? {} : { token: negotiated.token }),
          ...(negotiated.origin === undefined ? {} : { origin: negotiated.origin }),
        }),
        this.#options.authTimeout,
      );
    } catch (error) {
      if (!isSluiceError(error)) this.#options.onError(error, {});
      const rejection = isSluiceError(error)
        ? error
        : new SluiceError('internal_error', 'Authentication failed', { status: 500 });
      this.#rejected.unauthorized++;
      rejectUpgrade(socket, rejection);
      return;
    }
    if (this.#closing) {
      this.#rejected.closing++;
      rejectUpgrade(
        socket,
        new SluiceError('shutting_down', 'Server shutting down', { status: 503 }),
      );
      return;
    }
    if (socket.destroyed) return;
    if (negotiated.protocol !== undefined) this.#protocols.set(request, negotiated.protocol);
    socket.off('error', onSocketError);
    this.#wss.handleUpgrade(request, socket, head, (ws) =>
      this.#accept(ws, socket, { principal, negotiated }),
    );
  }

  #accept(
    ws: HubSocket,
    socket: Duplex,
    { principal, negotiated }: { principal: Principal; negotiated: Negotiated },
  ): void {
    const connection = new HubConnection(
      ws,
      { id: randomUUID(), principal, codec: negotiated.codec, socket },
      this.#shared,
    );
    this.#connections.add(connection);
    connection.start();
    if (this.#closing) connection.close(CLOSE_CODES.GOING_AWAY);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#detach?.();
      this.#unlisten?.();
      if (this.#heartbeat) clearInterval(this.#heartbeat);
      await Promise.allSettled([...this.#pending]);
      const connections = [...this.#connections];
      for (const connection of connections) connection.close(CLOSE_CODES.GOING_AWAY);
      await Promise.all(connections.map((connection) => connection.closed));
      this.#shared.feeds.close(); // already empty: every member left with its connection
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closing;
  }

  stats(): WebSocketHubStats {
    return collectStats(this.#connections, {
      pendingUpgrades: this.#pending.size,
      counters: this.#shared.counters,
      rejectedUpgrades: this.#rejected,
    });
  }
}

/** A hub not attached to any server: feed it upgrades with `hub.handleUpgrade()`. */
export function createWebSocketHub(options: WebSocketHubOptions): WebSocketHub {
  return new Hub(options);
}

/**
 * Attaches a hub to a server's `upgrade` event. Upgrades for other paths are left to other
 * listeners; when the hub is the only listener they are answered 404 rather than hanging.
 */
export function attachWebSocketHub(
  server: HttpServer | HttpsServer,
  options: WebSocketHubOptions,
): WebSocketHub {
  const hub = new Hub(options);
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (hub.handleUpgrade(request, socket, head)) return;
    if (server.listenerCount('upgrade') === 1) {
      socket.on('error', () => socket.destroy());
      rejectUpgrade(
        socket,
        new SluiceError('not_found', 'No WebSocket endpoint here', { status: 404 }),
      );
    }
  };
  server.on('upgrade', onUpgrade);
  hub.setDetach(() => server.off('upgrade', onUpgrade));
  return hub;
}
