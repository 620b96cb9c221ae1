/**
 * The WebSocket servers the benches compare, each behind the same small interface so the
 * server process drives them alike. All listen on a plain `node:http` server on 127.0.0.1,
 * without compression, and send the same event (`{"type":"event","channel","id","data"}`,
 * ids shaped like the memory broker's) so frames are the same size:
 *
 * - `sluice`: the hub (`attachWebSocketHub`) over the memory broker, published to with
 *   `broker.publish()`: broker history, per-subscriber queue, outbound budget and policy.
 * - `ws-loop`: a bare `ws` server; per message, `JSON.stringify` once, then `client.send()`
 *   in a loop (ws frames and UTF-8-encodes the string for every client). No backpressure.
 * - `ws-frame`: a bare `ws` server; per message, the whole frame is built once
 *   (`WebSocket.Sender.frame`) and the same Buffer written to every socket through the
 *   sender, as ws's author suggests for broadcasts (and as socket.io does). The floor.
 * - `socketio`: socket.io 4 with the websocket transport; clients join one room and the
 *   server calls `io.to(room).emit('event', ...)` (socket.io pre-encodes the frame once).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer } from 'socket.io';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { createMemoryBroker } from '../../src/broker/memory-broker.js';
import { newEpoch } from '../../src/core/event-id.js';
import { attachWebSocketHub } from '../../src/ws/hub.js';
import { WS_CHANNEL, type WsServerKind, type WsServerOptions } from './protocol.js';

export const WS_PATH = '/v1/ws';

export interface WsTarget {
  /** Resolves with the URL clients connect to. */
  listen(): Promise<string>;
  /** Connections that will receive a broadcast (subscribed, or in the room). */
  receivers(): number;
  connections(): number;
  /** The largest outbound backlog of one connection, bytes. */
  maxConnectionBuffered(): number;
  publish(data: unknown): void;
  close(): Promise<void>;
}

/** ws's frame builder and a socket's sender: public in ws's code, absent from its types. */
interface FrameBuilder {
  frame(
    data: Buffer,
    options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
  ): Buffer[];
}
interface WithSender {
  _sender: { sendFrame(list: Buffer[], cb?: () => void): void };
}
const Sender = (wsModule as unknown as { Sender: FrameBuilder }).Sender;

function listen(server: http.Server, path: string): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`ws://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Events shaped like the hub's, with ids shaped like the memory broker's. */
function eventMaker(): (data: unknown) => {
  type: 'event';
  channel: string;
  id: string;
  data: unknown;
} {
  const epoch = newEpoch();
  let position = 0;
  return (data) => ({ type: 'event', channel: WS_CHANNEL, id: `${epoch}:${++position}`, data });
}

/** Resets and broken pipes from clients going away are expected; anything else is not. */
function expected(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function sluiceTarget(options: WsServerOptions, fail: (error: unknown) => void): WsTarget {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const broker = createMemoryBroker();
  const hub = attachWebSocketHub(server, {
    broker,
    ...(options.heartbeat ? {} : { heartbeatInterval: null }),
    ...(options.policy === 'drop-oldest'
      ? { channelPolicies: [{ pattern: WS_CHANNEL, overflow: 'drop-oldest' as const }] }
      : {}),
    onError: (error) => {
      if (!expected(error)) fail(error);
    },
  });
  return {
    listen: () => listen(server, hub.path),
    receivers: () => hub.stats().subscriptions,
    connections: () => hub.stats().connections,
    maxConnectionBuffered: () => hub.stats().maxConnectionBufferedBytes,
    publish: (data) => {
      broker.publish(WS_CHANNEL, { data }).catch(fail);
    },
    close: async () => {
      await hub.close();
      await closeServer(server);
      await broker.close();
    },
  };
}

function wsTarget(prebuilt: boolean): WsTarget {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: WS_PATH, perMessageDeflate: false });
  wss.on('connection', (socket) => socket.on('error', () => socket.terminate()));
  const event = eventMaker();
  const frameOptions = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };
  return {
    listen: () => listen(server, WS_PATH),
    receivers: () => wss.clients.size,
    connections: () => wss.clients.size,
    maxConnectionBuffered: () => {
      let max = 0;
      for (const client of wss.clients) max = Math.max(max, client.bufferedAmount);
      return max;
    },
    publish: prebuilt
      ? (data) => {
          const frame = [
            Buffer.concat(Sender.frame(Buffer.from(JSON.stringify(event(data))), frameOptions)),
          ];
          for (const client of wss.clients) {
            if (client.readyState === WebSocket.OPEN) {
              (client as unknown as WithSender)._sender.sendFrame(frame);
            }
          }
        }
      : (data) => {
          const text = JSON.stringify(event(data));
          for (const client of wss.clients) {
            if (client.readyState === WebSocket.OPEN) client.send(text);
          }
        },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeServer(server);
    },
  };
}

function socketIoTarget(): WsTarget {
  const server = http.createServer();
  const io = new SocketIoServer(server, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
  });
  io.on('connection', (socket) => void socket.join(WS_CHANNEL));
  const event = eventMaker();
  return {
    listen: () => listen(server, '/socket.io/?EIO=4&transport=websocket'),
    receivers: () => io.of('/').adapter.rooms.get(WS_CHANNEL)?.size ?? 0,
    connections: () => io.engine.clientsCount,
    maxConnectionBuffered: () => {
      let max = 0;
      for (const socket of io.of('/').sockets.values()) {
        const ws = (socket.conn.transport as unknown as { socket?: { bufferedAmount?: number } })
          .socket;
        max = Math.max(max, ws?.bufferedAmount ?? 0);
      }
      return max;
    },
    publish: (data) => {
      const { channel, id } = event(data);
      io.to(WS_CHANNEL).emit('event', { channel, id, data });
    },
    close: async () => {
      await io.close();
      await closeServer(server);
    },
  };
}

export function createTarget(
  kind: WsServerKind,
  options: WsServerOptions,
  fail: (error: unknown) => void,
): WsTarget {
  switch (kind) {
    case 'sluice':
      return sluiceTarget(options, fail);
    case 'ws-loop':
      return wsTarget(false);
    case 'ws-frame':
      return wsTarget(true);
    case 'socketio':
      return socketIoTarget();
  }
}
