import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  harness,
  nextState,
  recordStates,
  refusedPort,
  sleep,
  text,
  waitFor,
} from './ws-helpers.js';

const { open, server } = harness();

describe('ReconnectingWebSocket: offline queue', () => {
  it('bounds the queue by count and bytes (reject-newest) and flushes in order', async () => {
    const s = await server();
    const received: string[] = [];
    s.wss.on('connection', (peer) => peer.on('message', (data) => received.push(text(data))));
    let release!: (url: string) => void;
    const gate = new Promise<string>((resolve) => (release = resolve));
    const socket = open(() => gate, { maxQueuedMessages: 3, maxQueuedBytes: 10 });
    expect(socket.send('a')).toBe(true);
    expect(socket.send('bb')).toBe(true);
    expect(socket.send('é'.repeat(4))).toBe(false); // 8 bytes: would exceed 10
    expect(socket.send('ccc')).toBe(true);
    expect(socket.send('d')).toBe(false); // fourth message: count limit
    expect(socket.queuedMessages).toBe(3);
    expect(socket.bufferedAmount).toBe(6);
    socket.addEventListener('open', () => socket.send('after-open'));
    release(s.url);
    await waitFor(() => received.length === 4, 'four messages');
    expect(received).toEqual(['a', 'bb', 'ccc', 'after-open']);
    expect(socket.queuedMessages).toBe(0);
  });

  it('queues while reconnecting and flushes after the next open', async () => {
    const s = await server();
    const received: string[][] = [];
    s.wss.on('connection', (peer) => {
      const mine: string[] = [];
      received.push(mine);
      peer.on('message', (data) => mine.push(text(data)));
    });
    const socket = open(s.url, { backoff: { initialDelay: 50, maxDelay: 50, random: () => 0.99 } });
    await nextState(socket, 'open');
    s.connections[0]!.socket.terminate();
    await nextState(socket, 'reconnecting');
    for (const m of ['1', '2', '3']) expect(socket.send(m)).toBe(true);
    await nextState(socket, 'open');
    socket.send('4');
    await waitFor(() => received[1]?.length === 4, 'flush');
    expect(received[1]).toEqual(['1', '2', '3', '4']);
  });

  it('refuses to queue when the queue is disabled', async () => {
    const port = await refusedPort();
    const socket = open(`ws://127.0.0.1:${port}`, { maxQueuedMessages: 0 });
    expect(socket.send('x')).toBe(false);
  });
});

describe('ReconnectingWebSocket: heartbeat', () => {
  it('detects a half-open connection (server stops answering) and reconnects', async () => {
    const s = await server();
    s.wss.on('connection', (peer) =>
      peer.on('message', (data) => {
        if (text(data) === 'ping') peer.send('pong');
      }),
    );
    const socket = open(s.url, { heartbeat: { message: 'ping', interval: 30, timeout: 60 } });
    await nextState(socket, 'open');
    await sleep(150); // several answered pings: still the first connection
    expect(s.connections.length).toBe(1);
    expect(socket.state).toBe('open');
    // The peer stops reading: pings go unanswered, as with a dead NAT entry.
    s.connections[0]!.socket.pause();
    const retry = await nextState(socket, 'reconnecting');
    expect(retry.code).toBe('heartbeat_timeout');
    await nextState(socket, 'open');
    expect(s.connections.length).toBe(2);
  });

  it('closes a timed-out socket also where there is no terminate() (browsers)', async () => {
    const s = await server();
    const socket = open(s.url, {
      WebSocket: BrowserLikeWebSocket,
      heartbeat: { message: 'ping', interval: 30, timeout: 60 },
    });
    await nextState(socket, 'open');
    const first = s.connections[0]!.socket;
    const closed = once(first, 'close');
    // Never answers: the client gives up on this socket and must not leave it open.
    const retry = await nextState(socket, 'reconnecting');
    expect(retry.code).toBe('heartbeat_timeout');
    await Promise.race([closed, sleep(1000).then(() => Promise.reject(new Error('left open')))]);
  });

  it('stops pinging and retrying once closed', async () => {
    const s = await server();
    let pings = 0;
    s.wss.on('connection', (peer) => peer.on('message', () => pings++));
    const socket = open(s.url, {
      heartbeat: { message: () => 'ping', interval: 10, timeout: 1_000 },
    });
    await waitFor(() => pings >= 1, 'a ping');
    const events: string[] = [];
    for (const type of ['open', 'close', 'message', 'statechange', 'error'] as const) {
      socket.addEventListener(type, () => events.push(type));
    }
    socket.close(4000, 'done');
    expect(events).toEqual(['statechange', 'close']);
    const after = pings;
    await sleep(80);
    expect(pings).toBe(after);
    expect(s.connections.length).toBe(1);
    expect(events).toEqual(['statechange', 'close']);
  });
});

describe('ReconnectingWebSocket: close and abort', () => {
  it('an aborted signal closes for good, also during the first attempt', async () => {
    const s = await server();
    const controller = new AbortController();
    let release!: (url: string) => void;
    const socket = open(() => new Promise<string>((resolve) => (release = resolve)), {
      signal: controller.signal,
    });
    const states = recordStates(socket);
    controller.abort();
    release(s.url);
    await sleep(50);
    expect(states.map((e) => [e.to, e.code])).toEqual([['closed', 'aborted']]);
    expect(s.connections.length).toBe(0);
    expect(() => socket.reconnect()).toThrow(/aborted/);
  });

  it('rejects invalid close codes at once', () => {
    const socket = open('ws://127.0.0.1:1');
    expect(() => socket.close(1006)).toThrow(/3000-4999/);
  });
});

describe('ReconnectingWebSocket: listeners that close', () => {
  it('close() from a statechange listener leaves no retry behind', async () => {
    const s = await server();
    s.wss.on('connection', (peer) => peer.terminate());
    const socket = open(s.url);
    socket.addEventListener('statechange', (event) => {
      if (event.to === 'reconnecting') socket.close();
    });
    await waitFor(() => socket.state === 'closed', 'closed');
    await sleep(60);
    expect(s.connections.length).toBe(1);
  });
});

/**
 * A WebSocket as browsers have it: no `terminate()`, and `close()` refuses codes other than
 * 1000 and 3000-4999 (InvalidAccessError), e.g. 1006.
 */
class BrowserLikeWebSocket extends WebSocket {
  override close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`close code ${code} is not allowed`, 'InvalidAccessError');
    }
    super.close(code, reason);
  }
}
Object.defineProperty(BrowserLikeWebSocket.prototype, 'terminate', { value: undefined });
