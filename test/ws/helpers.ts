/**
 * Test fixtures: a real HTTP server with the hub on 127.0.0.1:0, and a client built on the
 * `ws` package speaking the documented protocol (JSON or MessagePack) with nothing of the
 * hub's code but the codec.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createMemoryBroker, type MemoryBroker } from '../../src/broker/memory-broker.js';
import { attachWebSocketHub, type WebSocketHub } from '../../src/ws/hub.js';
import type { WebSocketHubOptions } from '../../src/ws/hub-options.js';
import {
  jsonCodec,
  msgpackCodec,
  type ClientMessage,
  type ServerMessage,
  type WireFormat,
} from '../../src/ws/protocol.js';

export interface HubFixture {
  broker: MemoryBroker;
  server: Server;
  hub: WebSocketHub;
  url: string;
  close(): Promise<void>;
}

export async function startHub(
  options: Partial<WebSocketHubOptions> = {},
  brokerOptions: Parameters<typeof createMemoryBroker>[0] = {},
): Promise<HubFixture> {
  const broker = createMemoryBroker(brokerOptions);
  const server = createServer((_request, response) => {
    response.statusCode = 404;
    response.end();
  });
  const hub = attachWebSocketHub(server, { broker, heartbeatInterval: null, ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    broker,
    server,
    hub,
    url: `ws://127.0.0.1:${port}${options.path ?? '/v1/ws'}`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await broker.close();
    },
  };
}

export interface ConnectOptions {
  format?: WireFormat;
  /** Extra subprotocol entries (e.g. a token entry). */
  protocols?: string[];
  headers?: Record<string, string>;
  origin?: string;
  query?: string;
  autoPong?: boolean;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly format: WireFormat;
  readonly inbox: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters = new Set<() => void>();

  private constructor(ws: WebSocket, format: WireFormat) {
    this.ws = ws;
    this.format = format;
    const codec = format === 'json' ? jsonCodec : msgpackCodec;
    ws.on('message', (data: Buffer, isBinary) => {
      const decoded = codec.decode(isBinary ? new Uint8Array(data) : data.toString('utf8'));
      this.inbox.push(...(decoded as ServerMessage[]));
      for (const wake of [...this.#waiters]) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of [...this.#waiters]) wake();
      });
    });
  }

  static async connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const format = options.format ?? 'json';
    const protocols = [
      format === 'json' ? 'sluice.v1.json' : 'sluice.v1.msgpack',
      ...(options.protocols ?? []),
    ];
    const ws = new WebSocket(options.query ? `${url}?${options.query}` : url, protocols, {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.autoPong === false ? { autoPong: false } : {}),
    });
    const client = new TestClient(ws, format);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Connects expecting the handshake to be refused; resolves with the HTTP status. */
  static async rejected(url: string, options: ConnectOptions = {}): Promise<number> {
    try {
      const client = await TestClient.connect(url, options);
      client.ws.terminate();
    } catch (error) {
      const match = /Unexpected server response: (\d+)/.exec(String(error));
      if (match) return Number(match[1]);
      throw error;
    }
    throw new Error('the handshake was accepted');
  }

  send(message: ClientMessage | ClientMessage[] | Record<string, unknown>): void {
    const codec = this.format === 'json' ? jsonCodec : msgpackCodec;
    this.ws.send(codec.encode(message as ClientMessage));
  }

  /** Removes and returns the first received message of `type` matching `predicate`. */
  async next<T extends ServerMessage['type']>(
    type: T,
    predicate: (message: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeout = 5000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const found = await this.nextWhere(
      (m) => m.type === type && predicate(m as Extract<ServerMessage, { type: T }>),
      timeout,
    );
    return found as Extract<ServerMessage, { type: T }>;
  }

  /** Removes and returns the first received message matching `predicate`, waiting for it. */
  nextWhere(
    predicate: (message: ServerMessage) => boolean,
    timeout = 5000,
  ): Promise<ServerMessage> {
    const find = (): ServerMessage | undefined => {
      const index = this.inbox.findIndex(predicate);
      return index < 0 ? undefined : this.inbox.splice(index, 1)[0];
    };
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        const inbox = JSON.stringify(this.inbox).slice(0, 500);
        reject(new Error(`no matching message within ${timeout} ms; inbox: ${inbox}`));
      }, timeout);
      const wake = (): void => {
        const message = find();
        if (message) {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve(message);
        }
      };
      this.#waiters.add(wake);
    });
  }

  /** Sends a request with a rid and waits for its ack or error. */
  request(message: ClientMessage & { rid: string | number }): Promise<ServerMessage> {
    this.send(message);
    return this.nextWhere((m) => (m.type === 'ack' || m.type === 'error') && m.rid === message.rid);
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

/** Polls a condition (for server-side state reached asynchronously). */
export async function eventually(check: () => boolean, timeout = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeout) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
