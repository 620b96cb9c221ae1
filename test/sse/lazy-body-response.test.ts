import { describe, expect, it } from 'vitest';
import { LazyBodyResponse } from '../../src/sse/lazy-body-response.js';
import { DIRECT_SSE_SERVER, claimDirectSse, createSseResponse } from '../../src/sse/response.js';
import type { SseFields } from '../../src/sse/encoder.js';
import type { SseSink } from '../../src/sse/sse-pump.js';

/** A finite source: three events, then the end. */
async function* three(): AsyncGenerator<SseFields> {
  for (let i = 1; i <= 3; i++) yield { id: String(i), data: `event ${i}` };
}

const TEXT = ': ok\nid: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n';

/** A request from a server that claims SSE responses directly (as sluice's Node adapter). */
function directRequest(): Request {
  return Object.assign(new Request('http://x/events'), { [DIRECT_SSE_SERVER]: true });
}

function sse(): Response {
  return createSseResponse(three(), {
    keepAlive: null,
    headers: { 'x-extra': 'yes' },
    request: directRequest(),
  });
}

describe('the Response of createSseResponse', () => {
  it('is lazy only for a server that claims SSE responses directly', async () => {
    expect(sse()).toBeInstanceOf(LazyBodyResponse);
    const plain = createSseResponse(three(), { keepAlive: null });
    expect(plain).not.toBeInstanceOf(LazyBodyResponse);
    expect(await plain.text()).toBe(TEXT);
    const other = createSseResponse(three(), {
      keepAlive: null,
      request: new Request('http://x/events'),
    });
    expect(other).not.toBeInstanceOf(LazyBodyResponse);
    await other.body?.cancel();
  });

  it('is an ordinary Response to anyone who reads it through its members', async () => {
    const response = sse();
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-extra')).toBe('yes');
    expect(response.bodyUsed).toBe(false);
    expect(response.body).toBeInstanceOf(ReadableStream);
    expect(await response.text()).toBe(TEXT);
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError); // a used body, as on any Response
  });

  it('works when rewrapped, cloned or read as bytes', async () => {
    const rewrapped = new Response(sse().body, sse());
    expect(rewrapped.headers.get('x-extra')).toBe('yes');
    expect(await rewrapped.text()).toBe(TEXT);

    const original = sse();
    const copy = original.clone();
    expect(copy.headers.get('x-extra')).toBe('yes');
    const [a, b] = await Promise.all([original.text(), copy.text()]);
    expect(a).toBe(TEXT);
    expect(b).toBe(TEXT);

    const bytes = new Uint8Array(await sse().arrayBuffer());
    expect(new TextDecoder().decode(bytes)).toBe(TEXT);
  });

  it('makes no body stream when the Node path claims it, and refuses the body after', async () => {
    const response = sse();
    const start = claimDirectSse(response);
    expect(start).toBeDefined();
    expect((response as LazyBodyResponse).bodyMade).toBe(false);
    let written = '';
    const ended = new Promise<void>((resolve) => {
      const sink: SseSink = {
        write: (bytes) => ((written += new TextDecoder().decode(bytes)), true),
        writeText: (text) => ((written += text), true),
        ready: () => Promise.resolve(),
        end: (last) => {
          written += last ?? '';
          resolve();
        },
        fail: () => resolve(),
      };
      start!(sink);
    });
    await ended;
    expect(written).toBe(TEXT);
    expect((response as LazyBodyResponse).bodyMade).toBe(false);
    // Claimed: the Web body is dead, as before the body became lazy.
    await expect(response.text()).rejects.toThrow(/already claimed/);
  });

  it('cannot be claimed once its body was read', async () => {
    const response = sse();
    const reader = response.body!.getReader();
    await reader.read();
    expect(claimDirectSse(response)).toBeUndefined();
    await reader.cancel();
  });

  it('refuses a status that cannot have a body when it is created, as before', () => {
    expect(() => createSseResponse(three(), { status: 204 })).toThrow(TypeError);
  });
});
