/**
 * The Node adapter's lazy `Request` (server/node-request.ts): a handler sees a `Request` in
 * every respect that it uses, whether the adapter's fast paths (method, url, headers,
 * signal, a bounded body read straight from the Node stream) or the real `Request` built
 * on demand (body stream, json(), clone()) serve it; and the bounded read keeps its bound.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBodyBounded } from '../../src/core/read-bounded.js';
import type { RequestContext } from '../../src/server/handler.js';
import { toNodeHandler } from '../../src/server/node-adapter.js';

type Probe = (request: Request, context: RequestContext) => Promise<Response>;

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Settles once the last served probe was called (its request reached the handler). */
let handlerEntered: Promise<void> = Promise.resolve();

async function serve(probe: Probe): Promise<string> {
  let entered: () => void = () => undefined;
  handlerEntered = new Promise((resolve) => (entered = resolve));
  server = http.createServer(
    toNodeHandler((request, context) => {
      entered();
      return probe(request, context);
    }),
  );
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const tooLarge = () => new Error('too large');

/**
 * Sends part of a declared body, then resets the connection once the handler has the
 * request (not after a fixed delay, which a loaded machine can outrun: the request would
 * then never reach the handler at all).
 */
async function leaveMidBody(base: string): Promise<void> {
  const { port } = new URL(base);
  const req = http.request({ port, method: 'POST', headers: { 'content-length': '100' } });
  req.on('error', () => undefined);
  req.write('only part');
  await handlerEntered;
  req.destroy();
}

/** How a body read ended: 'resolved', or the rejection's error code. */
function readOutcome() {
  let report: (value: unknown) => void = () => undefined;
  const outcome = new Promise((resolve) => (report = resolve));
  const settle = (read: Promise<Uint8Array>) =>
    read.then(
      () => report('resolved'),
      (error: unknown) => report((error as { code?: string }).code),
    );
  return { outcome, settle };
}

describe('the Node adapter request', () => {
  it('is a Request with the method, URL, headers and the context signal', async () => {
    let seen: Record<string, unknown> = {};
    const base = await serve(async (request, context) => {
      seen = {
        isRequest: request instanceof Request,
        tag: Object.prototype.toString.call(request),
        method: request.method,
        url: request.url,
        header: request.headers.get('x-probe'),
        sameSignal: request.signal === context.signal,
        cache: request.cache,
        bodyUsed: request.bodyUsed,
      };
      return new Response('ok');
    });
    const response = await fetch(`${base}/a/b?c=d`, { headers: { 'x-probe': 'yes' } });
    expect(await response.text()).toBe('ok');
    expect(seen).toEqual({
      isRequest: true,
      tag: '[object Request]',
      method: 'GET',
      url: `${base}/a/b?c=d`,
      header: 'yes',
      sameSignal: true,
      cache: 'default',
      bodyUsed: false,
    });
  });

  it('gives the body through the Web API (json, clone) when a handler asks for it', async () => {
    const base = await serve(async (request) => {
      const copy = request.clone();
      const json: unknown = await request.json();
      const text = await copy.text();
      return Response.json({ json, text, used: request.bodyUsed });
    });
    const response = await fetch(base, { method: 'POST', body: '{"n":1}' });
    expect(await response.json()).toEqual({ json: { n: 1 }, text: '{"n":1}', used: true });
  });

  it('reads a bounded body straight from the Node stream, and marks it used', async () => {
    const base = await serve(async (request) => {
      const bytes = await readBodyBounded(request, 1024, tooLarge);
      const again = await readBodyBounded(request, 1024, tooLarge);
      return Response.json({
        text: Buffer.from(bytes).toString(),
        used: request.bodyUsed,
        again: again.byteLength,
      });
    });
    const body = 'é'.repeat(300); // 600 bytes, several chunks on a slow path
    const response = await fetch(base, { method: 'POST', body });
    expect(await response.json()).toEqual({ text: body, used: true, again: 0 });
  });

  it('stops reading past the bound: the error reaches the handler, the connection closes', async () => {
    let error: unknown;
    const base = await serve(async (request) => {
      try {
        await readBodyBounded(request, 1000, tooLarge);
      } catch (caught) {
        error = caught;
      }
      return new Response('refused', { status: 413 });
    });
    const response = await fetch(base, { method: 'POST', body: 'x'.repeat(256 * 1024) });
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
    expect(await response.text()).toBe('refused');
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('too large');
  });

  it('rejects a bounded read when the client leaves mid-body', async () => {
    const { outcome, settle } = readOutcome();
    const base = await serve(async (request) => {
      await settle(readBodyBounded(request, 1 << 20, tooLarge));
      return new Response('late');
    });
    await leaveMidBody(base);
    expect(await outcome).toBe('aborted');
  });

  it('is accepted as input by new Request() and keeps its body and headers there', async () => {
    const base = await serve(async (request) => {
      const copy = new Request(request, { headers: { 'x-added': 'yes' } });
      return Response.json({ text: await copy.text(), added: copy.headers.get('x-added') });
    });
    const response = await fetch(base, { method: 'POST', body: 'passed on' });
    expect(await response.json()).toEqual({ text: 'passed on', added: 'yes' });
  });

  it('after a bounded read its body is used, as on a real Request; a GET stays unused', async () => {
    let seen: Record<string, unknown> = {};
    const base = await serve(async (request) => {
      await readBodyBounded(request, 1024, tooLarge);
      seen = {
        used: request.bodyUsed,
        text: await request.text().then(
          () => 'read again',
          () => 'rejected',
        ),
        clone: (() => {
          try {
            request.clone();
            return 'cloned';
          } catch {
            return 'threw';
          }
        })(),
      };
      return new Response('ok');
    });
    await (await fetch(base, { method: 'POST', body: 'once' })).text();
    expect(seen).toEqual({ used: true, text: 'rejected', clone: 'threw' });

    let getUsed: boolean | undefined;
    server!.removeAllListeners('request');
    server!.on(
      'request',
      toNodeHandler(async (request) => {
        const bytes = await readBodyBounded(request, 1024, tooLarge);
        getUsed = request.bodyUsed;
        return new Response(String(bytes.byteLength));
      }),
    );
    expect(await (await fetch(base)).text()).toBe('0');
    expect(getUsed).toBe(false);
  });

  it('rejects a bounded read begun after the client left (never waits forever)', async () => {
    const { outcome, settle } = readOutcome();
    const base = await serve(async (request, context) => {
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await settle(readBodyBounded(request, 1 << 20, tooLarge));
      return new Response('late');
    });
    await leaveMidBody(base);
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000));
    expect(await Promise.race([outcome, timeout])).toBe('aborted');
  });
});
