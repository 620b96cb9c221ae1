/**
 * The machinery shared by BoundedQueue and ConflatingQueue: an async single-consumer
 * queue with a hard limit and a named overflow policy.
 *
 * - 'wait': `push()` resolves once the item is in, so an awaiting producer meets
 *   backpressure. Waiting producers are admitted in call order.
 * - 'drop-oldest': the oldest queued items make room (live feeds where new beats old).
 * - 'drop-newest': the incoming item is refused (keep what the consumer has not seen).
 * - 'error': the push fails with SluiceError 'buffer_overflow'.
 * Dropped items are counted (`dropped`) and reported to `onDrop`, so a gap can be signalled.
 *
 * Ends: `close()` (producer: no more items, the consumer drains what is queued),
 * `fail(error)` (both sides get the error at once), `cancel()` (consumer: queue
 * discarded, producers get 'queue_closed'; also what `break` in `for await` does).
 */
import { SluiceError, abortReason } from '../errors.js';
import { BufferMonitor, defaultSize } from './buffer-monitor.js';
import { Fifo } from './fifo.js';

export type OverflowPolicy = 'wait' | 'drop-oldest' | 'drop-newest' | 'error';

export type QueueState = 'open' | 'closed' | 'cancelled' | 'failed';

export interface AsyncQueueOptions<T> {
  /** What a push does when the queue is full (default 'wait'). */
  overflow?: OverflowPolicy;
  /** Size of one item for the byte limit (default: binary length, string length, else 0). */
  size?: (item: T) => number;
  /** Called with each item an overflow policy dropped. */
  onDrop?: (item: T) => void;
  /** Where counts go; share one monitor between queues to aggregate them. */
  monitor?: BufferMonitor;
  /** Aborting fails the queue with the signal's reason. */
  signal?: AbortSignal;
}

export interface PushOptions {
  /** Gives up a waiting push: it rejects with the reason and the item is not queued. */
  signal?: AbortSignal;
}

/** A producer waiting for room ('wait'), and a consumer waiting for an item. */
type Waiter<T> = { item: T; bytes: number; resolve: () => void } & Rejecter & {
    detach: () => void;
  };
type Taker<T> = { resolve: (result: IteratorResult<T, undefined>) => void } & Rejecter;
type Rejecter = { reject: (error: unknown) => void };

export abstract class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #overflow: OverflowPolicy;
  readonly #size: (item: T) => number;
  readonly #onDrop: ((item: T) => void) | undefined;
  readonly #monitor: BufferMonitor;
  readonly #signal: AbortSignal | undefined;
  readonly #takers = new Fifo<Taker<T>>();
  // A Set keeps insertion order and lets an aborted push leave from the middle.
  readonly #waiters = new Set<Waiter<T>>();
  #state: QueueState = 'open';
  #failure: unknown;
  #bytes = 0;
  #dropped = 0;

  protected constructor(maxItems: number, maxBytes: number, options: AsyncQueueOptions<T>) {
    const problem =
      !(maxItems >= 1) || !(maxBytes >= 1)
        ? 'Queue limits must be at least 1 (or null for no limit)'
        : maxItems === Infinity && maxBytes === Infinity
          ? 'A queue needs a count or a size limit; both are null'
          : undefined;
    if (problem !== undefined) throw new SluiceError('invalid_argument', problem);
    this.#maxItems = maxItems;
    this.#maxBytes = maxBytes;
    this.#overflow = options.overflow ?? 'wait';
    this.#size = options.size ?? defaultSize;
    this.#onDrop = options.onDrop;
    this.#monitor = options.monitor ?? new BufferMonitor();
    this.#signal = options.signal;
    if (this.#signal?.aborted === true) {
      // Not fail(): the subclass's storage does not exist yet, and there is nothing to discard.
      this.#state = 'failed';
      this.#failure = abortReason(this.#signal);
    } else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  // Storage, supplied by the subclass. `replace` absorbs an item into a queued one (for
  // conflation) and returns the replaced item's size, or undefined when it cannot.
  protected abstract storeLength(): number;
  protected abstract storeAdd(item: T, bytes: number): void;
  protected abstract storeShift(): { item: T; bytes: number } | undefined;
  protected abstract storeClear(): void;
  protected replace(_item: T, _bytes: number): number | undefined {
    return undefined;
  }

  /** Items queued now. */
  get length(): number {
    return this.storeLength();
  }

  /** Size units queued now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Items this queue's overflow policy dropped, in total. */
  get dropped(): number {
    return this.#dropped;
  }

  /** 'open', 'closed' (draining), 'cancelled' (by the consumer) or 'failed'. */
  get state(): QueueState {
    return this.#state;
  }

  /**
   * Queues an item. Under 'wait' resolves when the item is in; under the other policies
   * settles at once (rejecting with 'buffer_overflow' under 'error').
   */
  async push(item: T, options: PushOptions = {}): Promise<void> {
    if (this.#offer(item) !== 'full') return;
    const { signal } = options;
    if (signal?.aborted === true) throw abortReason(signal);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        waiter.reject(abortReason(signal as AbortSignal));
      };
      const waiter: Waiter<T> = {
        item,
        bytes: this.#size(item),
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /**
   * Queues an item without waiting. Returns false when it was not queued: dropped by
   * 'drop-newest', or the queue is full under 'wait'. Throws under 'error' when full,
   * and on a queue that no longer accepts items.
   */
  offer(item: T): boolean {
    return this.#offer(item) === 'accepted';
  }

  #offer(item: T): 'accepted' | 'dropped' | 'full' {
    if (this.#state !== 'open') throw this.#closedError();
    const bytes = this.#size(item);
    const taker = this.#takers.shift();
    if (taker !== undefined) {
      // The consumer is already waiting, so the queue is empty: hand over directly.
      this.#monitor.recordEnqueue(bytes);
      this.#monitor.recordDequeue(bytes);
      taker.resolve({ value: item, done: false });
      return 'accepted';
    }
    // Behind waiting producers a newcomer waits too (call order), unless it conflates.
    if (this.#tryInsert(item, bytes, this.#waiters.size === 0)) return 'accepted';
    const oversize = bytes > this.#maxBytes;
    switch (this.#overflow) {
      case 'wait':
        if (oversize)
          throw overflowError(`Item of ${bytes} exceeds the queue's maxBytes ${this.#maxBytes}`);
        return 'full';
      case 'error':
        throw overflowError(`Queue full (${this.length} items, ${this.#bytes} bytes)`);
      case 'drop-oldest':
        while (!oversize && this.storeLength() > 0 && !this.#fits(bytes)) {
          const oldest = this.storeShift() as { item: T; bytes: number };
          this.#bytes -= oldest.bytes;
          this.#drop(oldest.item, oldest.bytes, true);
        }
        if (!oversize && this.#tryInsert(item, bytes)) return 'accepted';
        break;
      case 'drop-newest':
        break;
    }
    this.#drop(item, bytes, false);
    return 'dropped';
  }

  /** Inserts when it can: by replacement (conflation) or into free room. */
  #tryInsert(item: T, bytes: number, mayAdd = true): boolean {
    const replaced = this.replace(item, bytes);
    if (replaced !== undefined) {
      this.#bytes += bytes - replaced;
      this.#monitor.recordConflate(replaced, bytes);
      return true;
    }
    if (!mayAdd || !this.#fits(bytes)) return false;
    this.storeAdd(item, bytes);
    this.#bytes += bytes;
    this.#monitor.recordEnqueue(bytes);
    return true;
  }

  #fits(bytes: number): boolean {
    return this.storeLength() < this.#maxItems && this.#bytes + bytes <= this.#maxBytes;
  }

  #drop(item: T, bytes: number, wasQueued: boolean): void {
    this.#dropped += 1;
    this.#monitor.recordDrop(bytes, wasQueued);
    this.#onDrop?.(item);
  }

  /** The next item; waits while the queue is empty and open. */
  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.#state === 'failed') throw this.#failure;
    const entry = this.storeShift();
    if (entry !== undefined) {
      this.#bytes -= entry.bytes;
      this.#monitor.recordDequeue(entry.bytes);
      this.#admitWaiters();
      return { value: entry.item, done: false };
    }
    if (this.#state !== 'open') {
      this.#detachSignal();
      return { value: undefined, done: true };
    }
    return new Promise((resolve, reject) => this.#takers.push({ resolve, reject }));
  }

  /** Lets waiting producers in, oldest first, while there is room. */
  #admitWaiters(): void {
    for (const waiter of this.#waiters) {
      if (!this.#tryInsert(waiter.item, waiter.bytes)) return;
      this.#waiters.delete(waiter);
      waiter.detach();
      waiter.resolve();
    }
  }

  /** No more items; the consumer drains what is queued (waiting pushes included). */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    if (this.storeLength() === 0 && this.#waiters.size === 0) this.#endTakers();
  }

  /** Ends the queue with an error for both sides; queued items are discarded. */
  fail(error: unknown): void {
    if (this.#state === 'failed' || this.#state === 'cancelled') return;
    this.#state = 'failed';
    this.#failure = error;
    this.#discard(error);
    this.#endTakers(error);
  }

  /** The consumer is gone: queued items are discarded, producers get 'queue_closed'. */
  cancel(): void {
    if (this.#state === 'failed' || this.#state === 'cancelled') return;
    this.#state = 'cancelled';
    this.#discard(this.#closedError());
    this.#endTakers();
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: () => this.next(),
      return: async () => {
        this.cancel();
        return { value: undefined, done: true };
      },
    };
  }

  #discard(error: unknown): void {
    this.#monitor.recordDiscard(this.storeLength(), this.#bytes);
    this.storeClear();
    this.#bytes = 0;
    for (const waiter of this.#waiters) {
      waiter.detach();
      waiter.reject(error);
    }
    this.#waiters.clear();
    this.#detachSignal();
  }

  /** Ends waiting consumers: with the failure when one is given, else with done. */
  #endTakers(...failure: [unknown?]): void {
    for (let taker = this.#takers.shift(); taker !== undefined; taker = this.#takers.shift()) {
      if (failure.length > 0) taker.reject(failure[0]);
      else taker.resolve({ value: undefined, done: true });
    }
    this.#detachSignal();
  }

  #closedError(): unknown {
    if (this.#state === 'failed') return this.#failure;
    return new SluiceError('queue_closed', `The queue is ${this.#state} and accepts no more items`);
  }

  readonly #onAbort = (): void => {
    this.fail(abortReason(this.#signal as AbortSignal));
  };

  #detachSignal(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

function overflowError(message: string): SluiceError {
  return new SluiceError('buffer_overflow', message);
}
