/**
 * The named peers as SSE servers for the bench's server process, each written the way its
 * documentation shows, doing the same job as the sluice target: every client is a
 * subscriber of one channel, and `publish` sends each of them the same event.
 *
 * - `better-sse`: `createSession(req, res)` on a `node:http` server, registered with a
 *   `createChannel()` channel that `broadcast()`s.
 * - `hono`: Hono's `streamSSE()` helper served by `@hono/node-server`; the handler keeps
 *   each stream open until the client leaves, and publishing writes to every open stream.
 *
 * Keepalive comments are off for both, as for the sluice target (Hono's helper sends none).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChannel, createSession } from 'better-sse';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { EVENTS_PATH, payload } from './protocol.js';

export interface Target {
  listen(): Promise<string>;
  subscribers(): number;
  publish: (seq: number) => void;
  close(): Promise<void>;
}

/** Resolves with the base URL once `server` listens on a free loopback port. */
function listenOnLoopback(server: http.Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function betterSseTarget(): Target {
  const channel = createChannel();
  const server = http.createServer((req, res) => {
    if (req.url !== EVENTS_PATH) {
      res.writeHead(404).end();
      return;
    }
    createSession(req, res, { keepAlive: null }).then(
      (session) => channel.register(session),
      () => res.destroy(),
    );
  });
  return {
    listen: () => listenOnLoopback(server),
    subscribers: () => channel.sessionCount,
    publish: (seq) => {
      channel.broadcast(payload(seq));
    },
    close: () => closeServer(server),
  };
}

export function honoTarget(): Target {
  const open = new Set<SSEStreamingApi>();
  let position = 0;
  const app = new Hono();
  app.get(EVENTS_PATH, (c) =>
    streamSSE(c, async (stream) => {
      open.add(stream);
      await stream.write(': ok\n');
      // The stream stays open until the client leaves.
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      open.delete(stream);
    }),
  );
  let server: http.Server | undefined;
  return {
    listen: () =>
      new Promise((resolve) => {
        server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
          resolve(`http://127.0.0.1:${info.port}`);
        }) as http.Server;
      }),
    subscribers: () => open.size,
    publish: (seq) => {
      const message = { id: String(++position), data: JSON.stringify(payload(seq)) };
      for (const stream of open) void stream.writeSSE(message);
    },
    close: () => (server ? closeServer(server) : Promise.resolve()),
  };
}
