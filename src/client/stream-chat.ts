/**
 * `streamChat()`: LLM tokens from sluice's OpenAI-compatible endpoint, in the browser and
 * in Node (fetch + sluice's incremental SSE parser, so split lines and split multi-byte
 * characters are safe).
 *
 * - Iterate it for deltas (text, tool-call fragments, finish, usage); read `text`,
 *   `toolCalls`, `finishReason`, `usage` at any time, or await `result()`.
 * - `abort()` (or the `signal`, or `break`) disconnects: the server keeps generating for its
 *   grace period, so the same generation can be resumed. `cancel()` is the explicit stop:
 *   the server stops the model and the stream ends with `finish_reason: "stop"`.
 * - After a network drop (fetch failure, a body that breaks or ends before `[DONE]`) it
 *   resumes by generation id with `Last-Event-ID`, with jittered backoff: every chunk is
 *   received exactly once. Server errors (`data: {"error":…}`) are not retried.
 * - `generationId` without `body` follows an existing generation (another tab).
 */
import { Backoff, type BackoffOptions } from '../core/backoff.js';
import { SluiceError } from '../core/errors.js';
import { createParser, type SseEvent } from '../sse/parser.js';
import {
  ChatAccumulator,
  type AssembledToolCall,
  type ChatDelta,
  type ChatUsage,
} from './chat-accumulator.js';
import { Drop, errorFrom, fromErrorBody } from './stream-chat-errors.js';

export type { AssembledToolCall, ChatDelta, ChatUsage } from './chat-accumulator.js';

export const STREAM_CHAT_DEFAULTS = Object.freeze({
  baseUrl: '/v1',
  /** Resume attempts in a row without receiving anything before giving up. */
  maxResumeAttempts: 8,
  backoff: Object.freeze({ initialDelay: 250, maxDelay: 5_000 }),
  /** Largest SSE event accepted (UTF-16 units). */
  maxEventSize: 1024 * 1024,
});

export interface StreamChatOptions {
  /** The API base, e.g. `/v1` (browser) or `http://127.0.0.1:8080/v1`. */
  baseUrl?: string;
  /** The Chat Completions request; `stream: true` is forced. Omit to follow `generationId`. */
  body?: { model: string; messages: unknown[]; [key: string]: unknown };
  /** Follow or resume an existing generation. */
  generationId?: string;
  /** With `generationId`: resume after this event id (default: from the first chunk). */
  lastEventId?: string;
  /** Extra headers (e.g. `authorization`); a function is called before every request. */
  headers?: HeadersInit | (() => HeadersInit);
  signal?: AbortSignal;
  /** Automatic resume after a network drop; `null` disables it. */
  resume?: { maxAttempts?: number; backoff?: BackoffOptions } | null;
  maxEventSize?: number;
  fetch?: typeof fetch;
}

export type ChatStreamStatus =
  'connecting' | 'streaming' | 'reconnecting' | 'done' | 'aborted' | 'error';

export interface ChatResult {
  generationId: string | undefined;
  text: string;
  toolCalls: AssembledToolCall[];
  finishReason: string | undefined;
  usage: ChatUsage | undefined;
  /** Ended by `cancel()` (or another client's cancel). */
  cancelled: boolean;
  /** Ended by `abort()`, the signal or `break`: the answer may be partial. */
  aborted: boolean;
}

export function streamChat(options: StreamChatOptions): ChatStream {
  return new ChatStream(options);
}

export class ChatStream implements AsyncIterable<ChatDelta> {
  #status: ChatStreamStatus = 'connecting';
  #generationId: string | undefined;
  #lastEventId: string | undefined;
  #started = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #acc = new ChatAccumulator();
  readonly #options: StreamChatOptions;
  readonly #base: string;
  readonly #abort = new AbortController();
  readonly #done: Promise<ChatResult>;
  #settle!: { resolve: (r: ChatResult) => void; reject: (e: unknown) => void };

  constructor(options: StreamChatOptions) {
    if (!options.body && !options.generationId) {
      throw new SluiceError(
        'invalid_argument',
        'streamChat needs a request body or a generationId',
      );
    }
    this.#options = options;
    this.#base = (options.baseUrl ?? STREAM_CHAT_DEFAULTS.baseUrl).replace(/\/+$/, '');
    this.#generationId = options.generationId;
    this.#lastEventId = options.lastEventId;
    this.#done = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#done.catch(() => undefined); // surfaced by iteration or result(), never unhandled
    const signal = options.signal;
    if (signal?.aborted) this.abort();
    else signal?.addEventListener('abort', this.#onSignal, { once: true });
  }

  /** On the caller's signal, which may outlive many streams: removed once this one ends. */
  readonly #onSignal = (): void => this.abort();

  get status(): ChatStreamStatus {
    return this.#status;
  }
  get generationId(): string | undefined {
    return this.#generationId;
  }
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }
  get text(): string {
    return this.#acc.text;
  }
  get toolCalls(): AssembledToolCall[] {
    return this.#acc.toolCalls;
  }
  get finishReason(): string | undefined {
    return this.#acc.finishReason;
  }
  get usage(): ChatUsage | undefined {
    return this.#acc.usage;
  }

  /** Disconnects (the server may keep the generation for a later resume). */
  abort(): void {
    if (this.#status === 'done' || this.#status === 'error') return;
    this.#status = 'aborted';
    clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener('abort', this.#onSignal);
    this.#abort.abort(new SluiceError('aborted', 'streamChat aborted'));
  }

  /** Stops the generation on the server; the stream then ends with its finish chunk. */
  async cancel(): Promise<void> {
    const id = this.#generationId;
    if (!id) throw new SluiceError('invalid_argument', 'No generation id yet: nothing to cancel');
    const response = await this.#fetch(
      `${this.#base}/generations/${encodeURIComponent(id)}/cancel`,
      {
        method: 'POST',
      },
    );
    if (!response.ok) throw await errorFrom(response);
    await response.body?.cancel();
  }

  /** The whole answer: drains the stream unless something else is iterating it. */
  async result(): Promise<ChatResult> {
    if (!this.#started) for await (const delta of this) void delta;
    return this.#done;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChatDelta, void, undefined> {
    if (this.#started)
      throw new SluiceError('invalid_argument', 'A chat stream can be iterated only once');
    this.#started = true;
    try {
      yield* this.#run();
      if (this.#status !== 'aborted') this.#status = 'done';
      this.#settle.resolve(this.#result());
    } catch (error) {
      if (this.#abort.signal.aborted) {
        this.#settle.resolve(this.#result());
        return; // abort() ends iteration quietly, like the openai client
      }
      this.#status = 'error';
      this.#settle.reject(error);
      throw error;
    } finally {
      // Leaving early (break) is a disconnect: release the connection.
      if (this.#status !== 'done' && this.#status !== 'error') this.abort();
      this.#options.signal?.removeEventListener('abort', this.#onSignal);
      this.#settle.resolve(this.#result());
    }
  }

  async *#run(): AsyncGenerator<ChatDelta, void, undefined> {
    const resume = this.#options.resume;
    const maxAttempts =
      resume === null ? 0 : (resume?.maxAttempts ?? STREAM_CHAT_DEFAULTS.maxResumeAttempts);
    const backoff = new Backoff(resume?.backoff ?? STREAM_CHAT_DEFAULTS.backoff);
    let first = this.#options.body !== undefined && this.#options.generationId === undefined;
    for (;;) {
      try {
        const response = await this.#connect(first);
        if (response === 'finished') return;
        first = false;
        this.#status = 'streaming';
        for await (const delta of this.#read(response)) {
          backoff.reset();
          yield delta;
        }
        return;
      } catch (error) {
        if (this.#abort.signal.aborted || !(error instanceof Drop)) throw error;
        // A drop before the first response cannot be resumed: no generation exists yet.
        if (!this.#generationId || backoff.attempt >= maxAttempts) {
          throw new SluiceError('sse_network_error', 'The chat stream was interrupted', {
            cause: error.cause,
          });
        }
        first = false;
        this.#status = 'reconnecting';
        await this.#sleep(backoff.next());
        yield { type: 'resumed', attempt: backoff.attempt, lastEventId: this.#lastEventId ?? '' };
      }
    }
  }

  async #connect(first: boolean): Promise<Response | 'finished'> {
    let response: Response;
    try {
      if (first) {
        response = await this.#fetch(`${this.#base}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...this.#options.body, stream: true }),
        });
      } else {
        const id = encodeURIComponent(this.#generationId!);
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (this.#lastEventId) headers['last-event-id'] = this.#lastEventId;
        response = await this.#fetch(`${this.#base}/generations/${id}/events`, { headers });
      }
    } catch (error) {
      throw this.#abort.signal.aborted ? error : new Drop('fetch failed', { cause: error });
    }
    this.#generationId ??= response.headers.get('x-generation-id') ?? undefined;
    if (response.status === 204) return 'finished'; // our cursor was already the last event
    // A resume that meets a 5xx or 429 may succeed later; anything else is final.
    if (!first && (response.status >= 500 || response.status === 429)) {
      await response.body?.cancel();
      throw new Drop(`HTTP ${response.status}`);
    }
    if (!response.ok || !response.body) throw await errorFrom(response);
    return response;
  }

  async *#read(response: Response): AsyncGenerator<ChatDelta, void, undefined> {
    const events: SseEvent[] = [];
    const parser = createParser(
      { onEvent: (event) => events.push(event) },
      { maxEventSize: this.#options.maxEventSize ?? STREAM_CHAT_DEFAULTS.maxEventSize },
    );
    const reader = response.body!.getReader();
    let finished = false;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw this.#abort.signal.aborted ? error : new Drop('connection lost', { cause: error });
        }
        if (chunk.done) {
          finished = true;
          throw new Drop('the stream ended before [DONE]');
        }
        parser.feed(chunk.value);
        while (events.length > 0) {
          const event = events.shift()!;
          if (event.lastEventId) this.#lastEventId = event.lastEventId;
          if (event.data === '[DONE]') return;
          if (event.data === '') continue;
          const json = JSON.parse(event.data) as unknown;
          const error = (json as { error?: unknown } | null)?.error;
          if (error) throw fromErrorBody(error);
          yield* this.#acc.push(json);
        }
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  }

  async #fetch(url: string, init: RequestInit): Promise<Response> {
    const extra =
      typeof this.#options.headers === 'function' ? this.#options.headers() : this.#options.headers;
    const headers = new Headers(extra);
    new Headers(init.headers).forEach((value, key) => headers.set(key, value));
    const doFetch = this.#options.fetch ?? globalThis.fetch;
    return doFetch(url, { ...init, headers, signal: this.#abort.signal });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.#abort.signal;
      if (signal.aborted) return reject(signal.reason as Error);
      const onAbort = () => {
        clearTimeout(this.#timer);
        reject(signal.reason as Error);
      };
      this.#timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #result(): ChatResult {
    return {
      generationId: this.#generationId,
      text: this.#acc.text,
      toolCalls: this.#acc.toolCalls,
      finishReason: this.#acc.finishReason,
      usage: this.#acc.usage,
      cancelled: this.#acc.cancelled,
      aborted: this.#status === 'aborted',
    };
  }
}
