/**
 * Third-party clients against the running server: the `eventsource` package (a spec
 * EventSource for Node), Node's fetch, and `curl -N`.
 */
import { spawn } from 'node:child_process';
import { EventSource } from 'eventsource';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ keepAlive: 1000, retry: 20 });
});
afterEach(async () => {
  await server.close();
});

interface Received {
  id: string;
  data: string;
}

describe('real clients', () => {
  it('the eventsource package receives named and unnamed events with ids', async () => {
    const source = new EventSource(`${server.url}/v1/channels/es/events`);
    const got: { type: string; id: string; data: string }[] = [];
    const done = new Promise<void>((resolve) => {
      source.onmessage = (e) =>
        got.push({ type: e.type, id: e.lastEventId, data: e.data as string });
      source.addEventListener('alert', (e) => {
        got.push({ type: e.type, id: e.lastEventId, data: e.data as string });
        resolve();
      });
    });
    await new Promise<void>((resolve) => (source.onopen = () => resolve()));
    const a = await server.publish('es', { n: 1 });
    const b = await server.publish('es', 'two', 'alert');
    await done;
    source.close();
    expect(got).toEqual([
      { type: 'message', id: a, data: '{"n":1}' },
      { type: 'alert', id: b, data: '"two"' },
    ]);
  });

  it('an EventSource cut before its first event resumes from where it started: nothing lost', async () => {
    const source = new EventSource(`${server.url}/v1/channels/quiet/events`);
    const got: string[] = [];
    const opened = new Promise<string>((resolve) =>
      source.addEventListener('sluice.open', (e) => resolve(e.lastEventId)),
    );
    const all = new Promise<void>((resolve) => {
      source.onmessage = (e) => {
        got.push(e.data as string);
        if (got.length === 3) resolve();
      };
    });
    expect(await opened).toMatch(/^\w+:\d+$/); // the id the live stream started after
    expect(server.cutStreams()).toBe(1);
    // Published while the client is away (it reconnects after the 20 ms retry at the soonest).
    for (const n of [1, 2, 3]) await server.publish('quiet', n);
    await all;
    source.close();
    expect(got).toEqual(['1', '2', '3']);
  });

  it('curl -N streams the events as they are published', async () => {
    const curl = spawn('curl', ['-sN', `${server.url}/v1/channels/curl/events`]);
    let output = '';
    curl.stdout.setEncoding('utf8');
    const seen = new Promise<void>((resolve) => {
      curl.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('"third"')) resolve();
      });
    });
    // The first bytes (": ok") arrive before any event: the stream is open.
    await new Promise<void>((resolve) => curl.stdout.once('data', () => resolve()));
    const ids = [
      await server.publish('curl', 'first'),
      await server.publish('curl', 'second'),
      await server.publish('curl', 'third'),
    ];
    await seen;
    curl.kill();
    for (const id of ids) expect(output).toContain(`id: ${id}\n`);
    expect(output).toMatch(/data: "first"\n\n[^]*data: "second"\n\n[^]*data: "third"\n\n/);
  });

  it('Node fetch reads the stream and its abort ends the server side', async () => {
    const abort = new AbortController();
    const response = await fetch(`${server.url}/v1/channels/f/events`, { signal: abort.signal });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // A live subscription opens with its starting id (`sluice.open`), in the first write.
    expect(first).toMatch(
      /^retry: 20\nevent: sluice\.open\nid: (\S+)\ndata: \{"channel":"f","resumeAfter":"\1"\}\n\n$/,
    );
    const broker = server.app.broker as MemoryBroker;
    expect(broker.stats().subscribers).toBe(1);
    const open = (await (await fetch(`${server.url}/healthz`)).json()) as { sse: object };
    expect(open.sse).toEqual({ streams: 1 });
    abort.abort();
    await expect(reader.read()).rejects.toThrow();
    // The server noticed the disconnect and released the broker subscription.
    await vi.waitFor(() => expect(broker.stats().subscribers).toBe(0));
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { sse: object };
    expect(health.sse).toEqual({ streams: 0 });
  });

  it('1,000 events with connections cut at random points arrive exactly once, in order', async () => {
    const total = 1000;
    const source = new EventSource(`${server.url}/v1/channels/chaos/events`);
    const received: Received[] = [];
    let opens = 0;
    source.onopen = () => opens++;
    const finished = new Promise<void>((resolve) => {
      source.onmessage = (e) => {
        received.push({ id: e.lastEventId, data: e.data as string });
        if (received.length >= total) resolve();
      };
    });
    await new Promise<void>((resolve) =>
      source.addEventListener('open', () => resolve(), { once: true }),
    );
    const published: Received[] = [];
    let cuts = 0;
    for (let i = 0; i < total; i++) {
      const id = await server.publish('chaos', i);
      published.push({ id, data: String(i) });
      // Cut the stream at random points, about every 60 events.
      if (Math.random() < 1 / 60 && server.cutStreams() > 0) cuts++;
    }
    await finished;
    source.close();
    expect(cuts).toBeGreaterThan(3);
    expect(opens).toBeGreaterThan(cuts / 2);
    expect(received).toEqual(published);
  });
});
