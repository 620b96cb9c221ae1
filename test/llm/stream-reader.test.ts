import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { readOpenAIStream } from '../../src/llm/openai-stream-reader.js';

const encoder = new TextEncoder();
const frame = (text: string): Uint8Array =>
  encoder.encode(
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })}\n\n`,
  );

/** A body the test writes into by hand; `cancelled` resolves with the cancel reason. */
function manualBody(): {
  body: ReadableStream<Uint8Array>;
  push: (bytes: Uint8Array) => void;
  cancelled: Promise<unknown>;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let onCancel!: (reason: unknown) => void;
  const cancelled = new Promise<unknown>((resolve) => (onCancel = resolve));
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: (reason) => onCancel(reason),
  });
  return { body, push: (bytes) => controller.enqueue(bytes), cancelled };
}

/** Counts abort listeners added and removed on a signal. */
function countedSignal(controller: AbortController): { signal: AbortSignal; live: () => number } {
  const signal = controller.signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
    live++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
    live--;
    remove(...args);
  };
  return { signal, live: () => live };
}

describe('readOpenAIStream timers and abort', () => {
  it('fails when the upstream is silent while a read waits, and cancels the body', async () => {
    const { body, push, cancelled } = manualBody();
    const events = readOpenAIStream(body, { inactivityTimeoutMs: 30 });
    push(frame('a'));
    expect(await events.next()).toEqual({ done: false, value: { type: 'content', text: 'a' } });
    const error: unknown = await events.next().catch((caught: unknown) => caught);
    expect(isSluiceError(error) && error.code).toBe('llm_upstream_error');
    expect(isSluiceError(error) && error.status).toBe(504);
    await cancelled;
  });

  it('does not count a slow consumer between reads as upstream silence', async () => {
    const { body, push } = manualBody();
    const events = readOpenAIStream(body, { inactivityTimeoutMs: 30 });
    push(frame('a'));
    expect((await events.next()).value).toEqual({ type: 'content', text: 'a' });
    await new Promise((resolve) => setTimeout(resolve, 80)); // the consumer dawdles
    push(frame('b'));
    expect((await events.next()).value).toEqual({ type: 'content', text: 'b' });
    await events.return();
  });

  it('an abort mid-read rejects with the reason, cancels the body and removes its listener', async () => {
    const { body, push, cancelled } = manualBody();
    const controller = new AbortController();
    const { signal, live } = countedSignal(controller);
    const events = readOpenAIStream(body, { signal, inactivityTimeoutMs: 60_000 });
    for (const text of ['a', 'b', 'c']) {
      push(frame(text));
      expect((await events.next()).value).toEqual({ type: 'content', text });
    }
    expect(live()).toBe(1); // one listener for the stream, not one per chunk
    const pending = events.next();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await cancelled;
    expect(live()).toBe(0);
  });
});
