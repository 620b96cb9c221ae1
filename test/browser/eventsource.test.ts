/**
 * The browser's own EventSource against the server: events with ids, named events, and a
 * native reconnect after a network cut that resumes with Last-Event-ID without loss.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchBrowser, noBrowserReason } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe.skipIf(!chromiumPath)(
  `native EventSource in Chromium (${chromiumPath ? 'real browser' : noBrowserReason})`,
  () => {
    let browser: Browser;
    let page: Page;
    let server: TestServer;

    beforeAll(async () => {
      server = await startServer({ keepAlive: 1000, retry: 50 });
      browser = await launchBrowser();
      page = await browser.newPage();
      await page.goto(`${server.url}/healthz`);
    });
    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('receives every event exactly once across network cuts', async () => {
      await page.evaluate(() => {
        const w = window as unknown as { got: string[]; opens: number; es: EventSource };
        w.got = [];
        w.opens = 0;
        w.es = new EventSource('/v1/channels/browser/events');
        w.es.onopen = () => w.opens++;
        w.es.onmessage = (e: MessageEvent<string>) => w.got.push(`${e.lastEventId}=${e.data}`);
        w.es.addEventListener('note', (e) =>
          w.got.push(`note:${(e as MessageEvent<string>).data}`),
        );
      });
      await page.waitForFunction(() => (window as unknown as { opens: number }).opens === 1);
      const expected: string[] = [];
      for (let i = 0; i < 60; i++) {
        const id = await server.publish('browser', i);
        expected.push(`${id}=${i}`);
        if (i % 20 === 10) {
          // Wait until the browser has this event, then cut its connection.
          await page.waitForFunction(
            (n) => (window as unknown as { got: string[] }).got.length >= n,
            i + 1,
          );
          server.cutStreams();
        }
      }
      await server.publish('browser', 'hello', 'note');
      expected.push('note:"hello"');
      await page.waitForFunction(
        (n) => (window as unknown as { got: string[] }).got.length >= n,
        expected.length,
      );
      const result = await page.evaluate(() => {
        const w = window as unknown as { got: string[]; opens: number; es: EventSource };
        w.es.close();
        return { got: w.got, opens: w.opens };
      });
      expect(result.got).toEqual(expected);
      expect(result.opens).toBeGreaterThanOrEqual(3);
    });
  },
);
