import { describe, expect, it } from 'vitest';
import { streamChat } from '../../src/client/stream-chat.js';
import { isSluiceError } from '../../src/core/errors.js';
import { FIXTURE_CASES, fixtureBytes, splitStream, type FixtureCase } from './fixture-cases.js';

/** streamChat() over a canned body: a fetch that answers the fixture cut at `cuts`. */
async function assemble(bytes: Uint8Array, cuts: number[]) {
  const fakeFetch = (async () =>
    new Response(splitStream(bytes, cuts), {
      headers: { 'content-type': 'text/event-stream' },
    })) as typeof fetch;
  const chat = streamChat({
    baseUrl: 'http://fixtures.invalid/v1',
    body: { model: 'm', messages: [] },
    fetch: fakeFetch,
  });
  let error: string | undefined;
  try {
    await chat.result();
  } catch (caught) {
    if (!isSluiceError(caught)) throw caught;
    error = caught.code;
  }
  return {
    text: chat.text,
    toolCalls: chat.toolCalls.map((c) => ({
      id: c.id,
      name: c.function.name,
      arguments: c.function.arguments,
    })),
    finish: chat.finishReason,
    usage: chat.usage,
    error,
  };
}

/** The client's view of a fixture's ending: no generation id here, so no resume. */
function expectedError(expected: FixtureCase): string | undefined {
  if (!expected.error) return undefined;
  // A body that ends without [DONE] is a network drop to the client; an error frame keeps its code.
  return expected.error.code === 'llm_upstream_truncated' ? 'sse_network_error' : 'internal_error';
}

describe('streamChat() over recorded-format bodies', () => {
  for (const expected of FIXTURE_CASES) {
    it(`${expected.file}: same text and tool calls at every byte split`, async () => {
      const bytes = fixtureBytes(expected.file);
      const whole = await assemble(bytes, []);
      expect(whole.text).toBe(expected.text);
      expect(whole.toolCalls).toEqual(expected.toolCalls);
      expect(whole.error).toBe(expectedError(expected));
      if (expected.usage) expect(whole.usage).toEqual(expected.usage);
      if (!expected.error) expect(whole.finish).toBe(expected.finish);
      const reference = JSON.stringify(whole);
      let mismatches = 0;
      for (let offset = 1; offset < bytes.length; offset++) {
        const outcome = await assemble(bytes, [offset]);
        if (JSON.stringify(outcome) !== reference) {
          mismatches++;
          expect(outcome).toEqual(whole);
        }
      }
      expect(mismatches).toBe(0);
    });
  }
});
