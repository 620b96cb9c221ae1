/**
 * One streamed generation, decoupled from the HTTP request that started it.
 *
 * A producer task pulls events from the model and publishes each chunk to the broker
 * channel `gen:<id>`: a token's chunk as the JSON of its delta alone (readers add the
 * envelope, see `GEN_EVENTS`), the other chunks as their whole JSON text. Readers (generation-reader.ts) subscribe to that channel, so one model call
 * serves the first request, a resume after a reload and any number of followers, each
 * getting every chunk exactly once by event id.
 *
 * Memory is bounded by `maxEvents` per generation (the broker's history for the channel must
 * hold that many): past it the generation ends with `finish_reason: "length"` and the
 * model is stopped. Coalescing (`coalesceMs`) merges deltas so that at high token rates at
 * most one chunk is published per interval, which also lets long answers fit the cap.
 *
 * Ends: `completed` (finish, usage, `[DONE]`), `cancelled` (an explicit stop: finish
 * `stop` with `sluice.reason: "cancelled"`, usage, `[DONE]`), `abandoned` (no reader for
 * the grace period: the model is aborted, an error frame is left for a late resume),
 * `failed` (model error or truncation: an error frame). Usage is recorded in every case.
 */
import { canPublishSync, type Broker } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';
import { flatJson } from '../core/flat-json.js';
import { isPollable } from '../core/pollable.js';
import { ChunkBuilder, DeltaBuffer } from './chunk-builder.js';
import {
  ABANDONED_MESSAGE,
  GEN_EVENTS,
  decideOutcome,
  type GenerationOptions,
  type GenerationStatus,
  type GenerationSummary,
} from './generation-types.js';
import type { ModelEvent } from './model.js';
import { openAIErrorBody } from './openai-error.js';
import type { ChatCompletionChunk, FinishReason } from './openai-types.js';
import { OutputAssembler } from './output-assembler.js';
import { pollLoop, raceLoop, type ProducerStep } from './generation-producer.js';

export { GEN_EVENTS, type GenerationOptions, type GenerationStatus, type GenerationSummary };

/** Messages kept back from `maxEvents` for the terminal ones (flush, role, finish, usage, end). */
const TERMINAL_RESERVE = 5;

/** What the producer loop found out: how the model ended, or why it stopped. */
interface Run {
  finish: FinishReason | undefined;
  capped: boolean;
  failure: unknown;
}

/** The abort reason of a generation that ended by itself (one instance: no stack per end). */
const ENDED = new SluiceError('aborted', 'Generation ended');

export class Generation {
  readonly id: string;
  readonly broker: Broker;
  readonly channel: string;
  readonly model: string;
  /** Id of the start marker: readers "from the beginning" subscribe after it. */
  startId: string | undefined;
  /** Id of the last message (`[DONE]` or the error frame) once the generation ended. */
  terminalId: string | undefined;
  readonly ended: Promise<GenerationSummary>;
  #status: GenerationStatus = 'running';
  #stopIntent: 'cancelled' | 'abandoned' | undefined;
  /** The model gave its finish reason: the answer is whole, only usage or its end may follow. */
  #modelFinished = false;
  #readers = 0;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #published = 0;
  #lastPublish = 0;
  #resolveEnded!: (summary: GenerationSummary) => void;
  #summary: GenerationSummary | undefined;
  /** Not readonly: a finished generation lets go of its model stream (see `#end`). */
  #o: GenerationOptions;
  readonly #builder: ChunkBuilder;
  readonly #buffer = new DeltaBuffer();
  readonly #counter = new OutputAssembler({ keepText: false });

  constructor(options: GenerationOptions) {
    this.#o = options;
    this.id = options.id;
    this.broker = options.broker;
    this.channel = `gen:${options.id}`;
    this.model = options.model;
    this.#builder = new ChunkBuilder({
      id: options.id,
      model: options.model,
      created: options.created,
    });
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  get status(): GenerationStatus {
    return this.#status;
  }

  get readers(): number {
    return this.#readers;
  }

  get summary(): GenerationSummary | undefined {
    return this.#summary;
  }

  /** Publishes the start marker and launches the producer. Resolves once readers can attach. */
  async start(): Promise<void> {
    try {
      this.startId = await this.#o.broker.publish(this.channel, {
        event: GEN_EVENTS.start,
        data: { model: this.model, created: this.#o.created },
      });
    } catch (error) {
      // Nothing was published: end at once so nobody waits on `ended`, and release the model.
      this.#o.abort.abort(error);
      await this.#end(undefined, false, error).catch(() => undefined);
      throw error;
    }
    void this.#produce();
    if (this.#readers === 0) this.#armGrace();
  }

  /** Registers a reader; the returned function unregisters it (idempotent). */
  attach(): () => void {
    this.#readers++;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      this.#readers--;
      if (this.#readers === 0) this.#armGrace();
    };
  }

  /**
   * The explicit stop. True when the generation is cancelled by this call or was by an earlier
   * one (cancel is idempotent); false when it had already ended some other way.
   */
  cancel(): boolean {
    if (this.#status !== 'running' || this.#stopIntent) return this.#stopIntent === 'cancelled';
    // Too late to stop anything: no more tokens will be spent, and calling the whole answer
    // cancelled would replace its finish reason (e.g. `tool_calls`) with `stop`.
    if (this.#modelFinished) return false;
    this.#stopIntent = 'cancelled';
    this.#o.abort.abort(new SluiceError('llm_cancelled', 'The generation was cancelled'));
    return true;
  }

  /** Stops the model as if nobody came back (grace expiry, server shutdown). */
  abandon(): void {
    if (this.#status !== 'running' || this.#stopIntent) return;
    const reason = new SluiceError('llm_generation_abandoned', ABANDONED_MESSAGE);
    // After the finish the answer is whole: stop waiting for the model's tail (a shutdown
    // must not wait on it) but end as completed, so a late resume gets the answer, not an error.
    if (this.#modelFinished) return void this.#o.abort.abort(reason);
    this.#stopIntent = 'abandoned';
    this.#o.abort.abort(reason);
  }

  #armGrace(): void {
    const grace = this.#o.graceMs;
    if (this.#status !== 'running' || grace === null || this.#graceTimer) return;
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#readers === 0) this.abandon();
    }, grace);
    this.#graceTimer.unref?.();
  }

  async #produce(): Promise<void> {
    const iterator = this.#o.stream[Symbol.asyncIterator]();
    const run: Run = { finish: undefined, capped: false, failure: undefined };
    try {
      const step: ProducerStep = {
        signal: this.#o.abort.signal,
        take: (event) => this.#take(event, run),
        flushDelay: () => this.#flushDelay(),
        flush: () => this.#flush(),
      };
      if (isPollable(iterator)) await pollLoop(iterator, step);
      else await raceLoop(iterator, step);
    } catch (error) {
      run.failure = error;
    }
    // Stop the model in every case (a no-op when it already finished), then close it.
    if (!this.#o.abort.signal.aborted) this.#o.abort.abort(ENDED);
    await iterator.return?.().catch(() => undefined);
    clearTimeout(this.#graceTimer);
    await this.#end(run.finish, run.capped, run.failure).catch(() => undefined);
  }

  /**
   * One model event: true (or a promise of true) when the generation hit its event cap and
   * must stop. Deltas are published at once, or held for the coalescing interval. Not
   * `async`: with a broker that publishes synchronously a token costs no promise at all.
   */
  #take(event: ModelEvent, run: Run): boolean | Promise<boolean> {
    this.#counter.add(event);
    if (event.type === 'content' || event.type === 'tool_call') {
      this.#buffer.add(event);
      const flushed = this.#flushDelay() === 0 ? this.#flush() : undefined;
      return typeof flushed === 'object' ? flushed.then(() => this.#atCap(run)) : this.#atCap(run);
    }
    if (event.type === 'finish') {
      run.finish = event.reason;
      this.#modelFinished = true;
    }
    return false;
  }

  #atCap(run: Run): boolean {
    if (this.#published < this.#o.maxEvents - TERMINAL_RESERVE) return false;
    run.capped = true;
    return true;
  }

  /** ms to wait before the pending delta may be published; undefined when nothing is pending. */
  #flushDelay(): number | undefined {
    if (this.#buffer.size === 0) return undefined;
    const interval = this.#o.coalesceMs;
    if (interval === null || interval <= 0) return 0;
    return Math.max(0, this.#lastPublish + interval - performance.now());
  }

  /** Publishes the pending delta, if any (undefined when nothing was pending). */
  #flush(): string | Promise<string> | undefined {
    const delta = this.#buffer.take();
    if (!delta) return undefined;
    return this.#publish(GEN_EVENTS.delta, this.#builder.deltaPayload(delta));
  }

  /** The chunk JSON a reader sends for a `delta` message's data. */
  chunkOfDelta(payload: string): string {
    return this.#builder.wrapDelta(payload, this.#usageField());
  }

  #usageField(): null | undefined {
    return this.#o.includeUsage ? null : undefined;
  }

  async #publishChunk(chunk: ChatCompletionChunk): Promise<void> {
    await this.#publish(GEN_EVENTS.chunk, flatJson(JSON.stringify(chunk)));
  }

  /** The id, or a promise of it when the broker cannot publish synchronously. */
  #publish(event: string, data: string): string | Promise<string> {
    const broker = this.#o.broker;
    if (canPublishSync(broker))
      return this.#onPublished(broker.publishSync(this.channel, { event, data }));
    return broker.publish(this.channel, { event, data }).then(this.#onPublished);
  }

  /** Counts a message once the broker took it (one bound function, not a closure per publish). */
  readonly #onPublished = (id: string): string => {
    this.#published++;
    this.#lastPublish = performance.now();
    return id;
  };

  async #end(finish: FinishReason | undefined, capped: boolean, failure: unknown): Promise<void> {
    const outcome = decideOutcome({ stopIntent: this.#stopIntent, finish, capped, failure });
    const { status, error, finishReason: reason } = outcome;
    const { usage, counted } = this.#counter.usage(this.#o.stream.promptTokens);
    this.#status = status;
    this.#summary = {
      id: this.id,
      model: this.model,
      provider: this.#o.provider,
      status,
      finishReason: reason,
      usage,
      usageCounted: counted,
      created: this.#o.created,
      events: this.#published,
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
    };
    try {
      await this.#flush();
      if (error) {
        this.terminalId = await this.#publish(
          GEN_EVENTS.error,
          JSON.stringify(openAIErrorBody(error)),
        );
      } else {
        if (this.#buffer.roleOwed)
          await this.#publishChunk(
            this.#builder.delta(this.#buffer.takeRole(), this.#usageField()),
          );
        const extension = status === 'cancelled' ? { reason: 'cancelled' as const } : undefined;
        const usageField = this.#usageField();
        await this.#publishChunk(
          this.#builder.finish(reason ?? 'stop', {
            ...(usageField === null ? { usage: null } : {}),
            ...(extension ? { extension } : {}),
          }),
        );
        if (this.#o.includeUsage) await this.#publishChunk(this.#builder.usage(usage));
        this.terminalId = await this.#publish(GEN_EVENTS.done, '[DONE]');
      }
    } finally {
      this.#summary.events = this.#published;
      // Finished generations are kept for resuming; the model stream holds the upstream
      // request and response (headers, parser state) that nothing needs any more.
      this.#o = { ...this.#o, stream: releasedStream(this.#o.stream.promptTokens) };
      this.#resolveEnded(this.#summary);
      this.#o.onEnd?.(this.#summary);
    }
  }
}

/** What a finished generation keeps in place of its model stream: its prompt size only. */
function releasedStream(promptTokens: number): GenerationOptions['stream'] {
  return { promptTokens, [Symbol.asyncIterator]: endedIterator };
}

function endedIterator(): AsyncIterator<ModelEvent> {
  return { next: () => Promise.resolve({ done: true, value: undefined }) };
}
