import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../../src/server/node-adapter.js';

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('toNodeHandler with a shutdown signal', () => {
  it('aborts the requests in flight with its reason, and only those', async () => {
    const shutdown = new AbortController();
    const signals: AbortSignal[] = [];
    const handle = toNodeHandler(
      (request) => {
        signals.push(request.signal);
        if (new URL(request.url).pathname === '/quick') return new Response('done');
        // Never answers by itself: only an abort ends it.
        return new Promise<Response>((resolve) => {
          request.signal.addEventListener('abort', () => resolve(new Response('stopped')));
        });
      },
      { signal: shutdown.signal },
    );
    const server = http.createServer(handle);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    expect(await (await fetch(`${base}/quick`)).text()).toBe('done');
    const slow = fetch(`${base}/slow`).then((response) => response.text());
    await expect.poll(() => signals.length).toBe(2);
    shutdown.abort(new Error('going down'));

    expect(await slow).toBe('stopped');
    const [quick, pending] = signals;
    expect(quick!.aborted).toBe(false); // finished before: no longer in flight
    expect(pending!.aborted).toBe(true);
    expect((pending!.reason as Error).message).toBe('going down');
  });

  it('aborts at once a request that arrives after shutdown', async () => {
    const shutdown = new AbortController();
    shutdown.abort(new Error('gone'));
    let seen: AbortSignal | undefined;
    const server = http.createServer(
      toNodeHandler(
        (request) => {
          seen = request.signal;
          return new Response('late');
        },
        { signal: shutdown.signal },
      ),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).then((r) =>
      r.text(),
    );
    expect(seen?.aborted).toBe(true);
  });
});

describe('toNodeHandler request context', () => {
  it('gives handlers the remote address, the HTTP version and the signal', async () => {
    const handle = toNodeHandler((_request, context) => {
      const copy = { ...context }; // a wrapper that copies the context keeps every field
      return Response.json({
        remoteAddress: context.remoteAddress,
        httpVersion: context.httpVersion,
        aborted: context.signal.aborted,
        copied: [copy.remoteAddress, copy.httpVersion],
      });
    });
    const server = http.createServer(handle);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/who`)).json()).toEqual({
      remoteAddress: '127.0.0.1',
      httpVersion: '1.1',
      aborted: false,
      copied: ['127.0.0.1', '1.1'],
    });
  });
});

describe('toNodeHandler, a response that cannot be written', () => {
  it('breaks that response and reports it, without an unhandled rejection', async () => {
    const errors: unknown[] = [];
    const handle = toNodeHandler(
      (request) =>
        new URL(request.url).pathname === '/bad'
          ? ({ status: 200 } as unknown as Response) // not a Response: writing it throws
          : new Response('fine'),
      { onError: (error) => errors.push(error) },
    );
    const server = http.createServer(handle);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expect(fetch(`${base}/bad`)).rejects.toThrow();
    expect(errors).toHaveLength(1);
    expect(await (await fetch(`${base}/ok`)).text()).toBe('fine');
  });
});
