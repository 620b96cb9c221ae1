import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { MemoryBroker } from '../../src/broker/memory-broker.js';
import {
  createSluiceClient,
  type SluiceSocket,
  type SluiceSocketOptions,
} from '../../src/client/ws-client.js';
import type { SubscriptionItem } from '../../src/client/ws-client-types.js';
import { attachWebSocketHub, type WebSocketHub } from '../../src/ws/hub.js';
import type { WebSocketHubOptions } from '../../src/ws/hub-options.js';
import { perTestCleanups } from '../helpers/cleanups.js';

export interface RunningHub {
  server: Server;
  hub: WebSocketHub;
  port: number;
  url: string;
  /** Raw TCP sockets currently open (destroy one to simulate a dropped connection). */
  sockets: Set<Socket>;
  /** Cuts every TCP connection without a close frame. */
  cutAll(): void;
  stop(): Promise<void>;
}

/** A node:http server on 127.0.0.1 (port 0 unless given) with the real hub attached. */
export async function startHub(
  broker: MemoryBroker,
  options: { port?: number; hub?: Omit<WebSocketHubOptions, 'broker'> } = {},
): Promise<RunningHub> {
  const server = createServer((_request, response) => response.writeHead(404).end());
  const hub = attachWebSocketHub(server, { broker, rateLimit: null, ...options.hub });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    server,
    hub,
    port,
    url: `ws://127.0.0.1:${port}${hub.path}`,
    sockets,
    cutAll: () => sockets.forEach((socket) => socket.destroy()),
    stop: () =>
      (stopped ??= (async () => {
        await hub.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })()),
  };
}

/** Registers teardown of hubs and clients after each test of the calling file. */
export function hubHarness() {
  const { cleanups, defer } = perTestCleanups();
  return {
    defer,
    hub: async (broker: MemoryBroker, options?: Parameters<typeof startHub>[1]) => {
      const running = await startHub(broker, options);
      cleanups.push(() => running.stop());
      return running;
    },
    client: (url: string, options: SluiceSocketOptions = {}): SluiceSocket => {
      const client = createSluiceClient(url, {
        WebSocket,
        networkEvents: null,
        backoff: { initialDelay: 5, maxDelay: 50 },
        ...options,
      });
      cleanups.push(() => client.close());
      return client;
    },
  };
}

/** A subscriber that records what it receives, to compare with the broker's history. */
export interface Recorder {
  items: SubscriptionItem[];
  /** The events received, as `{ id, data }` (kept incrementally: cheap to poll). */
  events: { id: string; data: unknown }[];
  gaps: SubscriptionItem[];
  push(item: SubscriptionItem): void;
}

export function recorder(): Recorder {
  const r: Recorder = {
    items: [],
    events: [],
    gaps: [],
    push: (item) => {
      r.items.push(item);
      if (item.type === 'event') r.events.push({ id: item.id, data: item.data });
      else r.gaps.push(item);
    },
  };
  return r;
}

/** What a subscriber must end with: the broker's history of the channel, in order. */
export async function publishedSequence(
  broker: MemoryBroker,
  channel: string,
): Promise<{ id: string; data: unknown }[]> {
  const { messages, gap } = await broker.history(channel, { limit: 1_000_000 });
  if (gap) throw new Error(`history has a gap: ${gap.reason}`);
  return messages.map((message) => ({ id: message.id, data: message.data }));
}

export { WebSocket };
