import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { readOpenAIStream } from '../../src/llm/openai-stream-reader.js';
import { OutputAssembler } from '../../src/llm/output-assembler.js';
import { FIXTURE_CASES, fixtureBytes, splitStream, type FixtureCase } from './fixture-cases.js';

interface Outcome {
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finish: string | undefined;
  usage: unknown;
  error: { code: string; message: string } | undefined;
}

async function assemble(body: ReadableStream<Uint8Array>): Promise<Outcome> {
  const assembler = new OutputAssembler();
  let error: Outcome['error'];
  try {
    for await (const event of readOpenAIStream(body)) assembler.add(event);
  } catch (caught) {
    if (!isSluiceError(caught)) throw caught;
    error = { code: caught.code, message: caught.message };
  }
  const { usage, counted } = assembler.usage(0);
  return {
    text: assembler.content,
    toolCalls: assembler.toolCalls.map((c) => ({
      id: c.id,
      name: c.function.name,
      arguments: c.function.arguments,
    })),
    finish: assembler.finishReason,
    usage: counted ? undefined : usage,
    error,
  };
}

function check(outcome: Outcome, expected: FixtureCase): void {
  expect(outcome.text).toBe(expected.text);
  expect(outcome.toolCalls).toEqual(expected.toolCalls);
  expect(outcome.finish).toBe(expected.finish);
  expect(outcome.usage).toEqual(expected.usage);
  if (expected.error) {
    expect(outcome.error?.code).toBe(expected.error.code);
    if (expected.error.message) expect(outcome.error?.message).toMatch(expected.error.message);
  } else {
    expect(outcome.error).toBeUndefined();
  }
}

describe('recorded-format stream bodies', () => {
  for (const expected of FIXTURE_CASES) {
    it(`${expected.file}: same result split at every byte offset`, async () => {
      const bytes = fixtureBytes(expected.file);
      const whole = await assemble(splitStream(bytes, []));
      check(whole, expected);
      // Compared as JSON first: thousands of runs, `expect` only to explain a mismatch.
      const reference = JSON.stringify(whole);
      let checked = 0;
      for (let offset = 1; offset < bytes.length; offset++) {
        const outcome = await assemble(splitStream(bytes, [offset]));
        if (JSON.stringify(outcome) !== reference) check(outcome, expected);
        checked++;
      }
      expect(checked).toBe(bytes.length - 1);
    });
  }

  it('same result for random multi-way splits (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FIXTURE_CASES),
        fc.array(fc.nat(), { minLength: 2, maxLength: 12 }),
        async (expected, raw) => {
          const bytes = fixtureBytes(expected.file);
          const cuts = raw.map((n) => n % (bytes.length + 1));
          check(await assemble(splitStream(bytes, cuts)), expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('one byte at a time', async () => {
    for (const expected of FIXTURE_CASES) {
      const bytes = fixtureBytes(expected.file);
      const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      check(await assemble(splitStream(bytes, cuts)), expected);
    }
  });
});
