/**
 * The bounded queue between the network reader and one `for await` consumer.
 *
 * Policy `pause-reading`: the reader asks `waitForRoom()` before each read, so while the
 * consumer lags, bytes stay in the socket and TCP flow control slows the server down.
 * Nothing is dropped, and an SSE client can always resume with Last-Event-ID if the server
 * gives up on it. The limit is checked per network chunk, so the queue holds at most
 * `limit` events plus the events of one chunk (bounded by the chunk and event size limits).
 */
import { checkCount } from '../core/check-options.js';
import { SluiceError } from '../core/errors.js';

export class EventQueue<T> {
  readonly #limit: number;
  #items: T[] = [];
  #head = 0;
  #consumer: ((result: IteratorResult<T, undefined>) => void) | undefined;
  #consumerError: ((error: unknown) => void) | undefined;
  #room: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;

  constructor(limit: number) {
    this.#limit = checkCount('maxQueuedEvents', limit, 1);
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get hasRoom(): boolean {
    return this.#ended || this.size < this.#limit;
  }

  push(item: T): void {
    if (this.#ended) return;
    const consumer = this.#consumer;
    if (consumer !== undefined) {
      this.#settleConsumer();
      consumer({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Resolves once the consumer has made room, or the queue has ended. */
  waitForRoom(): Promise<void> {
    if (this.hasRoom) return Promise.resolve();
    return new Promise((resolve) => {
      this.#room = resolve;
    });
  }

  /**
   * No more items: the consumer drains what is queued, then sees the end (or `error`).
   * With `discard`, queued items are dropped first (the client was closed by its owner).
   */
  end(options: { error?: Error | undefined; discard?: boolean } = {}): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = options.error;
    if (options.discard === true) this.#items = [];
    this.#wakeProducer();
    if (this.#consumer !== undefined && this.size === 0) this.#finish();
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.size > 0) {
      const item = this.#items[this.#head] as T;
      this.#head += 1;
      // Compact now and then so a long-lived queue does not keep consumed slots alive.
      if (this.#head >= 64 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (this.hasRoom) this.#wakeProducer();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#ended) return this.#endResult();
    // One waiting `next()` at a time, as `for await` makes them: a second one would take the
    // first one's place and leave it pending for ever, so it is refused instead.
    if (this.#consumer !== undefined) {
      return Promise.reject(new SluiceError('invalid_argument', 'next() called while pending'));
    }
    return new Promise((resolve, reject) => {
      this.#consumer = resolve;
      this.#consumerError = reject;
      this.#wakeProducer();
    });
  }

  /** The consumer's view; leaving a `for await` loop calls `onReturn` (the client closes). */
  iterator(onReturn: () => void): AsyncIterableIterator<T, undefined> {
    const iterator: AsyncIterableIterator<T, undefined> = {
      next: () => this.next(),
      return: () => {
        onReturn();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #endResult(): Promise<IteratorResult<T, undefined>> {
    const error = this.#takeError();
    return error === undefined
      ? Promise.resolve({ value: undefined, done: true })
      : Promise.reject(error);
  }

  #finish(): void {
    const resolve = this.#consumer;
    const reject = this.#consumerError;
    this.#settleConsumer();
    const error = this.#takeError();
    if (error === undefined) resolve?.({ value: undefined, done: true });
    else reject?.(error);
  }

  /** The end error is thrown once; later calls just report done. */
  #takeError(): Error | undefined {
    const error = this.#error;
    this.#error = undefined;
    return error;
  }

  #settleConsumer(): void {
    this.#consumer = undefined;
    this.#consumerError = undefined;
  }

  #wakeProducer(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }
}
