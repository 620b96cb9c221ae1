/**
 * streamChat() in a real browser (Debian's Chromium): the client bundle served by the test
 * server, a network cut mid-answer, and the text compared with the non-streaming answer.
 */
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchBrowser, noBrowserReason } from '../helpers/browser.js';
import { startLlmServer, type LlmTestServer } from './helpers.js';

describe.skipIf(!chromiumPath)(
  `streamChat() in Chromium (${chromiumPath ? 'real browser' : noBrowserReason})`,
  () => {
    let browser: Browser;
    let page: Page;
    let server: LlmTestServer;

    beforeAll(async () => {
      const bundle = await build({
        entryPoints: [new URL('../../src/client/stream-chat.ts', import.meta.url).pathname],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        write: false,
      });
      const script = bundle.outputFiles[0]!.text;
      server = await startLlmServer({ generationGraceMs: 5_000 }, (request) => {
        const path = new URL(request.url).pathname;
        if (path === '/stream-chat.js') {
          return new Response(script, { headers: { 'content-type': 'text/javascript' } });
        }
        if (path === '/')
          return new Response('<!doctype html><title>t</title>', {
            headers: { 'content-type': 'text/html' },
          });
        return undefined;
      });
      browser = await launchBrowser();
      page = await browser.newPage();
      await page.goto(`${server.url}/`);
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('streams multi-byte text and resumes after a network cut, each chunk once', async () => {
      const content = 'Browser run [mock:tokens=80] [mock:tps=150]';
      const reference = await fetch(`${server.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sluice-mock', messages: [{ role: 'user', content }] }),
      });
      const expected = ((await reference.json()) as { choices: { message: { content: string } }[] })
        .choices[0]!.message.content;

      await page.evaluate(`(async () => {
        const { streamChat } = await import('/stream-chat.js');
        window.state = { texts: 0, resumed: 0, done: false };
        const chat = streamChat({
          baseUrl: '/v1',
          body: { model: 'sluice-mock', messages: [{ role: 'user', content: ${JSON.stringify(content)} }] },
          resume: { backoff: { initialDelay: 10, maxDelay: 50 } },
        });
        window.chat = chat;
        (async () => {
          for await (const delta of chat) {
            if (delta.type === 'text') window.state.texts++;
            if (delta.type === 'resumed') window.state.resumed++;
          }
          window.state.done = true;
        })().catch((e) => { window.state.error = String(e); window.state.done = true; });
      })()`);
      await page.waitForFunction('window.state.texts >= 10');
      expect(server.cutStreams()).toBeGreaterThan(0);
      await page.waitForFunction('window.state.done === true');
      const state = await page.evaluate<{
        texts: number;
        resumed: number;
        error?: string;
        text: string;
        finish: string;
      }>('({ ...window.state, text: window.chat.text, finish: window.chat.finishReason })');
      expect(state.error).toBeUndefined();
      expect(state.resumed).toBeGreaterThanOrEqual(1);
      expect(state.finish).toBe('stop');
      expect(state.text).toBe(expected);
    });
  },
);
