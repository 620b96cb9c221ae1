/**
 * A client that hangs up while the handler is still working (awaiting auth, a database…):
 * the handler's signal aborts (on HTTP/2 too, where a reset stream reports itself finished),
 * and a response returned after that is not written to the dead connection: its body is
 * released at once (the 'close' that would have stopped it has already fired).
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../../src/server/node-adapter.js';
import type { RouteHandler } from '../../src/server/handler.js';
import { createSseResponse } from '../../src/sse/response.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A source that counts its pulls and says when it was released. */
function countingSource() {
  const state = { pulled: 0, returned: false };
  async function* events() {
    try {
      for (;;) {
        state.pulled++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        yield { data: 'x' };
      }
    } finally {
      state.returned = true;
    }
  }
  return { state, events };
}

/**
 * A handler that answers only after its client has gone away. `entered`: the request reached
 * it, the moment for the client to hang up (a fixed delay can be outrun on a loaded machine,
 * and a request cut before it reached the handler tests nothing).
 */
function lateHandler(makeResponse: () => Response): {
  handler: RouteHandler;
  entered: Promise<void>;
  gone: Promise<void>;
} {
  let wentAway!: () => void;
  let arrived!: () => void;
  const gone = new Promise<void>((resolve) => (wentAway = resolve));
  const entered = new Promise<void>((resolve) => (arrived = resolve));
  const handler: RouteHandler = async (request) => {
    request.signal.addEventListener('abort', () => wentAway(), { once: true });
    arrived();
    await gone;
    await new Promise((resolve) => setTimeout(resolve, 10)); // 'close' is well past
    return makeResponse();
  };
  return { handler, entered, gone };
}

async function listen(server: http.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Serves `handler` over HTTP/1.1 and sends it a request whose client hangs up once it arrived. */
async function hangUpOnH1(handler: RouteHandler, entered: Promise<void>): Promise<void> {
  const server = http.createServer(toNodeHandler(handler));
  cleanups.push(() => (server.closeAllConnections(), server.close()));
  const port = await listen(server);
  const request = http.get(`http://127.0.0.1:${port}/`);
  request.on('error', () => undefined);
  void entered.then(() => request.destroy());
}

/** Serves `handler` over HTTP/2 and sends it a request that is cancelled once it arrived. */
async function cancelOnH2(handler: RouteHandler, entered: Promise<void>): Promise<void> {
  const server = http2.createServer(toNodeHandler(handler));
  const port = await listen(server);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  cleanups.push(() => (session.destroy(), server.close()));
  const stream = session.request({ ':path': '/' });
  stream.on('error', () => undefined);
  void entered.then(() => stream.close(http2.constants.NGHTTP2_CANCEL));
}

describe('toNodeHandler, client gone mid-request', () => {
  it('HTTP/2: a cancelled stream aborts the request signal', async () => {
    const { handler, entered, gone } = lateHandler(() => new Response('late'));
    await cancelOnH2(handler, entered);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('not aborted'), 1_000);
    });
    expect(await Promise.race([gone.then(() => 'aborted'), timeout])).toBe('aborted');
    clearTimeout(timer);
  });
});

describe('toNodeHandler, client gone before the handler answered', () => {
  it('HTTP/1.1: an SSE source is returned, not pulled for a dead socket', async () => {
    const { state, events } = countingSource();
    const { handler, entered, gone } = lateHandler(() =>
      createSseResponse(events(), { keepAlive: 5 }),
    );
    await hangUpOnH1(handler, entered);
    await gone;
    await expect.poll(() => state.returned, { timeout: 1_000 }).toBe(true);
    const pulled = state.pulled;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state.pulled).toBe(pulled);
  });

  it('HTTP/1.1: a streamed body is cancelled', async () => {
    let cancelled = false;
    const { handler, entered, gone } = lateHandler(
      () =>
        new Response(
          new ReadableStream({
            pull: (controller) => controller.enqueue(new Uint8Array(8)),
            cancel: () => void (cancelled = true),
          }),
        ),
    );
    await hangUpOnH1(handler, entered);
    await gone;
    await expect.poll(() => cancelled, { timeout: 1_000 }).toBe(true);
  });

  it('HTTP/2: an SSE source is returned', async () => {
    const { state, events } = countingSource();
    const { handler, entered, gone } = lateHandler(() =>
      createSseResponse(events(), { keepAlive: 5 }),
    );
    await cancelOnH2(handler, entered);
    await gone;
    await expect.poll(() => state.returned, { timeout: 1_000 }).toBe(true);
  });
});
