import { SluiceError } from '../core/errors.js';
import { PollableBase } from '../core/pollable.js';
import { RingBuffer } from './ring-buffer.js';

export interface QueueIteratorOptions {
  /** Items buffered before `overflow()` runs. */
  queueLimit: number;
  /** Aborting ends iteration (the iterator returns, it does not throw). */
  signal?: AbortSignal;
  /**
   * Runs once when iteration ends for any reason: the owner unregisters the listener here.
   * It receives the iterator, so one function can serve every iterator of an owner.
   */
  onEnd?: (iterator: AsyncIterator<unknown>) => void;
  /** Start failed: the first `next()` throws it (e.g. subscribing to a closed broker). */
  error?: SluiceError;
}

/** What `queue` reads before the first item: empty, and never written to (capacity 0). */
const EMPTY_RING = new RingBuffer<never>(0);

/**
 * The push-to-pull bridge under every broker stream: the broker pushes with `enqueue()`
 * synchronously at publish time, the consumer pulls with `next()`. The queue is bounded;
 * what happens when it is full is the subclass's policy (`overflow()`, by default the stream
 * fails with `slow_consumer`). Ending — by `return()` (breaking out of `for await`), the
 * abort signal, `end()` or a failure — clears the queue, removes the abort listener and calls
 * `onEnd` exactly once, so nothing outlives the stream.
 */
export abstract class QueueIterator<T, Q = T>
  extends PollableBase<T>
  implements AsyncIterableIterator<T>
{
  /** Created on the first item: an idle subscriber holds no ring (see `queue`). */
  #queue: RingBuffer<Q> | undefined;
  readonly #queueLimit: number;
  #status: 'open' | 'failed' | 'done' = 'open';
  #error: SluiceError | undefined;
  readonly #signal: AbortSignal | undefined;
  /** Only with a signal: consumers that end iteration with `return()` pay for no listener. */
  readonly #onAbort: (() => void) | undefined;
  #onEnd: QueueIteratorOptions['onEnd'];

  constructor(options: QueueIteratorOptions) {
    super();
    if (!Number.isSafeInteger(options.queueLimit) || options.queueLimit < 0) {
      throw new RangeError(`queueLimit must be a non-negative integer, got ${options.queueLimit}`);
    }
    this.#queueLimit = options.queueLimit;
    this.#onEnd = options.onEnd;
    if (options.error) {
      this.#status = 'failed';
      this.#error = options.error;
      this.#onEnd = undefined;
    } else if (options.signal?.aborted) {
      this.#status = 'done';
      this.#onEnd = undefined;
    } else if (options.signal) {
      this.#signal = options.signal;
      this.#onAbort = () => this.end();
      this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /**
   * The bounded queue. Until the first item arrives this is a shared empty ring of capacity
   * 0, which subclasses may read (`shift`, `at`, `size`) but never fill: only `enqueue`
   * pushes, and it creates the real ring first; `overflow` only runs on the real, full one.
   */
  protected get queue(): RingBuffer<Q> {
    return this.#queue ?? EMPTY_RING;
  }

  /** Still receiving (not ended, not failed). */
  get active(): boolean {
    return this.#status === 'open';
  }

  /** Items waiting to be pulled. */
  get queued(): number {
    return this.#queue?.size ?? 0;
  }

  /** Called by the producer; never blocks. */
  enqueue(item: Q): void {
    if (this.#status !== 'open') return;
    if (!(this.#queue ??= new RingBuffer(this.#queueLimit)).push(item)) this.overflow(item);
    this.wake();
  }

  /**
   * Ends iteration: pending and future `next()` calls resolve `done`. Idempotent; a failure
   * already recorded is still thrown first.
   */
  end(): void {
    if (this.#status !== 'open') return;
    this.#status = 'done';
    this.#release();
  }

  /** Ends iteration with an error: the next `next()` throws it once, then `done`. */
  fail(error: SluiceError): void {
    if (this.#status !== 'open') return;
    this.#status = 'failed';
    this.#error = error;
    this.#release();
  }

  /**
   * The result for a consumer, if one is available now (an item, the end, or the error).
   * `next()` (core/pollable.ts) is not `async`: an item that is ready is handed out in an
   * already-resolved promise, and a waiting consumer is resolved directly with its item by
   * `wake()`. One promise per delivery instead of four matters on the fan-out path (one
   * message, many subscribers).
   */
  protected settle(): IteratorResult<T, undefined> | { error: SluiceError } | undefined {
    const error = this.#error;
    if (this.#status === 'failed' && error) {
      this.#status = 'done';
      this.#error = undefined;
      return { error };
    }
    if (this.#status === 'done') return { done: true, value: undefined };
    const item = this.take();
    return item === undefined ? undefined : { done: false, value: item };
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.end();
    this.#status = 'done'; // the consumer walked away: a pending failure no longer matters
    this.#error = undefined;
    return { done: true, value: undefined };
  }

  /** The next item to hand out, or undefined to wait for `wake()`. */
  protected abstract take(): T | undefined;

  /** The queue is full and `item` did not fit. Default policy: fail with `slow_consumer`. */
  protected overflow(item: Q): void {
    void item;
    this.fail(
      new SluiceError('slow_consumer', 'The consumer fell behind and its queue overflowed', {
        details: { queueLimit: this.queue.capacity },
      }),
    );
  }

  #release(): void {
    this.#queue = undefined;
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.(this);
    this.wake();
  }
}
