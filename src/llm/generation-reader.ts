/**
 * One reader of a generation, as SSE fields: the initial POST response, a resume after a
 * reload (`Last-Event-ID`), or a follower in another tab. It subscribes to the generation's
 * broker channel after a cursor, so it gets every chunk after that cursor exactly once, then
 * `data: [DONE]` (or the error frame) and the end.
 *
 * It counts as a reader from construction until it ends (the stream finished, the client
 * went away and `return()` was called, or the signal aborted): the generation's grace timer
 * only starts once the last reader has ended. A plain object, not an async generator, so that
 * `return()` before the first `next()` still releases the reader.
 */
import type { SubscriptionItem } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';
import type { SseFields } from '../sse/encoder.js';
import { GEN_EVENTS, type Generation } from './generation.js';
import { openAIErrorBody } from './openai-error.js';

export interface GenerationReaderOptions {
  /** Resume after this event id; default: from the first chunk. */
  since?: string | undefined;
  /** Ends the reader (client disconnect, server shutdown). */
  signal?: AbortSignal | undefined;
  /** A detach function from an earlier `generation.attach()`, taken over by this reader. */
  detach?: (() => void) | undefined;
}

export class GenerationReader implements AsyncIterableIterator<SseFields> {
  readonly #generation: Generation;
  readonly #stop = new AbortController();
  readonly #subscription: AsyncIterator<SubscriptionItem>;
  readonly #detach: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.#end();
  #ended = false;

  constructor(generation: Generation, options: GenerationReaderOptions = {}) {
    this.#generation = generation;
    this.#detach = options.detach ?? generation.attach();
    this.#signal = options.signal;
    const since = options.since ?? generation.startId;
    this.#subscription = generation.broker
      .subscribe(generation.channel, {
        ...(since === undefined ? {} : { since }),
        signal: this.#stop.signal,
      })
      [Symbol.asyncIterator]();
    if (this.#signal?.aborted) this.#end();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<SseFields>> {
    while (!this.#ended) {
      let item: IteratorResult<SubscriptionItem>;
      try {
        item = await this.#subscription.next();
      } catch (error) {
        this.#end();
        throw error;
      }
      if (item.done) break;
      const value = item.value;
      if (value.type === 'gap') {
        // The cursor cannot be honoured exactly: say so rather than replay a partial answer.
        this.#end();
        const error = new SluiceError(
          'invalid_cursor',
          `Cannot resume generation ${this.#generation.id} after that event id (${value.reason})`,
          { status: 400 },
        );
        return { done: false, value: { data: JSON.stringify(openAIErrorBody(error)) } };
      }
      const { message } = value;
      if (message.event === GEN_EVENTS.start) continue;
      const data = typeof message.data === 'string' ? message.data : JSON.stringify(message.data);
      if (message.event === GEN_EVENTS.done || message.event === GEN_EVENTS.error) this.#end();
      return { done: false, value: { id: message.id, data } };
    }
    this.#end();
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<SseFields>> {
    this.#end();
    return { done: true, value: undefined };
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#stop.abort();
    void this.#subscription.return?.().catch(() => undefined);
    this.#detach();
  }
}
