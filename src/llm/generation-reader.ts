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
import { isPollable, type PollResult, type PollableIterator } from '../core/pollable.js';
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
  readonly #subscription: AsyncIterator<SubscriptionItem>;
  readonly #detach: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.#end();
  /** The cursor came from the client (not the default: after the start marker). */
  readonly #cursorGiven: boolean;
  #ended = false;

  constructor(generation: Generation, options: GenerationReaderOptions = {}) {
    this.#generation = generation;
    this.#detach = options.detach ?? generation.attach();
    this.#signal = options.signal;
    this.#cursorGiven = options.since !== undefined;
    const since = options.since ?? generation.startId;
    this.#subscription = generation.broker
      // No signal: `return()` ends a subscription (the Broker contract), and an
      // AbortController per reader is an EventTarget and an AbortError for nothing.
      .subscribe(generation.channel, since === undefined ? {} : { since })
      [Symbol.asyncIterator]();
    if (this.#signal?.aborted) this.#end();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    // With a pollable subscription (the memory broker's) the reader is pollable too: the SSE
    // pump then writes each chunk from inside the generation's publish, with no promise.
    const subscription = this.#subscription;
    if (isPollable(subscription)) {
      this.poll = () => this.#poll(subscription);
      this.onReadable = (listener) => subscription.onReadable(listener);
    }
  }

  poll: (() => PollResult<SseFields> | undefined) | undefined;
  onReadable: ((listener: (() => void) | undefined) => void) | undefined;

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
      if (item.done) {
        if (this.#ended) break;
        return { done: false, value: this.#cutShort() };
      }
      const fields = this.#fields(item.value);
      if (fields) return { done: false, value: fields };
    }
    this.#end();
    return { done: true, value: undefined };
  }

  /** `PollableIterator` (set when the subscription is pollable): what is ready now. */
  #poll(subscription: PollableIterator<SubscriptionItem>): PollResult<SseFields> | undefined {
    while (!this.#ended) {
      const item = subscription.poll();
      if (item === undefined) return undefined;
      if ('error' in item) {
        this.#end();
        return item;
      }
      if (item.done) return { done: false, value: this.#cutShort() };
      const fields = this.#fields(item.value);
      if (fields) return { done: false, value: fields };
    }
    this.#end();
    return { done: true, value: undefined };
  }

  /**
   * The subscription ended before the generation's last event (the broker was closed, as at
   * shutdown, dropping what this reader had not read yet): an error frame, since a clean end
   * without `[DONE]` is what the `openai` client reports as a whole answer.
   */
  #cutShort(): SseFields {
    this.#end();
    const error = new SluiceError(
      'broker_closed',
      `The stream of generation ${this.#generation.id} was closed before its end`,
      { status: 503 },
    );
    return { data: JSON.stringify(openAIErrorBody(error)) };
  }

  /** The SSE event for one subscription item; undefined for the start marker. */
  #fields(value: SubscriptionItem): SseFields | undefined {
    // The cursor cannot be honoured exactly: say so rather than replay a partial answer.
    if (value.type === 'gap') return this.#invalidCursor(value.reason);
    const { message } = value;
    if (message.event === GEN_EVENTS.start) {
      // Every id of this generation comes after its start marker: a client cursor that
      // replays the marker is another channel's id that the broker honours only because
      // it happens to be the last one published before this generation began.
      return this.#cursorGiven ? this.#invalidCursor('not one of its ids') : undefined;
    }
    const text = typeof message.data === 'string' ? message.data : JSON.stringify(message.data);
    const data = message.event === GEN_EVENTS.delta ? this.#generation.chunkOfDelta(text) : text;
    if (message.event === GEN_EVENTS.done || message.event === GEN_EVENTS.error) this.#end();
    return { id: message.id, data };
  }

  #invalidCursor(reason: string): SseFields {
    this.#end();
    return { data: JSON.stringify(openAIErrorBody(invalidCursor(this.#generation.id, reason))) };
  }

  async return(): Promise<IteratorResult<SseFields>> {
    this.#end();
    return { done: true, value: undefined };
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    void this.#subscription.return?.().catch(() => undefined);
    this.#detach();
  }
}

export function invalidCursor(generationId: string, reason: string): SluiceError {
  return new SluiceError(
    'invalid_cursor',
    `Cannot resume generation ${generationId} after that event id (${reason})`,
    { status: 400 },
  );
}

/**
 * Why `since` cannot be honoured for `generation`, or undefined when it can: history no
 * longer reaches it (a gap), or it is not one of the generation's ids (what follows it is
 * the start marker). Checked before a resume's stream starts, so the refusal is an HTTP
 * 400, which stops `EventSource`; an error frame in a 200 stream would have it reconnect
 * with the same cursor for ever. The reader checks again for a cursor that goes bad later.
 */
export async function unresumable(
  generation: Generation,
  since: string,
): Promise<string | undefined> {
  const { gap, messages } = await generation.broker.history(generation.channel, {
    since,
    limit: 1,
  });
  if (gap) return gap.reason;
  return messages[0]?.event === GEN_EVENTS.start ? 'not one of its ids' : undefined;
}
