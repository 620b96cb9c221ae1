import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData, type WebSocket as ServerSocket } from 'ws';
import {
  ReconnectingWebSocket,
  type ConnectionState,
  type ReconnectingWebSocketOptions,
  type StateChangeEvent,
  type UrlProvider,
} from '../../src/client/reconnecting-websocket.js';
import { perTestCleanups } from '../helpers/cleanups.js';

/**
 * Per-file fixtures that are torn down after each test: sockets (with fast backoff and the
 * `ws` implementation) and servers.
 */
export function harness() {
  const { cleanups, defer } = perTestCleanups();
  return {
    defer,
    open: (url: UrlProvider, options: ReconnectingWebSocketOptions = {}): ReconnectingWebSocket => {
      const socket = new ReconnectingWebSocket(url, {
        WebSocket,
        networkEvents: null,
        backoff: { initialDelay: 5, maxDelay: 20 },
        ...options,
      });
      cleanups.push(() => socket.close());
      return socket;
    },
    server: async (options?: Parameters<typeof startServer>[0]): Promise<TestServer> => {
      const server = await startServer(options);
      cleanups.push(() => server.close());
      return server;
    },
  };
}

export interface TestServer {
  wss: WebSocketServer;
  url: string;
  port: number;
  /** Every server-side socket accepted so far, with the request URL and offered protocols. */
  connections: { socket: ServerSocket; url: string; protocols: string }[];
  close(): Promise<void>;
}

/** A plain `ws` server on 127.0.0.1:0 that records connections. */
export async function startServer(
  options: { handleProtocols?: (protocols: Set<string>) => string | false } = {},
): Promise<TestServer> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    ...(options.handleProtocols ? { handleProtocols: options.handleProtocols } : {}),
  });
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  const connections: TestServer['connections'] = [];
  wss.on('connection', (socket, request) => {
    connections.push({
      socket,
      url: request.url ?? '',
      protocols: request.headers['sec-websocket-protocol'] ?? '',
    });
  });
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs` with `what`. */
export async function waitFor(
  predicate: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Records every statechange of a socket. */
export function recordStates(socket: ReconnectingWebSocket): StateChangeEvent[] {
  const events: StateChangeEvent[] = [];
  socket.addEventListener('statechange', (event) => events.push(event));
  return events;
}

/** Resolves with the next statechange into `to`. */
export function nextState(
  socket: ReconnectingWebSocket,
  to: ConnectionState,
  timeoutMs = 5_000,
): Promise<StateChangeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.removeEventListener('statechange', onChange);
      reject(new Error(`Timed out waiting for state ${to}`));
    }, timeoutMs);
    const onChange = (event: StateChangeEvent): void => {
      if (event.to !== to) return;
      clearTimeout(timer);
      socket.removeEventListener('statechange', onChange);
      resolve(event);
    };
    socket.addEventListener('statechange', onChange);
  });
}

/** Resolves with a port on 127.0.0.1 that nothing listens on (connections are refused). */
export async function refusedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A `ws` message payload as text. */
export function text(data: RawData): string {
  return Array.isArray(data)
    ? Buffer.concat(data).toString()
    : Buffer.from(data as ArrayBuffer).toString();
}
