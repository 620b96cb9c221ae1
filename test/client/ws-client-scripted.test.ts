/**
 * SluiceSocket against a scripted server speaking the wire protocol by hand: request ids,
 * outbox, timeouts, dedupe, draining and flow control, where a real hub could not be made to
 * misbehave on cue. The real hub is exercised in ws-client-hub.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket, type WebSocket as ServerSocket } from 'ws';
import { isSluiceError } from '../../src/core/errors.js';
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import type { ReconnectingWebSocketOptions } from '../../src/client/reconnecting-websocket-types.js';
import { createSluiceClient, type SluiceSocketOptions } from '../../src/client/ws-client.js';
import {
  codecForSubprotocol,
  type ClientMessage,
  type ServerMessage,
} from '../../src/ws/protocol.js';
import { harness, waitFor, type TestServer } from './ws-helpers.js';

const { server, defer } = harness();

interface Peer {
  socket: ServerSocket;
  received: ClientMessage[];
  send(message: ServerMessage): void;
}

/** A server that negotiates our subprotocols and records decoded client messages. */
async function scripted(): Promise<{ server: TestServer; peers: Peer[] }> {
  const s = await server({
    handleProtocols: (offered) => [...offered].find((p) => codecForSubprotocol(p)) ?? false,
  });
  const peers: Peer[] = [];
  s.wss.on('connection', (socket) => {
    const codec = codecForSubprotocol(socket.protocol)!;
    const peer: Peer = {
      socket,
      received: [],
      send: (message) => socket.send(codec.encode(message)),
    };
    peers.push(peer);
    socket.on('message', (data, isBinary) => {
      const frame = isBinary ? new Uint8Array(data as Buffer) : (data as Buffer).toString();
      for (const m of codec.decode(frame)) peer.received.push(m as ClientMessage);
    });
  });
  return { server: s, peers };
}

function client(url: string, options: SluiceSocketOptions = {}) {
  const c = createSluiceClient(url, {
    WebSocket,
    networkEvents: null,
    backoff: { initialDelay: 5, maxDelay: 20 },
    ...options,
  });
  defer(() => c.close());
  return c;
}

const ofType = <T extends ClientMessage['type']>(peer: Peer | undefined, type: T) =>
  (peer?.received ?? []).filter((m): m is Extract<ClientMessage, { type: T }> => m.type === type);

describe('SluiceSocket requests', () => {
  it('resolves publish with the acked id and rejects with the server error code', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    const first = c.publish('room', { n: 1 }, { event: 'msg' });
    const second = c.publish('room', { n: 2 });
    await waitFor(() => ofType(peers[0], 'publish').length === 2, 'publishes');
    const [a, b] = ofType(peers[0], 'publish');
    expect(a).toMatchObject({ channel: 'room', data: { n: 1 }, event: 'msg' });
    peers[0]!.send({ type: 'error', rid: b!.rid!, code: 'forbidden', message: 'no' });
    peers[0]!.send({ type: 'ack', rid: a!.rid!, channel: 'room', id: 'e:1' });
    await expect(first).resolves.toEqual({ id: 'e:1' });
    await expect(second).rejects.toMatchObject({ code: 'forbidden', message: 'no' });
  });

  it('holds publishes while offline, sends them in order, bounds the outbox', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url, { maxPendingPublishes: 2 });
    c.socket.close(); // start offline, then come back through reconnect() below
    const p1 = c.publish('room', 1);
    const p2 = c.publish('room', 2);
    await expect(c.publish('room', 3)).rejects.toMatchObject({ code: 'buffer_overflow' });
    c.socket.reconnect();
    await waitFor(() => ofType(peers[0], 'publish').length === 2, 'flush');
    const sent = ofType(peers[0], 'publish');
    expect(sent.map((m) => m.data)).toEqual([1, 2]);
    for (const [i, m] of sent.entries()) {
      peers[0]!.send({ type: 'ack', rid: m.rid!, channel: 'room', id: `e:${i}` });
    }
    expect(await Promise.all([p1, p2])).toEqual([{ id: 'e:0' }, { id: 'e:1' }]);
  });

  it('keeps at most maxInFlightRequests unanswered on the wire, the rest in order behind', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url, { maxInFlightRequests: 2 });
    await waitFor(() => c.socket.state === 'open', 'open');
    const calls = [1, 2, 3, 4, 5].map((n) => c.publish('room', n));
    await waitFor(() => ofType(peers[0], 'publish').length === 2, 'window of two');
    for (let acked = 0; acked < 5; acked++) {
      const window = Math.min(5, acked + 2);
      await waitFor(() => ofType(peers[0], 'publish').length >= window, `${window} sent`);
      const sent = ofType(peers[0], 'publish');
      expect(sent.length).toBe(window);
      peers[0]!.send({ type: 'ack', rid: sent[acked]!.rid!, channel: 'room', id: `e:${acked}` });
      await calls[acked];
    }
    expect(ofType(peers[0], 'publish').map((m) => m.data)).toEqual([1, 2, 3, 4, 5]);
  });

  it('times out: withdrawn when unsent (never sent later), sent:true when sent', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url, { requestTimeout: 40 });
    c.socket.close();
    const unsent = await c.publish('room', 'x').catch((error: unknown) => error);
    expect(unsent).toMatchObject({ code: 'ws_ack_timeout', details: { sent: false } });
    c.socket.reconnect();
    await waitFor(() => c.socket.state === 'open', 'open');
    const sent = await c.publish('room', 'y').catch((error: unknown) => error);
    expect(sent).toMatchObject({ code: 'ws_ack_timeout', details: { sent: true } });
    expect(ofType(peers[0], 'publish').map((m) => m.data)).toEqual(['y']);
  });

  it('fails a sent request with ws_connection_lost when the connection drops', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    const pending = c.publish('room', 1);
    await waitFor(() => ofType(peers[0], 'publish').length === 1, 'publish');
    peers[0]!.socket.terminate();
    const error = await pending.catch((e: unknown) => e);
    expect(isSluiceError(error, 'ws_connection_lost')).toBe(true);
    await waitFor(() => peers.length === 2, 'reconnect');
    expect(ofType(peers[1], 'publish')).toEqual([]); // not resent: it may have taken effect
  });

  it('close() fails a sent, unanswered publish with ws_client_closed (not a lost connection)', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    const pending = c.publish('room', 1);
    await waitFor(() => ofType(peers[0], 'publish').length === 1, 'publish');
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'ws_client_closed' });
  });

  it('refuses a close it cannot carry out, and leaves no socket open after close()', async () => {
    const { server: s } = await scripted();
    const c = client(s.url);
    await waitFor(() => c.socket.state === 'open', 'open');
    for (const [code, reason] of [
      [Number.NaN, ''],
      [3000.5, ''],
      [1000, 'x'.repeat(124)], // a close reason is at most 123 bytes
      [1000, 'é'.repeat(62)], // 124 bytes of UTF-8
    ] as const) {
      expect(() => c.socket.close(code, reason)).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
      expect(() => c.socket.reconnect(code, reason)).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    }
    expect(c.socket.state).toBe('open'); // nothing was torn down
    c.socket.close(1000, 'x'.repeat(123));
    await waitFor(() => s.wss.clients.size === 0, 'the server sees the socket closed');
  });

  it('refuses limits and delays that would turn a bound or a timer off', () => {
    const refused = (make: () => { close(): void }): boolean => {
      try {
        make().close();
        return false;
      } catch (error) {
        return isSluiceError(error, 'invalid_argument');
      }
    };
    const transport: ReconnectingWebSocketOptions[] = [
      { maxQueuedMessages: Number.NaN },
      { maxQueuedBytes: -1 },
      { maxRetries: 1.5 },
      { minUptime: Number.NaN },
      { connectionTimeout: 0 },
      { connectionTimeout: 2 ** 40 },
      { heartbeat: { message: 'ping', interval: 0 } },
    ];
    for (const options of transport) {
      const make = () =>
        new ReconnectingWebSocket('ws://127.0.0.1:9/never', {
          WebSocket,
          networkEvents: null,
          ...options,
        });
      expect(refused(make), JSON.stringify(options)).toBe(true);
    }
    const protocol: SluiceSocketOptions[] = [
      { maxPendingPublishes: Number.NaN },
      { maxInFlightRequests: 0 },
      { maxBufferedEvents: Number.NaN },
      // A timer cannot wait past 2^31 - 1 ms: every request would time out at once.
      { requestTimeout: 2 ** 31 },
    ];
    for (const options of protocol) {
      const make = () =>
        createSluiceClient('ws://127.0.0.1:9/never', {
          WebSocket,
          networkEvents: null,
          ...options,
        });
      expect(refused(make), JSON.stringify(options)).toBe(true);
    }
  });

  it('aborts a request through its signal, and close() fails the rest', async () => {
    const { server: s } = await scripted();
    const c = client(s.url);
    const controller = new AbortController();
    const aborted = c.publish('room', 1, { signal: controller.signal });
    const left = c.publish('room', 2);
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(Error);
    c.close();
    await expect(left).rejects.toMatchObject({ code: 'ws_client_closed' });
    await expect(c.publish('room', 3)).rejects.toMatchObject({ code: 'ws_client_closed' });
  });
});

describe('SluiceSocket subscriptions (scripted)', () => {
  it('re-subscribes with since = last id, drops duplicates, passes gaps', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url, { format: 'msgpack' });
    const items: unknown[] = [];
    const sub = c.subscribe('feed', { since: 'e:0', onEvent: (item) => items.push(item) });
    await waitFor(() => ofType(peers[0], 'subscribe').length === 1, 'subscribe');
    const [subscribe] = ofType(peers[0], 'subscribe');
    expect(subscribe).toMatchObject({ channel: 'feed', since: 'e:0' });
    peers[0]!.send({ type: 'ack', rid: subscribe!.rid!, channel: 'feed' });
    for (const id of ['e:1', 'e:2', 'e:1', 'e:3']) {
      peers[0]!.send({ type: 'event', channel: 'feed', id, data: id });
    }
    await waitFor(() => items.length === 3, 'events');
    expect(sub.state).toBe('subscribed');
    peers[0]!.socket.terminate();
    await waitFor(() => ofType(peers[1], 'subscribe').length === 1, 'resubscribe');
    expect(ofType(peers[1], 'subscribe')[0]).toMatchObject({ channel: 'feed', since: 'e:3' });
    expect(sub.state).toBe('subscribing');
    peers[1]!.send({
      type: 'gap',
      channel: 'feed',
      reason: 'expired',
      requested: 'e:3',
      resumeAfter: 'e:7',
    });
    peers[1]!.send({ type: 'event', channel: 'feed', id: 'e:3', data: 'dup' });
    peers[1]!.send({ type: 'event', channel: 'feed', id: 'e:8', data: 'e:8' });
    await waitFor(() => items.length === 5, 'gap and event');
    expect(items.map((i) => (i as { type: string; id?: string }).id ?? 'gap')).toEqual([
      'e:1',
      'e:2',
      'e:3',
      'gap',
      'e:8',
    ]);
    expect(sub.cursor).toBe('e:8');
  });

  it('pauses a slow iterator (unsubscribe), then resumes from its cursor without loss', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url, { maxBufferedEvents: 4 });
    const sub = c.subscribe('feed');
    const iterator = sub[Symbol.asyncIterator]();
    await waitFor(() => ofType(peers[0], 'subscribe').length === 1, 'subscribe');
    const peer = peers[0]!;
    for (let n = 1; n <= 6; n++)
      peer.send({ type: 'event', channel: 'feed', id: `e:${n}`, data: n });
    await waitFor(() => ofType(peer, 'unsubscribe').length === 1, 'pause');
    expect(sub.state).toBe('paused');
    const unsubscribe = ofType(peer, 'unsubscribe')[0]!;
    // Read two: still above half of the buffer limit, so still paused.
    const got: unknown[] = [];
    for (let i = 0; i < 2; i++) got.push((await iterator.next()).value);
    expect(ofType(peer, 'subscribe').length).toBe(1);
    got.push((await iterator.next()).value); // down to 1 buffered: resume
    await waitFor(() => ofType(peer, 'subscribe').length === 2, 'resume');
    expect(ofType(peer, 'subscribe')[1]).toMatchObject({ since: 'e:4' });
    // Events of the old server-side subscription before the unsubscribe ack are dropped.
    peer.send({ type: 'event', channel: 'feed', id: 'e:5', data: 5 });
    peer.send({ type: 'ack', rid: unsubscribe.rid!, channel: 'feed' });
    peer.send({ type: 'event', channel: 'feed', id: 'e:5', data: 5 });
    peer.send({ type: 'event', channel: 'feed', id: 'e:6', data: 6 });
    for (let i = 0; i < 3; i++) got.push((await iterator.next()).value);
    expect(got.map((item) => (item as { data: unknown }).data)).toEqual([1, 2, 3, 4, 5, 6]);
    await iterator.return?.();
    expect(sub.state).toBe('closed');
    await waitFor(() => ofType(peer, 'unsubscribe').length === 2, 'unsubscribe on break');
  });

  it('ends a subscription the server refuses, with the error from iteration', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    const sub = c.subscribe('secret');
    await waitFor(() => ofType(peers[0], 'subscribe').length === 1, 'subscribe');
    const rid = ofType(peers[0], 'subscribe')[0]!.rid!;
    peers[0]!.send({
      type: 'error',
      rid,
      code: 'forbidden',
      message: 'not yours',
      channel: 'secret',
    });
    const items: unknown[] = [];
    const failure = await (async () => {
      for await (const item of sub) items.push(item);
    })().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'forbidden' });
    expect(sub.state).toBe('closed');
    // The channel is free again.
    expect(() => c.subscribe('secret').unsubscribe()).not.toThrow();
  });

  it('sends app-level pings in the negotiated format and reconnects when unanswered', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url, { format: 'msgpack', heartbeat: { interval: 20, timeout: 40 } });
    await waitFor(() => ofType(peers[0], 'ping').length >= 1, 'ping');
    await waitFor(() => peers.length === 2, 'reconnect after unanswered pings');
    expect(peers.map((p) => p.socket.protocol)).toEqual(['sluice.v1.msgpack', 'sluice.v1.msgpack']);
    await waitFor(() => c.socket.state === 'open', 'open again');
    expect(c.socket.protocol).toBe('sluice.v1.msgpack');
  });
});

describe('SluiceSocket subscription lifecycle', () => {
  it('unsubscribes when the signal aborts and refuses a second subscription per channel', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    const controller = new AbortController();
    const sub = c.subscribe('feed', { signal: controller.signal });
    expect(() => c.subscribe('feed')).toThrow(
      expect.objectContaining({ code: 'ws_already_subscribed' }),
    );
    await waitFor(() => ofType(peers[0], 'subscribe').length === 1, 'subscribe');
    const unsubscribed = new Promise((resolve) => sub.addEventListener('unsubscribed', resolve));
    controller.abort();
    await unsubscribed;
    expect(sub.state).toBe('closed');
    await waitFor(() => ofType(peers[0], 'unsubscribe').length === 1, 'unsubscribe on the wire');
    expect(ofType(peers[0], 'unsubscribe')[0]).toMatchObject({ channel: 'feed' });
  });
});

describe('SluiceSocket: a reply to an earlier subscription of the same channel', () => {
  it('does not end or ack the newer subscription', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    await waitFor(() => c.socket.state === 'open', 'open');
    const first = c.subscribe('room');
    first.unsubscribe();
    const second = c.subscribe('room');
    await waitFor(() => ofType(peers[0], 'subscribe').length === 2, 'two subscribes');
    const [old, current] = ofType(peers[0], 'subscribe');
    const unsubscribe = ofType(peers[0], 'unsubscribe')[0]!;
    // The server refuses the first subscription (say, its cursor or rights were bad), late.
    peers[0]!.send({ type: 'error', rid: old!.rid!, code: 'forbidden', message: 'old' });
    peers[0]!.send({ type: 'ack', rid: unsubscribe.rid!, channel: 'room' });
    peers[0]!.send({ type: 'ack', rid: current!.rid!, channel: 'room' });
    peers[0]!.send({ type: 'event', channel: 'room', id: 'e:1', data: 'live' });
    const iterator = second[Symbol.asyncIterator]();
    const next = await iterator.next();
    expect(next).toMatchObject({ done: false, value: { data: 'live' } });
    expect(second.state).not.toBe('closed');
  });
});

describe('SluiceSocket when the transport gives up', () => {
  it('fails pending requests and ends subscriptions with the close code (4500 range)', async () => {
    const { server: s, peers } = await scripted();
    const c = client(s.url);
    const sub = c.subscribe('feed');
    const iteration = (async () => {
      for await (const _ of sub) void _;
    })().catch((error: unknown) => error);
    const pending = c.publish('feed', 1);
    await waitFor(() => ofType(peers[0], 'publish').length === 1, 'publish');
    peers[0]!.socket.close(4500, 'too many invalid messages');
    await expect(pending).rejects.toMatchObject({ code: 'ws_connection_lost' });
    expect(await iteration).toMatchObject({ code: 'ws_connection_lost', closeCode: 4500 });
    expect(c.socket.state).toBe('closed');
    expect(sub.state).toBe('closed');
  });
});
