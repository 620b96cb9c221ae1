/**
 * sluice's own SSE client against the server: cut at random points while events are
 * published, it resumes with Last-Event-ID and ends with every event exactly once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SseClient } from '../../src/client/sse-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ keepAlive: 1000 });
});
afterEach(async () => {
  await server.close();
});

describe('SseClient against the server', () => {
  it('1,000 events with connections cut at random points arrive exactly once, in order', async () => {
    const total = 1000;
    const client = new SseClient(`${server.url}/v1/channels/chaos/events`, {
      backoff: { initialDelay: 5, maxDelay: 50 },
    });
    const opened = new Promise<void>((resolve) =>
      client.addEventListener('open', () => resolve(), { once: true }),
    );
    const received: { id: string; data: string }[] = [];
    const reading = (async () => {
      for await (const event of client) {
        if (event.event === 'sluice.open') continue; // where the first, live connection started
        received.push({ id: event.lastEventId, data: event.data });
        if (received.length >= total) break;
      }
    })();
    await opened;
    const published: { id: string; data: string }[] = [];
    let cuts = 0;
    for (let i = 0; i < total; i++) {
      published.push({ id: await server.publish('chaos', i), data: String(i) });
      if (Math.random() < 1 / 60 && server.cutStreams() > 0) cuts++;
    }
    await reading;
    expect(client.readyState).toBe(SseClient.CLOSED);
    expect(cuts).toBeGreaterThan(3);
    expect(received).toEqual(published);
  });
});
