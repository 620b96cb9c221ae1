/**
 * `BoundedQueue`: an async single-consumer FIFO limited by item count and/or size, with a
 * named overflow policy ('wait' | 'drop-oldest' | 'drop-newest' | 'error'); see
 * async-queue.ts for the policies and the ways a queue ends.
 *
 *   const queue = new BoundedQueue<Event>({ maxItems: 256, overflow: 'drop-oldest' });
 *   await queue.push(event);          // producer
 *   for await (const e of queue) ...  // consumer; break cancels the queue
 *   fromAsyncIterable(queue)          // or as a pull-based ReadableStream
 */
import { AsyncQueue, type AsyncQueueOptions } from './async-queue.js';
import { Fifo } from './fifo.js';

export interface BoundedQueueOptions<T> extends AsyncQueueOptions<T> {
  /** Most items queued at once; `null` = no count limit (then maxBytes applies). */
  maxItems?: number | null;
  /** Most size units queued at once; `null` = no size limit (then maxItems applies). */
  maxBytes?: number | null;
}

export const BOUNDED_QUEUE_DEFAULTS = Object.freeze({
  maxItems: 1024,
  maxBytes: 8 * 1024 * 1024,
  overflow: 'wait',
});

export class BoundedQueue<T> extends AsyncQueue<T> {
  readonly #items = new Fifo<{ item: T; bytes: number }>();

  constructor(options: BoundedQueueOptions<T> = {}) {
    super(
      orInfinity(options.maxItems, BOUNDED_QUEUE_DEFAULTS.maxItems),
      orInfinity(options.maxBytes, BOUNDED_QUEUE_DEFAULTS.maxBytes),
      options,
    );
  }

  protected storeLength(): number {
    return this.#items.length;
  }

  protected storeAdd(item: T, bytes: number): void {
    this.#items.push({ item, bytes });
  }

  protected storeShift(): { item: T; bytes: number } | undefined {
    return this.#items.shift();
  }

  protected storeClear(): void {
    this.#items.drain();
  }
}

/** `undefined` = the default, `null` = no limit. */
function orInfinity(value: number | null | undefined, fallback: number): number {
  if (value === null) return Number.POSITIVE_INFINITY;
  return value ?? fallback;
}
