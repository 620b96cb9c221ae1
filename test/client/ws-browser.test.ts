/**
 * The client in a real browser (Debian's Chromium): the browser's own WebSocket, no injected
 * constructor. The client is bundled for the browser with esbuild at test time and served
 * next to the real hub. Both subprotocols resume exactly across server-side TCP cuts, and a
 * publish from the page comes back acked.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../../src/broker/memory-broker.js';
import { attachWebSocketHub, type WebSocketHub } from '../../src/ws/hub.js';
import { chromiumPath, launchBrowser, noBrowserReason } from '../helpers/browser.js';
import { publishedSequence } from './ws-hub-helpers.js';

interface PageState {
  got: Record<string, { id: string; data: unknown }[]>;
  opens: Record<string, number>;
  acked?: string;
}

describe.skipIf(!chromiumPath)(
  `SluiceSocket in Chromium (${chromiumPath ? 'real browser' : noBrowserReason})`,
  () => {
    const broker = createMemoryBroker({ historyLimit: 10_000 });
    const sockets = new Set<Socket>();
    let server: Server;
    let hub: WebSocketHub;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      const bundle = await build({
        entryPoints: [fileURLToPath(new URL('../../src/client/ws-client.ts', import.meta.url))],
        bundle: true,
        format: 'iife',
        globalName: 'Sluice',
        platform: 'browser',
        target: 'es2022',
        write: false,
      });
      const code = bundle.outputFiles[0]!.text;
      server = createServer((request, response) => {
        response
          .writeHead(200, { 'content-type': 'text/html' })
          .end(`<!doctype html><script>${code.replaceAll('</script', '<\\/script')}</script>`);
      });
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      hub = attachWebSocketHub(server, { broker });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      browser = await launchBrowser();
      page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    });

    afterAll(async () => {
      await browser?.close();
      await hub?.close();
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await broker.close();
    });

    it('resumes exactly across TCP cuts with JSON and MessagePack, and publishes with acks', async () => {
      await page.evaluate(() => {
        const w = window as unknown as PageState & { clients: { close(): void }[] };
        // The bundle served with the page defines `Sluice`: the client's public exports.
        const mod = (
          window as unknown as { Sluice: typeof import('../../src/client/ws-client.js') }
        ).Sluice;
        w.got = {};
        w.opens = {};
        w.clients = [];
        for (const format of ['json', 'msgpack'] as const) {
          w.got[format] = [];
          w.opens[format] = 0;
          const client = mod.createSluiceClient(`ws://${location.host}/v1/ws`, {
            format,
            backoff: { initialDelay: 10, maxDelay: 100 },
          });
          client.socket.addEventListener('open', () => w.opens[format]!++);
          client.subscribe('browser', {
            onEvent: (item) => {
              if (item.type === 'event') w.got[format]!.push({ id: item.id, data: item.data });
            },
          });
          w.clients.push(client);
        }
      });
      await page.waitForFunction(() => {
        const w = window as unknown as PageState;
        return w.opens.json === 1 && w.opens.msgpack === 1;
      });
      await waitForSubscribers(2);
      for (let n = 0; n < 300; n++) {
        await broker.publish('browser', { data: { n } });
        if (n % 100 === 50) {
          // Cut once both clients are connected again, so every cut lands on a live socket.
          await page.waitForFunction(
            (k) => {
              const w = window as unknown as PageState;
              return w.opens.json! >= k && w.opens.msgpack! >= k;
            },
            1 + Math.floor(n / 100),
          );
          for (const socket of sockets) socket.destroy();
        }
      }
      const acked = await page.evaluate(async () => {
        const w = window as unknown as {
          clients: { publish(c: string, d: unknown): Promise<{ id: string }> }[];
        };
        return (await w.clients[1]!.publish('browser', { from: 'page' })).id;
      });
      const expected = await publishedSequence(broker, 'browser');
      expect(expected.at(-1)).toEqual({ id: acked, data: { from: 'page' } });
      await page.waitForFunction((n) => {
        const w = window as unknown as PageState;
        return w.got.json!.length >= n && w.got.msgpack!.length >= n;
      }, expected.length);
      const state = await page.evaluate(() => {
        const w = window as unknown as PageState & { clients: { close(): void }[] };
        for (const client of w.clients) client.close();
        return { got: w.got, opens: w.opens };
      });
      expect(state.got.json).toEqual(expected);
      expect(state.got.msgpack).toEqual(expected);
      expect(state.opens.json).toBeGreaterThanOrEqual(3);
      expect(state.opens.msgpack).toBeGreaterThanOrEqual(3);
    });

    async function waitForSubscribers(n: number): Promise<void> {
      const started = Date.now();
      while (hub.stats().subscriptions < n) {
        if (Date.now() - started > 10_000) throw new Error('subscribers did not arrive');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  },
);
