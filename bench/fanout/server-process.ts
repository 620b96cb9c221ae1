/**
 * The server side of the SSE fan-out bench, run as its own process so that its CPU time
 * (`process.cpuUsage()`: user + system, every thread) is measured apart from the clients.
 *
 *   node --import tsx bench/fanout/server-process.ts sluice|raw|better-sse|hono
 *
 * - `sluice`: the real server (`createSluiceServer`), published to in-process with
 *   `broker.publish()`; every subscriber is a `GET /v1/channels/bench/events` SSE stream.
 * - `raw`: a bare `node:http` server that keeps every response and, per message, encodes
 *   the same event bytes once and `res.write()`s them to each. It is the floor: no broker,
 *   no per-subscriber queue, no backpressure handling, no Web-stream layer.
 *
 * - `better-sse`, `hono`: the named peers (peer-targets.ts), for the memory bench.
 *
 * All publish from the same pacer with the same payload; the parent drives everything
 * over IPC (see protocol.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMemoryBroker } from '../../src/broker/memory-broker.js';
import { createSluiceServer } from '../../src/server/server.js';
import { betterSseTarget, honoTarget, type Target } from './peer-targets.js';
import {
  CHANNEL,
  EVENTS_PATH,
  pace,
  payload,
  type MemoryUsage,
  type ServerCommand,
  type ServerReply,
} from './protocol.js';
import {
  sendCpu,
  sendError,
  sendReply,
  serveCommands,
  startHelper,
} from '../shared/serve-commands.js';

const send = sendReply<ServerReply>;

function sluiceTarget(): Target {
  const broker = createMemoryBroker();
  const app = createSluiceServer({
    broker,
    config: { host: '127.0.0.1', port: 0, keepAlive: null },
    onError: sendError,
  });
  return {
    listen: () => app.listen(),
    subscribers: () => broker.stats().subscribers,
    publish: (seq) => {
      broker.publish(CHANNEL, { data: payload(seq) }).catch(sendError);
    },
    close: async () => {
      await app.close();
      await broker.close();
    },
  };
}

/** The same response headers the sluice SSE response sends on HTTP/1.1. */
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

function rawTarget(): Target {
  const open = new Set<http.ServerResponse>();
  // Ids shaped like the memory broker's `<epoch>:<position>`, so events are byte-for-byte
  // the same length.
  const epoch = `${Date.now().toString(36)}abcd`;
  let position = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== EVENTS_PATH) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.write(': ok\n');
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  return {
    listen: () =>
      new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
          resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        });
      }),
    subscribers: () => open.size,
    publish: (seq) => {
      const id = `${epoch}:${++position}`;
      const bytes = Buffer.from(`id: ${id}\ndata: ${JSON.stringify(payload(seq))}\n\n`);
      for (const res of open) res.write(bytes);
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of open) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Memory after full collections until the heap stops shrinking (finalizers need a few). */
function collectedMemory(): MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the server process with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, arrayBuffers };
}

async function main(): Promise<void> {
  const targets: Record<string, () => Target> = {
    sluice: sluiceTarget,
    raw: rawTarget,
    'better-sse': betterSseTarget,
    hono: honoTarget,
  };
  const make = targets[process.argv[2] ?? ''];
  if (!make) throw new Error(`usage: server-process ${Object.keys(targets).join('|')}`);
  const target = make();
  const url = await target.listen();
  serveCommands<ServerCommand>(
    {
      subscribers: () => send({ type: 'subscribers', count: target.subscribers() }),
      memory: () => send({ type: 'memory', usage: collectedMemory() }),
      cpu: sendCpu,
      publish: ({ count, rate }) => {
        pace(count, rate, target.publish).then(
          ({ startedAt, endedAt }) => send({ type: 'published', count, startedAt, endedAt }),
          sendError,
        );
      },
    },
    () => target.close(),
  );
  send({ type: 'listening', url });
}

startHelper(main);
