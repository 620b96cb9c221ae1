/**
 * The channels API's JSON body reader: bytes that are not UTF-8 are refused with
 * `invalid_json` (400), not decoded to U+FFFD and published altered.
 */
import { describe, expect, it } from 'vitest';
import { readJsonBody } from '../../src/server/read-body.js';

function post(body: Uint8Array<ArrayBuffer>): Request {
  return new Request('http://localhost/v1/channels/a/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
}

describe('readJsonBody', () => {
  it('refuses a body that is not valid UTF-8 instead of replacing the bad bytes', async () => {
    // {"data":"<0xff>"}: valid JSON once decoded leniently, with the byte silently lost.
    const bytes = new Uint8Array([...Buffer.from('{"data":"'), 0xff, ...Buffer.from('"}')]);
    await expect(readJsonBody(post(bytes), 1024)).rejects.toMatchObject({
      code: 'invalid_json',
    });
  });

  it('still reads UTF-8 JSON, multi-byte characters included', async () => {
    const bytes = new Uint8Array(new TextEncoder().encode('{"data":"héllo €"}'));
    await expect(readJsonBody(post(bytes), 1024)).resolves.toEqual({ data: 'héllo €' });
  });
});
