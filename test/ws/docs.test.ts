/**
 * The WebSocket documentation must not drift from the code: the close-code table and the
 * defaults it quotes are checked against CLOSE_CODE_TABLE and WEBSOCKET_HUB_DEFAULTS.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODE_TABLE } from '../../src/ws/close-codes.js';
import { WEBSOCKET_HUB_DEFAULTS } from '../../src/ws/hub-options.js';

// The section lives in docs/protocol.md (or, before merging, docs/protocol-ws.md).
const docs = ['docs/protocol.md', 'docs/protocol-ws.md']
  .filter((path) => existsSync(path))
  .map((path) => readFileSync(path, 'utf8'))
  .join('\n');
const start = docs.indexOf('## WebSocket');
const end = docs.indexOf('\n## ', start + 1);
const section = start < 0 ? '' : docs.slice(start, end < 0 ? undefined : end);

const bytes = (n: number): string =>
  n % (1024 * 1024) === 0 ? `${n / 1024 / 1024} MiB` : `${n / 1024} KiB`;
const seconds = (ms: number): string => `${ms / 1000} s`;

describe('docs/protocol.md, WebSocket section', () => {
  it('exists', () => {
    expect(start).toBeGreaterThanOrEqual(0);
  });

  it('lists every close code with its reconnect rule', () => {
    for (const entry of CLOSE_CODE_TABLE) {
      const row = new RegExp(
        `\\| ${entry.code} \\| \`${entry.name}\` +\\| ${entry.reconnect ? 'yes' : 'no'} `,
      );
      expect(section).toMatch(row);
    }
  });

  it('quotes the defaults the code has', () => {
    const d = WEBSOCKET_HUB_DEFAULTS;
    expect(section).toContain(`GET ${d.path}`);
    expect(section).toContain(`\`maxPayload\`         | ${bytes(d.maxPayload)}`);
    expect(section).toContain(`default ${seconds(d.heartbeatInterval)}`);
    expect(section).toContain(`default ${bytes(d.maxBufferedBytes)}`);
    expect(section).toContain(`\`slowConsumerTimeout\` (${seconds(d.slowConsumerTimeout)})`);
    expect(section).toContain(`${d.rateLimit.messagesPerSecond} msg/s, burst ${d.rateLimit.burst}`);
    expect(section).toContain(`| ${d.maxInvalidMessages} per minute`);
    expect(section).toContain(`| ${d.maxConnections.toLocaleString('en-US').replace(',', ' ')}`);
    expect(section).toContain(`| ${d.maxSubscriptions} `);
    expect(section).toContain(`| ${d.maxPendingMessages} `);
    expect(section).toContain(`\`authTimeout\` (${seconds(d.authTimeout)})`);
  });
});
