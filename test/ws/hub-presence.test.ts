import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker, createMemoryBroker } from '../../src/broker/memory-broker.js';
import { createWebSocketHub } from '../../src/ws/hub.js';
import { TestClient, eventually, startHub, type HubFixture } from './helpers.js';

let fixture: HubFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('presence', () => {
  it('sends a snapshot, then join and leave, and answers presence queries', async () => {
    fixture = await startHub();
    const alice = await TestClient.connect(fixture.url);
    const aliceId = (await alice.next('welcome')).clientId;
    alice.send({ type: 'subscribe', channel: 'room', presence: true, rid: 1 });
    const snapshot = await alice.next('presence');
    expect(snapshot.members).toEqual([{ clientId: aliceId, info: { subject: 'anonymous' } }]);

    const bob = await TestClient.connect(fixture.url, { format: 'msgpack' });
    const bobId = (await bob.next('welcome')).clientId;
    await bob.request({ type: 'subscribe', channel: 'room', rid: 1 });
    expect(await alice.next('join')).toEqual({
      type: 'join',
      channel: 'room',
      member: { clientId: bobId, info: { subject: 'anonymous' } },
    });
    bob.send({ type: 'presence', channel: 'room', rid: 'who' });
    const answer = await bob.next('presence');
    expect(answer.rid).toBe('who');
    expect(answer.members.map((m) => m.clientId).sort()).toEqual([aliceId, bobId].sort());

    await bob.request({ type: 'unsubscribe', channel: 'room', rid: 2 });
    expect(await alice.next('leave')).toMatchObject({ member: { clientId: bobId } });
  });

  it('removes members that vanish abruptly (terminate: no close frame)', async () => {
    fixture = await startHub();
    const watcher = await TestClient.connect(fixture.url);
    await watcher.request({ type: 'subscribe', channel: 'room', presence: true, rid: 1 });
    await watcher.next('presence');
    const ghost = await TestClient.connect(fixture.url);
    const ghostId = (await ghost.next('welcome')).clientId;
    await ghost.request({ type: 'subscribe', channel: 'room', rid: 1 });
    await watcher.next('join', (m) => m.member.clientId === ghostId);
    ghost.ws.terminate();
    expect(await watcher.next('leave')).toMatchObject({ member: { clientId: ghostId } });
    expect((await fixture.broker.members('room')).map((m) => m.clientId)).not.toContain(ghostId);
  });

  it('terminates a connection that stops answering pings, and removes its presence', async () => {
    fixture = await startHub({ heartbeatInterval: 200 });
    const watcher = await TestClient.connect(fixture.url);
    await watcher.request({ type: 'subscribe', channel: 'room', presence: true, rid: 1 });
    await watcher.next('presence');
    // A peer whose process hangs: its socket is open but it never pongs nor sends.
    const silent = await TestClient.connect(fixture.url, { autoPong: false });
    const silentId = (await silent.next('welcome')).clientId;
    await silent.request({ type: 'subscribe', channel: 'room', rid: 1 });
    expect(await watcher.next('leave', (m) => m.member.clientId === silentId)).toBeDefined();
    expect((await silent.closed).code).toBe(1006);
    expect(fixture.hub.stats().heartbeatTimeouts).toBe(1);
    // The watcher answers pings (ws auto-pong), so it survives many intervals.
    expect(watcher.ws.readyState).toBe(watcher.ws.OPEN);
    expect(await watcher.request({ type: 'subscribe', channel: 'other', rid: 2 })).toMatchObject({
      type: 'ack',
    });
  });
});

describe('heartbeat while the hub is not reading', () => {
  it('does not cut a live client whose pongs wait unread while its requests wait on the broker', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // A broker that stalls every publish until the gate opens (a network broker's hiccup).
    class StalledBroker extends MemoryBroker {
      override async publish(...args: Parameters<MemoryBroker['publish']>): Promise<string> {
        await gate;
        return super.publish(...args);
      }
    }
    const broker = new StalledBroker();
    fixture = await startHub({ broker, heartbeatInterval: 100, maxPendingMessages: 2 });
    const client = await TestClient.connect(fixture.url);
    await client.next('welcome');
    const publishes = [1, 2, 3].map((rid) =>
      client.request({ type: 'publish', channel: 'c', data: rid, rid }),
    );
    // The hub stopped reading (two requests wait); several heartbeat intervals go by.
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(fixture.hub.stats().heartbeatTimeouts).toBe(0);
    open();
    for (const reply of await Promise.all(publishes)) expect(reply).toMatchObject({ type: 'ack' });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    await broker.close();
  });
});

describe('teardown', () => {
  it('hub.close() closes every connection with 1001 and leaves nothing behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const local = await startHub({ heartbeatInterval: 1000 });
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(local.url)));
    for (const [i, client] of clients.entries()) {
      await client.request({ type: 'subscribe', channel: `c${i % 2}`, presence: true, rid: 1 });
    }
    expect(local.hub.stats().connections).toBe(3);
    await local.hub.close();
    for (const client of clients) expect((await client.closed).code).toBe(1001);
    expect(local.hub.stats()).toMatchObject({ connections: 0, subscriptions: 0, bufferedBytes: 0 });
    expect(local.broker.stats()).toMatchObject({
      subscribers: 0,
      presenceMembers: 0,
      presenceWatchers: 0,
    });
    expect(local.server.listenerCount('upgrade')).toBe(0);
    await local.close();
    await eventually(
      () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= timersBefore,
    );
  });

  it('a hub fed by its own upgrade handler answers 503 once closed', async () => {
    const broker = createMemoryBroker();
    const hub = createWebSocketHub({ broker, heartbeatInterval: null });
    const server = createServer();
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!hub.handleUpgrade(request, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ws`;
    const client = await TestClient.connect(url);
    await client.next('welcome');
    await hub.close();
    expect((await client.closed).code).toBe(1001);
    expect(await TestClient.rejected(url)).toBe(503);
    expect(hub.stats().rejectedUpgrades.closing).toBe(1);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await broker.close();
  });
});
