// End to end on a real socket: a client that stops reading is found stalled, the response
// is torn down, and the generator feeding it is returned (its finally runs).
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { afterEach, describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { BufferMonitor } from '../../src/core/streams/buffer-monitor.js';
import { fromAsyncIterable } from '../../src/core/streams/from-async-iterable.js';
import { monitorBackpressure } from '../../src/core/streams/monitor-backpressure.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('monitorBackpressure over HTTP', () => {
  it('disconnects a client that stops reading and stops the producer', async () => {
    let produced = 0;
    let producerFinished!: () => void;
    const finished = new Promise<void>((resolve) => (producerFinished = resolve));
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    async function* endless() {
      try {
        for (;;) {
          produced += 1;
          yield chunk;
        }
      } finally {
        producerFinished();
      }
    }
    const monitor = new BufferMonitor();
    let pipelineError: unknown;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const body = monitorBackpressure(fromAsyncIterable(endless()), {
        stallTimeoutMs: 300,
        maxItems: 4,
        monitor,
      });
      pipeline(Readable.fromWeb(body as NodeReadableStream), res).catch((error: unknown) => {
        pipelineError = error;
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;

    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined); // a reset is the expected ending
    socket.write(`GET / HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`);
    socket.pause(); // the slow consumer: never reads

    await finished;
    const producedAtStop = produced;
    expect(monitor.stats().stalls).toBe(1);
    expect(monitor.queuedItems).toBe(0);
    // Reading now drains what the kernel holds, then the connection ends.
    socket.resume();
    await closed;
    expect(isSluiceError(pipelineError, 'slow_consumer')).toBe(true);
    expect(produced).toBe(producedAtStop);
  });
});
