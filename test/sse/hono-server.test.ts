/**
 * `createSseResponse` served by Hono on `@hono/node-server`, which replaces the global
 * `Response` with a lightweight class of its own and writes such a Response from its own
 * fields. sluice's SSE module is imported only after that replacement (as a lazily loaded
 * route module would be), the case where a Response built without its body stream would go
 * out empty.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import type { SseFields } from '../../src/sse/encoder.js';

async function* three(): AsyncGenerator<SseFields> {
  for (let i = 1; i <= 3; i++) yield { id: String(i), data: `event ${i}` };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('createSseResponse under @hono/node-server', () => {
  it('streams every event, with the module loaded after the server replaced Response', async () => {
    const app = new Hono();
    // Filled in once the server has replaced Response (below).
    const sse: Partial<typeof import('../../src/sse/response.js')> = {};
    app.get('/events', (c) =>
      sse.createSseResponse!(three(), { request: c.req.raw, keepAlive: null }),
    );
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    close = () => new Promise((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    Object.assign(sse, await import('../../src/sse/response.js'));
    const { port } = server.address() as AddressInfo;

    const response = await fetch(`http://127.0.0.1:${port}/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await response.text()).toBe(
      ': ok\nid: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n',
    );
  });
});
