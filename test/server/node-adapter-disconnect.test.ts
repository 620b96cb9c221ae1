/**
 * A client that hangs up while the handler is still working (awaiting auth, a database…):
 * the handler's signal aborts (on HTTP/2 too, where a reset stream reports itself finished).
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../../src/server/node-adapter.js';
import type { RouteHandler } from '../../src/server/handler.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A handler that answers only after its client has gone away. */
function lateHandler(makeResponse: () => Response): { handler: RouteHandler; gone: Promise<void> } {
  let wentAway!: () => void;
  const gone = new Promise<void>((resolve) => (wentAway = resolve));
  const handler: RouteHandler = async (request) => {
    request.signal.addEventListener('abort', () => wentAway(), { once: true });
    await gone;
    await new Promise((resolve) => setTimeout(resolve, 10)); // 'close' is well past
    return makeResponse();
  };
  return { handler, gone };
}

async function listen(server: http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('toNodeHandler, client gone mid-request', () => {
  it('HTTP/2: a cancelled stream aborts the request signal', async () => {
    const { handler, gone } = lateHandler(() => new Response('late'));
    const server = http2.createServer(toNodeHandler(handler));
    const port = await listen(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    cleanups.push(() => (session.destroy(), server.close()));
    const stream = session.request({ ':path': '/' });
    stream.on('error', () => undefined);
    setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 20);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('not aborted'), 1_000);
    });
    expect(await Promise.race([gone.then(() => 'aborted'), timeout])).toBe('aborted');
    clearTimeout(timer);
  });
});
