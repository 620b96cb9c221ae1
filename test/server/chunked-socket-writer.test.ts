import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { chunkFrame } from '../../src/server/chunked-socket-writer.js';
import { toNodeHandler } from '../../src/server/node-adapter.js';
import type { PollResult, PollableIterator } from '../../src/core/pollable.js';
import type { SseFields } from '../../src/sse/encoder.js';
import { createSseResponse } from '../../src/sse/response.js';

const servers: http.Server[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('chunkFrame', () => {
  it('frames a body as one HTTP/1.1 chunk', () => {
    const body = Buffer.from('data: é\n\n');
    expect(chunkFrame(body).toString('latin1')).toBe(`a\r\n${body.toString('latin1')}\r\n`);
    const big = new Uint8Array(300).fill(0x61);
    expect(chunkFrame(big).subarray(0, 5).toString()).toBe('12c\r\n');
    expect(chunkFrame(big).byteLength).toBe(300 + 7);
  });

  it('reuses the frame for the same body and builds a new one for another', () => {
    const a = Buffer.from('data: a\n\n');
    const b = Buffer.from('data: a\n\n');
    const first = chunkFrame(a);
    expect(chunkFrame(a)).toBe(first);
    expect(chunkFrame(b)).not.toBe(first);
    expect(chunkFrame(b).equals(first)).toBe(true);
  });
});

/** Calls of `res.write` the adapter made (only the first, which carries the headers). */
let responseWrites = 0;

/** Serves a three-event SSE stream (then the end) on every path; '/other' answers 'ok'. */
async function start(): Promise<number> {
  responseWrites = 0;
  const handle = toNodeHandler((request) => {
    if (new URL(request.url).pathname === '/other') return new Response('ok');
    return createSseResponse(
      (async function* () {
        yield { id: '1', data: 'one' };
        yield { id: '2', data: 'zwei 😀' };
        yield { id: '3', data: 'a\nb' };
      })(),
      { keepAlive: null },
    );
  });
  const server = http.createServer((req, res) => {
    const write = res.write.bind(res) as (chunk: Uint8Array) => boolean;
    res.write = ((chunk: Uint8Array) => {
      responseWrites++;
      return write(chunk);
    }) as typeof res.write;
    handle(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Reads one HTTP/1.1 response with a chunked body off `socket`, checking every chunk size. */
function readChunkedResponse(
  socket: net.Socket,
): Promise<{ head: string; chunks: Buffer[]; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      const headEnd = buffer.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = buffer.subarray(0, headEnd).toString();
      const chunks: Buffer[] = [];
      let offset = headEnd + 4;
      for (;;) {
        const lineEnd = buffer.indexOf('\r\n', offset);
        if (lineEnd < 0) return; // wait for more
        const size = Number.parseInt(buffer.subarray(offset, lineEnd).toString(), 16);
        if (!Number.isInteger(size)) return reject(new Error(`bad chunk size at ${offset}`));
        if (buffer.byteLength < lineEnd + 2 + size + 2) return;
        if (buffer.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString() !== '\r\n') {
          return reject(new Error('chunk not followed by CRLF'));
        }
        offset = lineEnd + 4 + size;
        if (size === 0) {
          socket.off('data', onData);
          return resolve({ head, chunks, rest: buffer.subarray(offset) });
        }
        chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('chunkFrame and a reused buffer', () => {
  it('frames a buffer afresh once a promise job has passed (the source may have changed it)', async () => {
    const body = Buffer.from('data: a\n\n');
    expect(chunkFrame(body).toString()).toBe('9\r\ndata: a\n\n\r\n');
    body.write('b', 6);
    await Promise.resolve();
    expect(chunkFrame(body).toString()).toBe('9\r\ndata: b\n\n\r\n');
  });

  it('sends each version of a buffer the source reuses between yields', async () => {
    const server = http.createServer(
      toNodeHandler(() =>
        createSseResponse(
          (async function* () {
            const shared = Buffer.from('data: 0\n\n');
            for (let i = 0; i < 3; i++) {
              shared.write(String(i), 6);
              yield shared;
            }
          })(),
          { keepAlive: null },
        ),
      ),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const text = await (
      await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    ).text();
    expect(text).toBe(': ok\ndata: 0\n\ndata: 1\n\ndata: 2\n\n');
  });
});

describe('SSE over HTTP/1.1 chunks written straight to the socket', () => {
  it('sends well-formed chunks, the terminator, and leaves the connection reusable', async () => {
    const port = await start();
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    const first = await readChunkedResponse(socket);
    expect(first.head).toMatch(/^HTTP\/1\.1 200/);
    expect(first.head.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(Buffer.concat(first.chunks).toString()).toBe(
      ': ok\nid: 1\ndata: one\n\nid: 2\ndata: zwei 😀\n\nid: 3\ndata: a\ndata: b\n\n',
    );
    expect(first.rest.byteLength).toBe(0);
    expect(responseWrites).toBe(1);

    // Same connection, next request: the first body ended exactly where the server said.
    socket.write('GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const second = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (data: Buffer) => (text += data.toString()));
      socket.once('end', () => resolve(text));
    });
    expect(second).toMatch(/^HTTP\/1\.1 200/);
    expect(second).toContain('ok');
  });

  it('is what Node’s own HTTP client and fetch decode', async () => {
    const port = await start();
    const text = await (await fetch(`http://127.0.0.1:${port}/events`)).text();
    expect(text).toContain('id: 2\ndata: zwei 😀\n\n');
    expect(text.endsWith('id: 3\ndata: a\ndata: b\n\n')).toBe(true);
  });
});

describe('events that are ready together', () => {
  /**
   * A pollable source (core/pollable.ts) with nothing ready until `release()`, which makes
   * all its events (then the end) ready at once and calls the pump back, as a producer does.
   */
  function heldSource(items: SseFields[]) {
    let next = 0;
    let released = false;
    let readable: (() => void) | undefined;
    const poll = (): PollResult<SseFields> | undefined => {
      if (!released) return undefined;
      return next < items.length
        ? { done: false, value: items[next++]! }
        : { done: true, value: undefined };
    };
    const source: PollableIterator<SseFields> & AsyncIterable<SseFields> = {
      poll,
      onReadable: (listener) => (readable = listener),
      next: () => Promise.reject(new Error('polled only')),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const release = () => {
      released = true;
      readable?.();
    };
    return { source, release };
  }

  /**
   * A pollable source fed by hand: `add()` makes one more event ready and `end()` the end,
   * each calling the pump back, as a producer does with every publish.
   */
  function steppedSource() {
    const items: SseFields[] = [];
    let ended = false;
    let readable: (() => void) | undefined;
    const source: PollableIterator<SseFields> & AsyncIterable<SseFields> = {
      poll: () => {
        if (items.length > 0) return { done: false, value: items.shift()! };
        return ended ? { done: true, value: undefined } : undefined;
      },
      onReadable: (listener) => (readable = listener),
      next: () => Promise.reject(new Error('polled only')),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return {
      source,
      add(item: SseFields) {
        items.push(item);
        readable?.();
      },
      end() {
        ended = true;
        readable?.();
      },
    };
  }

  /** A server answering every request with `source`, counting the socket writes. */
  async function countingServer(source: AsyncIterable<SseFields>) {
    const counter = { socketWrites: 0 };
    const handle = toNodeHandler(() => createSseResponse(source, { keepAlive: null }));
    const server = http.createServer((req, res) => {
      const socket = req.socket as net.Socket & {
        _write: (...args: unknown[]) => void;
        _writev: (...args: unknown[]) => void;
      };
      for (const name of ['_write', '_writev'] as const) {
        const original = socket[name].bind(socket);
        socket[name] = (...args: unknown[]) => {
          counter.socketWrites++;
          original(...args);
        };
      }
      handle(req, res);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(socket);
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    const opened = new Promise((resolve) => socket.once('data', resolve));
    return { counter, opened, response: readChunkedResponse(socket) };
  }

  it('published one by one across awaits in one tick, leave in one write with the end', async () => {
    const stepped = steppedSource();
    const { counter, opened, response } = await countingServer(stepped.source);
    await opened;
    expect(counter.socketWrites).toBe(1); // the headers with the opening comment
    // As an LLM generation ends: its finish chunk, an await, `[DONE]`, an await, the end.
    stepped.add({ id: '1', data: 'finish' });
    await Promise.resolve();
    stepped.add({ id: '2', data: '[DONE]' });
    await Promise.resolve();
    stepped.end();
    expect(Buffer.concat((await response).chunks).toString()).toBe(
      ': ok\nid: 1\ndata: finish\n\nid: 2\ndata: [DONE]\n\n',
    );
    expect(counter.socketWrites).toBe(2);
  });

  it('leave with the end of the body in one socket write, well framed', async () => {
    const { source, release } = heldSource([
      { id: '1', data: 'one' },
      { id: '2', data: 'zwei 😀' },
      { data: '[DONE]' },
    ]);
    const { counter, opened, response } = await countingServer(source);
    await opened;
    expect(counter.socketWrites).toBe(1); // the headers with the opening comment
    release();
    expect(Buffer.concat((await response).chunks).toString()).toBe(
      ': ok\nid: 1\ndata: one\n\nid: 2\ndata: zwei 😀\n\ndata: [DONE]\n\n',
    );
    // The three events and the body's terminator: one write.
    expect(counter.socketWrites).toBe(2);
  });
});
