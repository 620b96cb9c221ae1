/**
 * A tiny node:http server for the SSE client tests: each request goes to a scripted handler
 * that writes SSE bytes by hand, and the server counts sockets so tests can prove teardown.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach } from 'vitest';
import type { SseClient } from '../../src/client/index.js';

export interface SeenRequest {
  index: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The `Last-Event-ID` header decoded as UTF-8 bytes (Node reads header bytes as Latin-1). */
  lastEventId: string | undefined;
}

export type Handler = (request: SeenRequest, res: http.ServerResponse) => void | Promise<void>;

export interface TestServer {
  url: string;
  requests: SeenRequest[];
  /**
   * Sockets that carried a request and are still open on the server side. Sockets that
   * never carried one are not counted: after an aborted streaming fetch, Node's bundled
   * undici opens a spare connection it never uses (nodejs/undici#5845), not ours to close.
   */
  readonly openSockets: number;
  waitForRequests(count: number): Promise<void>;
  waitForNoSockets(): Promise<void>;
  close(): Promise<void>;
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/** Opens a 200 event stream and flushes headers at once. */
export function openStream(res: http.ServerResponse, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(200, { ...SSE_HEADERS, ...headers });
  res.flushHeaders();
}

export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const changed = new Set<() => void>();
  const notify = (): void => {
    for (const wake of [...changed]) wake();
  };
  const server = http.createServer((req, res) => {
    const { socket } = req;
    if (!sockets.has(socket)) {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        notify();
      });
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = req.headers['last-event-id'];
      const seen: SeenRequest = {
        index: requests.length,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        lastEventId:
          raw === undefined ? undefined : Buffer.from(String(raw), 'latin1').toString('utf8'),
      };
      requests.push(seen);
      notify();
      void Promise.resolve(handler(seen, res)).catch((error: unknown) =>
        res.destroy(error as Error),
      );
    });
  });
  const all = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    all.add(socket);
    socket.on('close', () => all.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const until = (done: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        changed.delete(check);
        resolve();
      };
      changed.add(check);
      check();
    });

  return {
    url: `http://127.0.0.1:${port}/stream`,
    requests,
    get openSockets() {
      return sockets.size;
    },
    waitForRequests: (count) => until(() => requests.length >= count),
    waitForNoSockets: () => until(() => sockets.size === 0),
    close: async () => {
      for (const socket of all) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Resolves on the next event of `type` dispatched by `target`. */
export function nextEvent<E extends Event>(target: EventTarget, type: string): Promise<E> {
  return new Promise((resolve) => {
    target.addEventListener(type, (event) => resolve(event as E), { once: true });
  });
}

/** Resolves on the next event of `type` that passes `test`. */
export function eventWhere<E extends Event>(
  target: EventTarget,
  type: string,
  test: (event: E) => boolean,
): Promise<E> {
  return new Promise((resolve) => {
    const listener = (event: Event): void => {
      if (!test(event as E)) return;
      target.removeEventListener(type, listener);
      resolve(event as E);
    };
    target.addEventListener(type, listener);
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fast reconnection for tests: delays of a few milliseconds. */
export const FAST = { backoff: { initialDelay: 10, maxDelay: 50 } } as const;

/**
 * Servers and clients made in a test are closed after it (registers an `afterEach`).
 * `serve` starts a tiny server; `track` registers a client to close.
 */
export function useFixtures(): {
  serve: (handler: Handler) => Promise<TestServer>;
  track: (client: SseClient) => SseClient;
} {
  const servers: TestServer[] = [];
  const clients: SseClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) await server.close();
  });
  return {
    serve: async (handler) => {
      const server = await startServer(handler);
      servers.push(server);
      return server;
    },
    track: (client) => {
      clients.push(client);
      return client;
    },
  };
}
