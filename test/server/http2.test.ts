/**
 * The Node adapter on HTTP/2 (cleartext h2c here; TLS changes nothing in the adapter):
 * SSE works, and no connection-specific header is sent (they are malformed on HTTP/2); a
 * body refused unread (413) ends its stream instead of leaving it open for the rest (Node's
 * HTTP/2 layer resets a stream with NO_ERROR once the response is complete, RFC 9113 8.1,
 * so the adapter closes nothing itself, unlike the HTTP/1 connection).
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../../src/broker/memory-broker.js';
import { createChannelsHandler } from '../../src/server/channels-handler.js';
import { toNodeHandler } from '../../src/server/node-adapter.js';

const broker = createMemoryBroker();
let server: http2.Http2Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('HTTP/2', () => {
  it('streams SSE without Connection or Transfer-Encoding headers', async () => {
    const shutdown = new AbortController();
    server = http2.createServer(
      toNodeHandler(createChannelsHandler({ broker, keepAlive: null }), {
        signal: shutdown.signal,
      }),
    );
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const stream = session.request({ ':path': '/v1/channels/h2/events' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
      stream.once('response', resolve),
    );
    expect(headers[':status']).toBe(200);
    expect(headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(headers.connection).toBeUndefined();
    expect(headers['transfer-encoding']).toBeUndefined();
    stream.setEncoding('utf8');
    let text = '';
    const got = new Promise<void>((resolve) =>
      stream.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('"over h2"')) resolve();
      }),
    );
    const id = await broker.publish('h2', { data: 'over h2' });
    await got;
    expect(text).toContain(`id: ${id}\ndata: "over h2"\n\n`);
    stream.close();
    session.close();
    shutdown.abort();
  });

  it('a refused, unread body: the 413 is sent, then the stream is reset with NO_ERROR', async () => {
    server = http2.createServer(
      toNodeHandler(createChannelsHandler({ broker, keepAlive: null, maxBodySize: 1024 })),
    );
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/v1/channels/h2/messages',
      'content-type': 'application/json',
      'content-length': String(1024 * 1024),
    });
    // Part of a body that is never finished: only the server can end this stream.
    stream.write('x'.repeat(16 * 1024));
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
      stream.once('response', resolve),
    );
    expect(headers[':status']).toBe(413);
    stream.resume();
    await new Promise<void>((resolve) => stream.once('close', resolve));
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    session.close();
  });

  it('drops every connection-specific header of a handler response (they made Node throw)', async () => {
    // Node refuses these on HTTP/2 with a throw from writeHead: the rejection went unhandled
    // (which ends a Node process by default) and the client's stream hung.
    const forbidden = ['connection', 'keep-alive', 'proxy-connection', 'te', 'http2-settings'];
    server = http2.createServer(
      toNodeHandler(
        () => new Response('relayed', { headers: forbidden.map((name) => [name, 'x']) }),
      ),
    );
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const stream = session.request({ ':path': '/' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('close', () => reject(new Error(`closed, code ${stream.rstCode}`)));
    });
    expect(headers[':status']).toBe(200);
    for (const name of forbidden) expect(headers[name]).toBeUndefined();
    stream.setEncoding('utf8');
    let text = '';
    for await (const chunk of stream) text += chunk as string;
    expect(text).toBe('relayed');
    session.close();
  });
});
