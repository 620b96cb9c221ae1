import { getEventListeners, once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import {
  harness,
  nextState,
  recordStates,
  refusedPort,
  sleep,
  text,
  waitFor,
} from './ws-helpers.js';

const { open, server, defer } = harness();

/** A socket to a port that refuses connections, with its own source of `online` events. */
async function offline(options: Parameters<typeof open>[1] = {}) {
  const port = await refusedPort();
  const network = new EventTarget();
  const socket = open(`ws://127.0.0.1:${port}`, { networkEvents: network, ...options });
  return { socket, network, port };
}

describe('ReconnectingWebSocket: WebSocket surface', () => {
  it('opens, exchanges messages and exposes url, protocol and readyState', async () => {
    const s = await server({ handleProtocols: (offered) => (offered.has('b') ? 'b' : false) });
    s.wss.on('connection', (peer) => peer.on('message', (data) => peer.send(`echo:${text(data)}`)));
    const socket = open(s.url, { protocols: ['a', 'b'] });
    expect(socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    const messages: unknown[] = [];
    socket.onmessage = (event) => messages.push(String(event.data));
    await once(socket, 'open');
    expect(socket.readyState).toBe(socket.OPEN);
    expect(socket.state).toBe('open');
    expect(socket.url).toBe(s.url);
    expect(socket.protocol).toBe('b');
    expect(socket.send('hi')).toBe(true);
    await waitFor(() => messages.length === 1, 'echo');
    expect(messages).toEqual(['echo:hi']);
    socket.close();
    expect(socket.readyState).toBe(ReconnectingWebSocket.CLOSED);
    expect(socket.send('late')).toBe(false);
  });

  it('throws a clear error when no WebSocket implementation is available', () => {
    expect(() => new ReconnectingWebSocket('ws://127.0.0.1:1')).toThrow(/options\.WebSocket/);
  });

  it('replaces an on* handler instead of adding a second one', async () => {
    const s = await server();
    const socket = open(s.url);
    let first = 0;
    let second = 0;
    socket.onopen = () => first++;
    socket.onopen = () => second++;
    await waitFor(() => socket.state === 'open', 'open');
    expect([first, second]).toEqual([0, 1]);
    expect(typeof socket.onopen).toBe('function');
  });
});

describe('ReconnectingWebSocket: backoff', () => {
  it('draws full-jitter delays below an exponentially growing, capped ceiling', async () => {
    const port = await refusedPort();
    const draws = [0.999, 0, 0.5, 0.999, 0.999, 0.999];
    let i = 0;
    const socket = open(`ws://127.0.0.1:${port}`, {
      backoff: {
        initialDelay: 10,
        maxDelay: 40,
        multiplier: 2,
        random: () => draws[i++ % draws.length]!,
      },
    });
    const states = recordStates(socket);
    await waitFor(() => states.filter((e) => e.to === 'reconnecting').length >= 6, 'six retries');
    const delays = states.filter((e) => e.to === 'reconnecting').slice(0, 6);
    // ceilings 10, 20, 40, 40 (cap), 40, 40
    expect(delays.map((e) => e.delay)).toEqual([9, 0, 20, 39, 39, 39]);
    expect(delays.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(delays.every((e) => e.code === 'transport_closed' && e.closeCode === 1006)).toBe(true);
  });

  it('resets the retry counter only after a connection stays up minUptime', async () => {
    const s = await server();
    let holdMs = 0;
    s.wss.on('connection', (peer) => {
      setTimeout(() => peer.close(4000, 'bye'), holdMs);
    });
    const socket = open(s.url, { minUptime: 100, backoff: { initialDelay: 1, maxDelay: 2 } });
    const states = recordStates(socket);
    const retries = () => states.filter((e) => e.to === 'reconnecting');
    await waitFor(() => retries().length >= 3, 'three short-lived connections');
    expect(
      retries()
        .map((e) => e.attempt)
        .slice(0, 3),
    ).toEqual([1, 2, 3]);
    holdMs = 250;
    const before = retries().length;
    await waitFor(() => retries().some((e, n) => n >= before && e.attempt === 1), 'reset', 5_000);
    const after = retries().slice(before);
    expect(after.at(-1)?.closeCode).toBe(4000);
    expect(after.at(-1)?.reason).toBe('bye');
  });

  it('gives up after maxRetries with state closed / max_retries', async () => {
    const port = await refusedPort();
    const socket = open(`ws://127.0.0.1:${port}`, { maxRetries: 3 });
    const states = recordStates(socket);
    const closed = await nextState(socket, 'closed');
    expect(closed.code).toBe('max_retries');
    expect(states.filter((e) => e.to === 'connecting').length).toBe(3);
    expect(socket.readyState).toBe(socket.CLOSED);
    expect(socket.send('x')).toBe(false);
  });

  it('brings the retry forward when the network comes back online, within the spread', async () => {
    const s = await server();
    const network = new EventTarget();
    s.wss.once('connection', (peer) => peer.terminate());
    const socket = open(s.url, {
      networkEvents: network,
      onlineRetrySpread: 200,
      backoff: { initialDelay: 60_000, maxDelay: 60_000, random: () => 0.99 },
    });
    const waiting = await nextState(socket, 'reconnecting');
    expect(waiting.delay).toBeGreaterThan(50_000);
    const states = recordStates(socket);
    network.dispatchEvent(new Event('online'));
    const connecting = await nextState(socket, 'open');
    expect(connecting.to).toBe('open');
    expect(s.connections.length).toBe(2);
    const online = states.find((e) => e.code === 'online' && e.to === 'reconnecting');
    expect(online?.delay).toBe(198); // 0.99 of the 200 ms spread, not the 60 s backoff
  });

  it('spreads the online retries of clients that see the network come back together', async () => {
    const port = await refusedPort();
    const network = new EventTarget();
    const sockets = Array.from({ length: 10 }, () => {
      // The first draw sets the pending retry (59.4 s away, so 'online' always brings it
      // forward); the draws after it are random, as a real client's are.
      let draws = 0;
      const random = () => (draws++ === 0 ? 0.99 : Math.random());
      return open(`ws://127.0.0.1:${port}`, {
        networkEvents: network,
        onlineRetrySpread: 5_000,
        backoff: { initialDelay: 60_000, maxDelay: 60_000, random },
      });
    });
    await Promise.all(sockets.map((socket) => nextState(socket, 'reconnecting')));
    const onlineStates = sockets.map((socket) => {
      const seen = recordStates(socket);
      return () => seen.find((e) => e.code === 'online');
    });
    network.dispatchEvent(new Event('online'));
    const delays = onlineStates.map((found) => found()?.delay);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(5_000);
    }
    // Random draws: ten equal delays would be lock-step (odds of a false failure: ~1e-30).
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('retries at once on online when the spread is 0', async () => {
    const { socket, network } = await offline({
      onlineRetrySpread: 0,
      backoff: { initialDelay: 60_000, maxDelay: 60_000, random: () => 0.99 },
    });
    await nextState(socket, 'reconnecting');
    const states = recordStates(socket);
    network.dispatchEvent(new Event('online'));
    expect(states[0]).toMatchObject({ to: 'connecting', code: 'online' });
  });

  it('lets go of its online listener when it gives up; reconnect() takes it back', async () => {
    const controller = new AbortController();
    const { socket, network } = await offline({
      signal: controller.signal,
      maxRetries: 1,
      backoff: { initialDelay: 1, maxDelay: 1 },
    });
    const listeners = () => [
      getEventListeners(network, 'online').length,
      getEventListeners(controller.signal, 'abort').length,
    ];
    expect(listeners()).toEqual([1, 1]);
    expect((await nextState(socket, 'closed')).code).toBe('max_retries');
    // `window` no longer holds a client that gave up; its own signal still may end it.
    expect(listeners()).toEqual([0, 1]);
    socket.reconnect();
    expect(listeners()).toEqual([1, 1]);
    socket.close();
    expect(listeners()).toEqual([0, 0]);
  });

  it('drops the offline queue when aborted after giving up', async () => {
    const port = await refusedPort();
    const controller = new AbortController();
    const socket = open(`ws://127.0.0.1:${port}`, {
      networkEvents: null,
      signal: controller.signal,
      maxRetries: 0,
    });
    socket.send('queued');
    expect((await nextState(socket, 'closed')).code).toBe('max_retries');
    expect(socket.queuedMessages).toBe(1); // kept for a reconnect()
    controller.abort();
    expect(socket.queuedMessages).toBe(0);
  });

  it('only ever brings a retry forward on online, never later', async () => {
    const { socket, network } = await offline({
      onlineRetrySpread: 1_000,
      maxRetries: 2,
      backoff: { initialDelay: 100, maxDelay: 100, random: () => 0.9 },
    });
    await nextState(socket, 'reconnecting'); // the retry is due in 90 ms
    const states = recordStates(socket);
    network.dispatchEvent(new Event('online')); // would draw 900 ms: the 90 ms retry stays
    const next = await nextState(socket, 'connecting');
    expect(next.code).toBe('retry');
    expect(states.some((e) => e.code === 'online')).toBe(false);
  });

  it('refuses a negative onlineRetrySpread', () => {
    expect(() => open('ws://127.0.0.1:1', { onlineRetrySpread: -1 })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});

describe('ReconnectingWebSocket: attempts', () => {
  it('abandons a handshake that never completes after connectionTimeout', async () => {
    const held: Socket[] = [];
    let closedByClient = 0;
    // Accepts and reads, never answers the upgrade request.
    const tcp = createServer((socket) => {
      held.push(socket);
      socket.on('close', () => closedByClient++).resume();
    });
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    defer(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    defer(() => held.forEach((socket) => socket.destroy()));
    const { port } = tcp.address() as AddressInfo;
    const socket = open(`ws://127.0.0.1:${port}`, { connectionTimeout: 80 });
    const closes: number[] = [];
    socket.addEventListener('close', (event) => closes.push(event.code));
    const retry = await nextState(socket, 'reconnecting');
    expect(retry.code).toBe('connect_timeout');
    expect(closes).toEqual([1006]);
    await waitFor(() => held.length >= 2, 'a second attempt');
    socket.close();
    // The abandoned attempts' TCP connections are torn down, not left open.
    await waitFor(() => closedByClient === held.length, 'client sockets closed');
  });

  it('re-resolves URL and protocol providers before every attempt', async () => {
    const s = await server({ handleProtocols: (offered) => [...offered][0] ?? false });
    s.wss.on('connection', (peer) => peer.close(4000));
    let n = 0;
    const socket = open(() => `${s.url}/?token=t${++n}`, {
      protocols: async () => [`auth.p${n}`],
    });
    await waitFor(() => s.connections.length >= 3, 'three connections');
    socket.close();
    expect(s.connections.slice(0, 3).map((c) => c.url)).toEqual([
      '/?token=t1',
      '/?token=t2',
      '/?token=t3',
    ]);
    expect(s.connections.slice(0, 3).map((c) => c.protocols)).toEqual([
      'auth.p1',
      'auth.p2',
      'auth.p3',
    ]);
  });

  it('treats a failing provider as a failed attempt and retries', async () => {
    const s = await server();
    let calls = 0;
    const socket = open(async () => {
      if (++calls < 3) throw new Error(`token service down ${calls}`);
      return s.url;
    });
    const errors: string[] = [];
    socket.addEventListener('error', (event) => errors.push(event.message));
    const states = recordStates(socket);
    await nextState(socket, 'open');
    expect(errors).toEqual(['token service down 1', 'token service down 2']);
    expect(states.filter((e) => e.code === 'connect_error').length).toBe(2);
  });

  it('follows the close-code table by default: 4001 reconnects, 1008 and 45xx stop', async () => {
    const s = await server();
    const codes = [4001, 1008];
    s.wss.on('connection', (peer) => peer.close(codes.shift() ?? 4501, 'policy'));
    const socket = open(s.url);
    const closed = await nextState(socket, 'closed');
    expect(closed).toMatchObject({ code: 'not_reconnecting', closeCode: 1008, reason: 'policy' });
    expect(s.connections.length).toBe(2);
    socket.reconnect();
    expect(await nextState(socket, 'closed')).toMatchObject({ closeCode: 4501 });
    await sleep(50);
    expect(s.connections.length).toBe(3);

    s.wss.removeAllListeners('connection');
    s.wss.on('connection', (peer) => peer.close(4501, 'unauthorized'));
    const seen: number[] = [];
    const custom = open(s.url, {
      shouldReconnect: ({ code, attempt }) => {
        seen.push(attempt);
        return code === 4501 && attempt < 2;
      },
    });
    await nextState(custom, 'closed');
    expect(seen).toEqual([0, 1, 2]);
    // reconnect() revives a socket that gave up (e.g. after fetching a new token).
    s.wss.removeAllListeners('connection');
    custom.reconnect();
    await nextState(custom, 'open');
  });
});
