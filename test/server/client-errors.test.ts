/**
 * Requests Node's HTTP parser rejects before any handler runs get sluice's JSON error and a
 * code (docs/errors.md), not a bare status line, and the server goes on serving others.
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ keepAlive: null });
});
afterEach(async () => {
  await server.close();
});

/** Sends raw bytes and reads everything until the server closes the connection. */
function raw(request: string): Promise<string> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
  });
}

function parse(response: string): { status: number; headers: string; body: unknown } {
  const [head, body] = response.split('\r\n\r\n', 2) as [string, string];
  return { status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) };
}

/** The answer, read by a client that never closes its side of the connection. */
function answerHalfOpen(request: string): Promise<{ text: string; socket: net.Socket }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port), allowHalfOpen: true });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve({ text, socket }));
    socket.on('error', reject);
    socket.write(request);
  });
}

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) =>
    server.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

describe('requests the HTTP parser refuses', () => {
  it('closes the connection after the answer, even when the client keeps its side open', async () => {
    const request = `GET /?q=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const { text, socket } = await answerHalfOpen(request);
    expect(parse(text).status).toBe(431);
    // The server let go of the connection although the client never ended it.
    await expect.poll(openConnections).toBe(0);
    socket.destroy();
  });

  it('answers a request line and headers over the limit with 431 headers_too_large', async () => {
    const query = 'x'.repeat(20_000);
    const answer = parse(
      await raw(`GET /v1/channels/news/events?q=${query} HTTP/1.1\r\nHost: a\r\n\r\n`),
    );
    expect(answer.status).toBe(431);
    expect(answer.headers).toMatch(/content-type: application\/json/i);
    expect(answer.headers).toMatch(/connection: close/i);
    expect(answer.body).toEqual({
      error: { code: 'headers_too_large', message: expect.any(String) as unknown },
    });
  });

  it('answers a Host header that makes no URL with 400 bad_request, not a 500', async () => {
    const text = await raw('GET /v1/channels/news/events HTTP/1.1\r\nHost: a b\r\n\r\n');
    expect(text.split(' ')[1]).toBe('400');
    expect(text).toContain('"code":"bad_request"'); // in a chunked body
  });

  it('answers a malformed request with 400 bad_request, and keeps serving others', async () => {
    const answer = parse(await raw('NOT AN HTTP REQUEST\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
