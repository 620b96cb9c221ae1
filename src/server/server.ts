/**
 * The runnable hub: one `http.Server` with the channels API, health, and the features
 * mounted beside them. Graceful shutdown: stop accepting, end every open stream cleanly
 * (SSE bodies close, so clients reconnect elsewhere with Last-Event-ID), then cut what is
 * still open after `shutdownTimeout`.
 */
import http from 'node:http';
import { answerClientError } from './client-error.js';
import type { AddressInfo, Socket } from 'node:net';
import type { Broker } from '../broker/types.js';
import { createMemoryBroker } from '../broker/memory-broker.js';
import { SluiceError } from '../core/errors.js';
import { createRequestAuthorizer } from '../core/auth.js';
import { createLlmHandler, type LlmHandler } from '../llm/index.js';
import type { LlmOptions } from '../llm/options.js';
import { attachWebSocketHub, type WebSocketHub } from '../ws/hub.js';
import { setupAuth } from './auth-setup.js';
import { createChannelsHandler } from './channels-handler.js';
import { composeHandlers } from './compose.js';
import { SERVER_DEFAULTS, type ServerConfig } from './config.js';
import type { RouteHandler } from './handler.js';
import { createIndexPage } from './index-page.js';
import { toNodeHandler } from './node-adapter.js';

export interface SluiceServerOptions {
  config?: Partial<ServerConfig>;
  /** Defaults to the embedded memory broker built from the config's history limits. */
  broker?: Broker;
  /** The OpenAI-compatible LLM endpoints (built-in mock model by default); `null` disables. */
  llm?: LlmOptions | null;
  /** Extra handlers tried before the built-in ones. */
  handlers?: RouteHandler[];
  /** Called with unexpected handler errors (the client gets a 500). */
  onError?: (error: unknown) => void;
}

export interface SluiceServer {
  readonly server: http.Server;
  readonly broker: Broker;
  /** The WebSocket hub at `/v1/ws`, on the same port. */
  readonly hub: WebSocketHub;
  /** The LLM endpoints (`/v1/chat/completions`, `/v1/models`, `/v1/generations`). */
  readonly llm: LlmHandler | undefined;
  readonly config: ServerConfig;
  /** Set in open mode (no JWT secret): the operator should see it. */
  readonly authWarning: string | undefined;
  /** Fires when shutdown begins: long-lived streams end on it. */
  readonly shutdownSignal: AbortSignal;
  /** Resolves once listening; gives the base URL (`http://host:port`). */
  listen(): Promise<string>;
  /** Graceful shutdown; resolves when every connection is closed. Idempotent. */
  close(): Promise<void>;
}

export function createSluiceServer(options: SluiceServerOptions = {}): SluiceServer {
  const config: ServerConfig = { ...SERVER_DEFAULTS, ...options.config };
  const auth = setupAuth(config);
  const ownsBroker = options.broker === undefined;
  const broker =
    options.broker ??
    createMemoryBroker({
      historyLimit: config.historyLimit,
      historyMaxAge: config.historyMaxAge,
    });
  const shutdown = new AbortController();
  const startedAt = Date.now();
  let closing: Promise<void> | undefined;

  const llm = options.llm === null ? undefined : createLlmHandler(options.llm ?? {});

  // Counters for operators: open streams, WebSocket buffers, generations. Cheap to compute.
  let sseStreams = 0;
  const health: RouteHandler = (request) => {
    if (new URL(request.url).pathname !== '/healthz') return undefined;
    const ws = hub.stats();
    return Response.json({
      status: shutdown.signal.aborted ? 'shutting_down' : 'ok',
      uptime: Math.round((Date.now() - startedAt) / 1000),
      sse: { streams: sseStreams },
      websocket: {
        connections: ws.connections,
        subscriptions: ws.subscriptions,
        bufferedBytes: ws.bufferedBytes,
      },
      ...(llm ? { llm: { running: llm.stats().running, started: llm.stats().started } } : {}),
    });
  };

  const handler = composeHandlers(
    ...(options.handlers ?? []),
    health,
    ...(llm ? [llm] : []),
    createChannelsHandler({
      broker,
      maxBodySize: config.maxBodySize,
      keepAlive: config.keepAlive,
      stallTimeout: config.stallTimeout,
      retry: config.retry,
      onStream: (open) => (sseStreams += open ? 1 : -1),
      authorize: createRequestAuthorizer(auth.authenticator),
    }),
    createIndexPage(),
  );

  const server = http.createServer(
    toNodeHandler(handler, {
      signal: shutdown.signal,
      ...(options.onError ? { onError: options.onError } : {}),
    }),
  );

  server.on('clientError', answerClientError);

  const hub = attachWebSocketHub(server, {
    broker,
    authenticator: auth.authenticator,
    ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });

  // Sockets and whether a request is in flight on them: at shutdown, a socket without one
  // (idle keep-alive, or opened speculatively by a client pool and never used) is closed at
  // once; Node's closeIdleConnections() does not see sockets that never sent a request.
  // The listeners are shared, not closures per socket and per request ('close' fires once,
  // so `on` is enough and skips the wrapper `once` makes): they are held for the life of
  // every stream.
  const busy = new Map<Socket, number>();
  function socketClosed(this: Socket): void {
    busy.delete(this);
  }
  function requestClosed(this: http.ServerResponse): void {
    const socket = this.req.socket;
    const requests = busy.get(socket);
    if (requests !== undefined) busy.set(socket, Math.max(0, requests - 1));
  }
  server.on('connection', (socket: Socket) => {
    busy.set(socket, 0);
    socket.on('close', socketClosed);
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    busy.set(req.socket, (busy.get(req.socket) ?? 0) + 1);
    res.on('close', requestClosed);
  });
  const closeIdleSockets = () => {
    for (const [socket, requests] of busy) if (requests === 0) socket.destroy();
  };

  return {
    server,
    broker,
    hub,
    llm,
    config,
    authWarning: auth.warning,
    shutdownSignal: shutdown.signal,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const { port } = server.address() as AddressInfo;
          const host = config.host.includes(':') ? `[${config.host}]` : config.host;
          resolve(`http://${host}:${port}`);
        });
      }),
    close: () => {
      closing ??= (async () => {
        shutdown.abort(new SluiceError('shutting_down', 'The server is shutting down'));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // WebSockets get a 1001 (going away) close frame before idle sockets are swept
        // (upgraded sockets never carried a 'request', so the sweep would cut them).
        await Promise.all([hub.close(), llm?.close()]);
        // Streams end on the shutdown signal; their keep-alive connections then turn idle.
        const sweep = setInterval(closeIdleSockets, 25);
        const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeout);
        closeIdleSockets();
        await closed;
        clearInterval(sweep);
        clearTimeout(force);
        if (ownsBroker) await broker.close();
      })();
      return closing;
    },
  };
}
