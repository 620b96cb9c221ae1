import { SluiceError } from './errors.js';

/**
 * An optional capability of async iterators that a fan-out consumer can use to avoid one
 * promise per item: take what is ready synchronously, and be called back (synchronously,
 * from the producer) when more may be ready. A broker publishing one message to many SSE
 * subscribers then writes to every socket in one loop, as a hand-written broadcast loop
 * would, instead of resuming one async function per subscriber.
 *
 * Consumers must still treat the iterator as an ordinary async iterator when the
 * capability is absent (`isPollable`), and must not mix `poll()` with a pending `next()`.
 */
export type PollResult<T> = IteratorResult<T, undefined> | { error: unknown };

export interface PollableIterator<T> extends AsyncIterator<T, undefined> {
  /** The next result if one is ready now: an item, the end, or the error; else undefined. */
  poll(): PollResult<T> | undefined;
  /**
   * `listener` runs whenever a result may have become ready (it may find none). It is called
   * from inside the producer's call (e.g. `publish`), so it must be quick and must not throw.
   * `undefined` removes it.
   */
  onReadable(listener: (() => void) | undefined): void;
}

export function isPollable<T>(iterator: AsyncIterator<T>): iterator is PollableIterator<T> {
  return (
    typeof (iterator as Partial<PollableIterator<T>>).poll === 'function' &&
    typeof (iterator as Partial<PollableIterator<T>>).onReadable === 'function'
  );
}

/** A poll result whose error is always an Error (what `next()` then rejects with). */
export type SettledResult<T> = IteratorResult<T, undefined> | { error: Error };

/**
 * The consumer side every pollable iterator shares: at most one pending `next()`, `poll()`
 * for what is ready now, and `wake()` for the producer to hand a result to whoever waits
 * (the pending `next()`, else the `onReadable` listener). A subclass says what is ready in
 * `settle()`; a ready result costs an already-resolved promise, a wait one promise.
 */
export abstract class PollableBase<T> implements PollableIterator<T> {
  #pending:
    | { resolve: (result: IteratorResult<T, undefined>) => void; reject: (error: unknown) => void }
    | undefined;
  #readable: (() => void) | undefined;

  /** The result for a consumer if one is available now (an item, the end, or the error). */
  protected abstract settle(): SettledResult<T> | undefined;

  abstract return(): Promise<IteratorResult<T, undefined>>;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#pending) {
      return Promise.reject(new SluiceError('invalid_argument', 'next() called while pending'));
    }
    const settled = this.settle();
    if (settled)
      return 'error' in settled ? Promise.reject(settled.error) : Promise.resolve(settled);
    return new Promise((resolve, reject) => (this.#pending = { resolve, reject }));
  }

  poll(): SettledResult<T> | undefined {
    return this.#pending ? undefined : this.settle();
  }

  onReadable(listener: (() => void) | undefined): void {
    this.#readable = listener;
  }

  /** A result may be ready: settle the pending `next()`, or tell the listener. */
  protected wake(): void {
    const pending = this.#pending;
    if (!pending) {
      this.#readable?.();
      return;
    }
    const settled = this.settle();
    if (!settled) return;
    this.#pending = undefined;
    if ('error' in settled) pending.reject(settled.error);
    else pending.resolve(settled);
  }
}
