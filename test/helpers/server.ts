import type { Broker } from '../../src/broker/types.js';
import type { ServerConfig } from '../../src/server/config.js';
import { createSluiceServer, type SluiceServer } from '../../src/server/server.js';

export interface TestServer {
  app: SluiceServer;
  url: string;
  publish(channel: string, data: unknown, event?: string): Promise<string>;
  /** Destroys the sockets of open event streams (a network cut, from the server's side). */
  cutStreams(): number;
  close(): Promise<void>;
}

/** A sluice server on 127.0.0.1, port 0. */
export async function startServer(
  config: Partial<ServerConfig> = {},
  broker?: Broker,
): Promise<TestServer> {
  const app = createSluiceServer({
    config: { host: '127.0.0.1', port: 0, ...config },
    ...(broker ? { broker } : {}),
  });
  const sockets = new Set<import('node:net').Socket>();
  app.server.on('request', (req: import('node:http').IncomingMessage) => {
    if (!req.url?.includes('/events')) return;
    const socket = req.socket;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const url = await app.listen();
  return {
    app,
    url,
    async publish(channel, data, event) {
      const response = await fetch(`${url}/v1/channels/${channel}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event === undefined ? { data } : { data, event }),
      });
      if (response.status !== 201) throw new Error(`publish failed: ${response.status}`);
      return ((await response.json()) as { id: string }).id;
    },
    cutStreams() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
    close: () => app.close(),
  };
}
