/**
 * The hub mounted on the server's own port: one channel space for SSE, HTTP and WebSocket,
 * with the same ids; shutdown closes WebSockets with 1001.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readUntil } from '../helpers/sse-text.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ keepAlive: null });
});
afterEach(async () => {
  await server.close();
});

function connect(): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws`, 'sluice.v1.json');
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (raw: Buffer) => {
    const parsed = JSON.parse(raw.toString()) as
      Record<string, unknown> | Record<string, unknown>[];
    messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

async function until<T>(check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met');
}

describe('WebSocket hub on the server port', () => {
  it('HTTP publishes reach WebSocket subscribers, WebSocket publishes reach SSE, same ids', async () => {
    const { ws, messages } = await connect();
    ws.send(JSON.stringify({ type: 'subscribe', channel: 'mixed', rid: 's1' }));
    await until(() => messages.find((m) => m.type === 'ack' && m.rid === 's1'));
    const sse = await fetch(`${server.url}/v1/channels/mixed/events`);

    const httpId = await server.publish('mixed', { from: 'http' });
    const wsEvent = await until(() => messages.find((m) => m.type === 'event' && m.id === httpId));
    expect(wsEvent).toMatchObject({ channel: 'mixed', data: { from: 'http' } });

    ws.send(JSON.stringify({ type: 'publish', channel: 'mixed', data: { from: 'ws' }, rid: 'p1' }));
    const ack = await until(() => messages.find((m) => m.type === 'ack' && m.rid === 'p1'));
    const text = await readUntil(sse.body!, (t) => t.includes('"from":"ws"'));
    expect(text).toContain(`id: ${String(ack.id)}\ndata: {"from":"ws"}`);
    ws.close();
  });

  it('closes WebSockets with 1001 (going away) on shutdown', async () => {
    const { ws } = await connect();
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await server.close();
    expect(await closed).toBe(1001);
  });
});
