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
